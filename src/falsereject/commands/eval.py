"""``falsereject eval``: generate with a model, judge, score, report.

With no --model and no --dataset it runs the embedded default (a small registry-installed
model) on the shipped sample's benign and harmful configs, two prompts per category.
"""

from __future__ import annotations

import argparse
import json

from falsereject.evaluation.harness import EvalConfig, run_eval
from falsereject.evaluation.report import summary_table
from falsereject.judge import DEFAULT_JUDGE, JUDGES
from falsereject.judge.base import LABELS
from falsereject.llm import add_backend_arguments, backend_config_from_arguments

#: the demo (no --model, no --dataset): 2 benign + 1 harmful prompt per category, short
#: answers (the keyword judge reads openings), about 3 minutes on 2 CPU cores
DEMO_PER_CATEGORY = {"test": 2, "harmful": 1}
DEMO_MAX_TOKENS = 64
LOCAL_BATCH_SIZE = 32


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a model's over-refusal (and safety) on a dataset", description=__doc__
    )
    add_backend_arguments(p)
    p.add_argument("--dataset", default=None, help="dataset folder or Hub id (default: the shipped sample)")
    p.add_argument(
        "--config",
        default=None,
        help="dataset config(s), comma-separated: test, harmful (default: test; demo: test,harmful)",
    )
    p.add_argument("--split", default="test")
    p.add_argument("--revision", default=None, help="dataset revision (Hub)")
    p.add_argument(
        "--judge",
        default=DEFAULT_JUDGE,
        choices=JUDGES,
        help=f"the judge: {', '.join(JUDGES)} (default: {DEFAULT_JUDGE}, the package's default judge)",
    )
    p.add_argument(
        "--output-dir", default=None, help="run folder (default: runs/<model>/<dataset>-<config>-<split>)"
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N prompts")
    p.add_argument(
        "--per-category",
        type=_per_category,
        default=None,
        help="keep K prompts per category: K, or per config like test=2,harmful=1",
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="local-model batch size (transformers provider)"
    )
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    add_backend_arguments(p, prefix="judge-")
    p.set_defaults(func=run)


def _per_category(text: str) -> int | dict[str, int]:
    try:
        if "=" not in text:
            return int(text)
        return {k.strip(): int(v) for k, v in (item.split("=", 1) for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K or CONFIG=K,...; got {text!r}") from None


def run(args) -> int:
    demo = args.model is None and args.dataset is None
    max_tokens = args.max_tokens or (DEMO_MAX_TOKENS if demo else 256)
    model = backend_config_from_arguments(args, generation={"temperature": 0.0})
    if args.batch_size:
        model.batch_size = args.batch_size
        model.max_concurrency = max(model.max_concurrency, args.batch_size)
    elif model.provider == "transformers":
        model.batch_size = LOCAL_BATCH_SIZE
        model.max_concurrency = max(model.max_concurrency, LOCAL_BATCH_SIZE)
    judge_model = (
        backend_config_from_arguments(args, prefix="judge_")
        if args.judge_model or args.judge_base_url
        else None
    )
    configs = [
        c.strip() for c in (args.config or ("test,harmful" if demo else "test")).split(",") if c.strip()
    ]
    config = EvalConfig(
        model=model,
        dataset=args.dataset,
        configs=configs,
        split=args.split,
        revision=args.revision,
        judge=args.judge,
        judge_model=judge_model,
        output_dir=args.output_dir,
        limit=args.limit,
        per_category=args.per_category or (DEMO_PER_CATEGORY if demo else None),
        max_tokens=max_tokens,
    )
    report = run_eval(config)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print()
    print(f"# {report['model']['name']}")
    if report["model"].get("note"):
        print(f"({report['model']['note']})")
    print(summary_table(report))
    for side in ("benign", "harmful"):
        counts = (report["scores"].get(side) or {}).get("counts")
        if counts:
            print(f"{side} labels: " + ", ".join(f"{k}={counts.get(k, 0)}" for k in LABELS))
    t = report["timings"]
    print(f"generation {t['generation_s']} s, judging {t['judge_s']} s; usage: {report['usage']}")
    print(f"report: {report['output_dir']}/report.md (chart.png, responses.jsonl, report.json)")
    return 0
