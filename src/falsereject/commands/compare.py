"""``falsereject compare RUN_A RUN_B``: what changed from A to B (e.g. base -> fine-tuned)."""

from __future__ import annotations

import json

from falsereject.evaluation.compare import compare


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="per-category differences and prompts whose label changed", description=__doc__
    )
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--output", default=None, help="write the markdown here")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    p.set_defaults(func=run)


def run(args) -> int:
    result = compare(args.run_a, args.run_b, args.output)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "markdown"}, indent=2, ensure_ascii=False))
    else:
        print(result["markdown"])
    return 0
