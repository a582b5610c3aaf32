"""Screenshots of the Space for its README, at 1366x768 and 390 px wide, by headless Chromium.

    python spaces/screenshots.py                          # launches the Space (no model load)
    python spaces/screenshots.py --url http://127.0.0.1:7860/  # or shoots a running one

The page shown is the first view a visitor gets: the precomputed comparison of the first
example, judged, with the colour key and the chart. Playwright drives the system `chromium`
(Debian's package); its own browser downloads are never used.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPACE = HERE / "falsereject_demo"
SIZES = {"space-1366x768.png": (1366, 768, False), "space-390.png": (390, 844, True)}


def shoot(url: str, out_dir: Path, chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, (width, height, full) in SIZES.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url, wait_until="domcontentloaded", timeout=120_000)
                page.wait_for_function(
                    "document.querySelectorAll('#fr-left-verdict .fr-badge, #fr-right-verdict .fr-badge').length === 2",
                    timeout=120_000,
                )
                page.wait_for_timeout(800)  # fonts and layout settle
                page.screenshot(path=str(out_dir / name), full_page=full)
                written.append(out_dir / name)
                page.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running Space (default: launch one here)")
    parser.add_argument("--config", default=str(SPACE / "config.yaml"), help="the Space's YAML")
    parser.add_argument("--out", type=Path, default=SPACE / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: no `chromium` on PATH: install Debian's chromium (apt-get install chromium)")
    demo = None
    url = args.url
    if url is None:
        from falsereject.errors import UserError
        from falsereject.space import SpaceApp
        from falsereject.testing import free_port

        try:
            app = SpaceApp.from_config(args.config)
        except UserError as exc:
            sys.exit(f"error: {exc}")
        demo = app.build()
        port = free_port()
        demo.queue(**app.queue_kwargs()).launch(
            server_name="127.0.0.1",
            server_port=port,
            prevent_thread_lock=True,
            quiet=True,
            **app.launch_kwargs(),
        )
        url = f"http://127.0.0.1:{port}/"
    try:
        for path in shoot(url, args.out, chromium):
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    finally:
        if demo is not None:
            demo.close()


if __name__ == "__main__":
    main()
