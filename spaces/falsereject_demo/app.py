"""FalseReject Space: the same prompt to two models side by side, each answer judged live.

    python spaces/falsereject_demo/app.py                       # config.yaml next to this file
    python spaces/falsereject_demo/app.py --config my.yaml --port 7861
    FALSEREJECT_SPACE_RIGHT_BASE_URL=http://127.0.0.1:8000/v1 \\
    FALSEREJECT_SPACE_RIGHT_PROVIDER=openai FALSEREJECT_SPACE_RIGHT_MODEL=my-model \\
        python spaces/falsereject_demo/app.py

All logic lives in ``falsereject.space``; see the README next to this file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        default=os.environ.get("FALSEREJECT_SPACE_CONFIG") or str(HERE / "config.yaml"),
        help="Space YAML (default: $FALSEREJECT_SPACE_CONFIG or config.yaml next to app.py)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    parser.add_argument("--host", default=None, help="default: $GRADIO_SERVER_NAME or 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: $GRADIO_SERVER_PORT or 7860")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from falsereject.errors import UserError
    from falsereject.space import SpaceApp

    try:
        app = SpaceApp.from_config(args.config, args.set)
        if app.config.preload:
            app.warm_up()
    except UserError as exc:
        sys.exit(f"error: {exc}")
    demo = app.build()
    demo.queue(**app.queue_kwargs()).launch(
        server_name=args.host, server_port=args.port, **app.launch_kwargs()
    )


if __name__ == "__main__":
    main()
