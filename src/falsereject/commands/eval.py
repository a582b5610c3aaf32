"""``falsereject eval``: generate with a model, judge, score, report.

With no --model and no --dataset it runs the embedded default (a small registry-installed
model) on the shipped sample's benign and harmful configs, two prompts per category.

A rerun of the same command resumes its run folder. The folder records the run's settings
(run.json): a run with other settings (model, server, generation params, system prompt,
prompts) gets its own default folder, and is refused in an --output-dir that holds another
run unless --new-run puts it beside that one. Another judge reuses the generations.
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
        "--output-dir",
        default=None,
        help="run folder (default: runs/<model>/<dataset>-<config>-<split>-<hash of the run's settings>)",
    )
    p.add_argument(
        "--new-run",
        action="store_true",
        help="if --output-dir holds a run made with other settings, run beside it in <output-dir>-<hash> "
        "(default: refuse)",
    )
    p.add_argument(
        "--limit", type=_positive_int, default=None, help="evaluate only the first N prompts (N >= 1)"
    )
    p.add_argument(
        "--per-category",
        type=_per_category,
        default=None,
        help="keep K prompts per category (K >= 1): K, or per config like test=2,harmful=1",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="local-model batch size (transformers provider)",
    )
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    add_backend_arguments(p, prefix="judge-")
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _per_category(text: str) -> int | dict[str, int]:
    try:
        if "=" not in text:
            return _positive_int(text)
        return {
            k.strip(): _positive_int(v.strip()) for k, v in (item.split("=", 1) for item in text.split(","))
        }
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected K or CONFIG=K,... with each K a whole number >= 1; got {text!r}"
        ) from None


def run(args) -> int:
    demo = args.model is None and args.dataset is None
    max_tokens = args.max_tokens if args.max_tokens is not None else (DEMO_MAX_TOKENS if demo else 256)
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
    per_category = args.per_category
    if per_category is None and demo:
        per_category = {k: v for k, v in DEMO_PER_CATEGORY.items() if k in configs}
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
        per_category=per_category,
        max_tokens=max_tokens,
        new_run=args.new_run,
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
    selection = report["selection"]
    if selection["evaluated"] < selection["available"]:
        print(f"evaluated {selection['evaluated']} of {selection['available']} prompts (--limit)")
    for side in ("benign", "harmful"):
        counts = (report["scores"].get(side) or {}).get("counts")
        if counts:
            print(f"{side} labels: " + ", ".join(f"{k}={counts.get(k, 0)}" for k in LABELS))
    t = report["timings"]
    print(f"generation {t['generation_s']} s, judging {t['judge_s']} s; usage: {report['usage']}")
    print(f"report: {report['output_dir']}/report.md (chart.png, responses.jsonl, report.json)")
    return 0
