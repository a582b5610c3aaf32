"""The Space's timings on this machine, as a visitor meets them.

    python benchmarks/bench_space.py [--config spaces/falsereject_demo/config.yaml] [--prompts 3]

Launches the Space as ``spaces/falsereject_demo/app.py`` does (models loaded, speed probe),
then measures:

1. start-up: loading the models and the judge, and the speed probe (the measured speed and
   the token budget it gives);
2. time to the first judged view: a fresh headless Chromium page (system ``chromium``), from
   navigation to both verdict badges on screen (the precomputed comparison), ``--views`` times;
3. live prompts (``--prompts`` of the sample's benign prompts that are not examples), through
   ``gradio_client``: time to the first streamed piece and to the finished, judged comparison,
   with the budget each got and whether an answer was cut.

Prints one JSON object (with the load average before and after: other work on the machine
slows every number) and a Markdown table for the Space README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from falsereject.dataset import REPO_ROOT, load_rows  # noqa: E402

CONFIG = REPO_ROOT / "spaces" / "falsereject_demo" / "config.yaml"
BADGES = "document.querySelectorAll('#fr-left-verdict .fr-badge, #fr-right-verdict .fr-badge').length === 2"


def first_views(url: str, n: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("error: no `chromium` on PATH (apt-get install chromium)")
    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(n):
            page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
            started = time.perf_counter()
            page.goto(url, wait_until="commit", timeout=120_000)
            page.wait_for_function(BADGES, timeout=120_000, polling=20)
            times.append(round(time.perf_counter() - started, 2))
            page.context.close()
        browser.close()
    return times


def live(url: str, prompt: str) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    started = time.perf_counter()
    job = client.submit(prompt, api_name="/compare")
    first = None
    while not job.done():
        outs = job.outputs()
        if first is None and outs and any(o not in ("…", "", None) for o in outs[-1][2:4]):
            first = time.perf_counter() - started
        time.sleep(0.05)
    final = job.result()
    total = time.perf_counter() - started
    status, verdicts = final[0], final[4:6]
    return {
        "prompt": prompt[:60],
        "first_piece_s": round(first or total, 1),
        "finished_s": round(total, 1),
        "cut": ["Provisional" in v for v in verdicts],
        "status": status.split(">")[-2].split("<")[0] if ">" in status else status,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--views", type=int, default=3, help="fresh page loads to time")
    parser.add_argument("--prompts", type=int, default=3, help="live prompts to time")
    args = parser.parse_args(argv)

    from falsereject.space import SpaceApp
    from falsereject.testing import free_port

    load_before = os.getloadavg()
    started = time.perf_counter()
    app = SpaceApp.from_config(args.config)
    app.warm_up()
    startup = time.perf_counter() - started
    demo = app.build()
    port = free_port()
    demo.queue(**app.queue_kwargs()).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_kwargs()
    )
    url = f"http://127.0.0.1:{port}/"
    speeds = [m.speed for m in app.meters]
    result = {
        "startup_s": round(startup, 1),
        "probe_tok_per_s": [round(s.tokens_per_s, 2) if s else None for s in speeds],
        "probe_first_token_s": [round(s.first_token_s, 1) if s else None for s in speeds],
        "budget_tokens": min(m.max_tokens() for m in app.meters),
        "time_budget_s": app.config.time_budget,
        "cached_answers": len(app.cached),
    }
    try:
        result["first_view_s"] = first_views(url, args.views)
        examples = {ex.prompt for ex in app.bank.examples}
        rows, _ = load_rows(None, "test", "test")
        picks = [r["prompt"] for r in rows if r["prompt"] not in examples][:: max(1, len(rows) // 20)]
        result["live"] = [live(url, p) for p in picks[: args.prompts]]
        result["budget_tokens_after"] = min(m.max_tokens() for m in app.meters)
        result["tok_per_s_after"] = [round(m.speed.tokens_per_s, 2) if m.speed else None for m in app.meters]
    finally:
        demo.close()
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| start-up (models, judge, speed probe) | {result['startup_s']} s |")
    print(
        f"| first judged view (page load to both labels), {args.views} loads | {result['first_view_s']} s |"
    )
    for run in result.get("live", []):
        print(
            f"| live comparison: first piece / finished | {run['first_piece_s']} s / {run['finished_s']} s"
            f" (cut: {run['cut']}) |"
        )
    print(f"| load average before / after | {result['loadavg_before']} / {result['loadavg_after']} |")


if __name__ == "__main__":
    main()
