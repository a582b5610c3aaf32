"""``falsereject eval``: generate with a model, judge, score, report.

With no --model and no --dataset it runs the embedded default (a small registry-installed
model) on the shipped sample's benign and harmful configs, two prompts per category.

--benchmark NAME[,NAME...] runs named benchmarks (`falsereject benchmarks` lists them), one
run folder per benchmark; --dataset DIR then reads the benchmark from a local copy of its
repository (several: NAME=DIR,NAME=DIR). A --dataset without a registry entry can be mapped
by hand with --prompt-column, --label-column, --harmful-values and --category-column.

A rerun of the same command resumes its run folder. The folder records the run's settings
(run.json): a run with other settings (model, server, generation params, system prompt,
prompts) gets its own default folder, and is refused in an --output-dir that holds another
run unless --new-run puts it beside that one. Another judge reuses the generations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from falsereject.errors import UserError
from falsereject.evaluation.benchmarks import benchmark_names, get_benchmark
from falsereject.evaluation.harness import EvalConfig, run_eval
from falsereject.evaluation.report import summary_table
from falsereject.evaluation.selection import select
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
    p.add_argument(
        "--benchmark",
        default=None,
        help="named benchmark(s), comma-separated (`falsereject benchmarks` lists them); one run per benchmark",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="dataset folder or Hub id (default: the shipped sample); with --benchmark: a local copy of the "
        "benchmark's repository (DIR, or NAME=DIR,NAME=DIR for several)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="dataset config(s), comma-separated: test, harmful (default: test; demo: test,harmful)",
    )
    p.add_argument("--split", default=None, help="dataset split (default: test)")
    p.add_argument(
        "--revision", default=None, help="dataset revision (Hub; with --benchmark: instead of the registry's)"
    )
    p.add_argument("--prompt-column", default=None, help="--dataset: the column holding the prompt")
    p.add_argument(
        "--label-column",
        default=None,
        help="--dataset: the column that says which prompts are harmful (see --harmful-values)",
    )
    p.add_argument(
        "--harmful-values",
        default=None,
        type=_values,
        help="--dataset: values of --label-column that mark a harmful prompt, comma-separated (others are "
        "benign; default: harmful/unsafe/toxic vs benign/safe/harmless)",
    )
    p.add_argument(
        "--category-column",
        default=None,
        help="--dataset: the column holding the category (default: category)",
    )
    p.add_argument(
        "--judge",
        default=DEFAULT_JUDGE,
        choices=JUDGES,
        help=f"the judge: {', '.join(JUDGES)} (default: {DEFAULT_JUDGE}, the package's default judge)",
    )
    p.add_argument(
        "--output-dir",
        default=None,
        help="run folder (default: runs/<model>/<dataset>-<config>-<split>-<hash of the run's settings>, or "
        "runs/<model>/<benchmark>-<hash>); with several benchmarks, one folder per benchmark inside it",
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
        help="keep K prompts per category of each side (K >= 1): K, or per config like test=2,harmful=1",
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


def _values(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected VALUE[,VALUE...], got {text!r}")
    return values


def _local_copies(dataset: str | None, names: list[str]) -> dict[str, str | None]:
    """Per benchmark the local copy to read (None: its source), from --dataset."""
    if dataset is None:
        return dict.fromkeys(names)
    if "=" in dataset:
        copies = {}
        for item in dataset.split(","):
            name, sep, folder = item.partition("=")
            if not sep or not folder.strip():
                raise UserError(f"--dataset {dataset!r}: expected DIR, or NAME=DIR,NAME=DIR")
            copies[get_benchmark(name).name] = folder.strip()
        extra = sorted(set(copies) - set(names))
        if extra:
            raise UserError(f"--dataset names {', '.join(extra)}, which --benchmark does not run")
        return {n: copies.get(n) for n in names}
    sources = {get_benchmark(n).source for n in names}
    if len(sources) > 1:
        raise UserError(
            f"--dataset {dataset!r} is one folder but the benchmarks {', '.join(names)} come from different "
            "repositories: give each its copy with --dataset NAME=DIR,NAME=DIR"
        )
    return dict.fromkeys(names, dataset)


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
    demo = args.model is None and args.dataset is None and args.benchmark is None
    max_tokens = args.max_tokens if args.max_tokens is not None else (DEMO_MAX_TOKENS if demo else 256)
    model = backend_config_from_arguments(args, generation={"temperature": 0.0})
    if args.provider is None and model.model == "embedded" and model.provider == "onnx":
        # An eval is batch work. ONNX Runtime GenAI runs one generator per answer (its padded
        # batches change answers), and on a 2-core CPU `transformers` in batches of 32 gets
        # through more tokens per second than int8 ONNX does with 8 answers in turn (12.7 tok/s
        # at batch 8 vs 11.5: benchmarks/bench_backends.py); ONNX is for single answers.
        model.provider = "transformers"
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
    common = {
        "model": model,
        "revision": args.revision,
        "judge": args.judge,
        "judge_model": judge_model,
        "limit": args.limit,
        "per_category": args.per_category,
        "max_tokens": max_tokens,
        "new_run": args.new_run,
    }
    if args.benchmark is not None:
        configs = _benchmark_configs(args, common)
    else:
        names = args.config or ("test,harmful" if demo else "test")
        configs = [c.strip() for c in names.split(",") if c.strip()]
        per_category = args.per_category
        if per_category is None and demo:
            per_category = {k: v for k, v in DEMO_PER_CATEGORY.items() if k in configs}
        configs = [
            EvalConfig(
                **{**common, "per_category": per_category},
                dataset=args.dataset,
                configs=configs,
                split=args.split or "test",
                output_dir=args.output_dir,
                prompt_column=args.prompt_column,
                label_column=args.label_column,
                harmful_values=args.harmful_values,
                category_column=args.category_column,
            )
        ]
    # every benchmark's prompts are read (and checked) before the first is generated: a bad
    # column or an unreachable source in the last one must not surface after hours of work
    selections = [select(config) for config in configs] if len(configs) > 1 else [None]
    reports = []
    for config, selected in zip(configs, selections, strict=True):
        report = run_eval(config, selected)
        reports.append(report)
        if not args.json:
            _print(report)
    if args.json:
        shown = reports[0] if len(reports) == 1 else {r["benchmark"]["name"]: r for r in reports}
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    elif len(reports) > 1:
        folders = " ".join(r["output_dir"] for r in reports)
        print(f"\none run per benchmark; compare them: falsereject leaderboard {folders}")
    return 0


def _benchmark_configs(args, common: dict) -> list[EvalConfig]:
    """One EvalConfig per --benchmark name."""
    for flag, value in (("--config", args.config), ("--split", args.split)):
        if value is not None:
            raise UserError(
                f"{flag} does not go with --benchmark: a benchmark names its own configs and split "
                "(`falsereject benchmarks`); run the folder with --dataset alone to choose them"
            )
    names = benchmark_names(args.benchmark)
    copies = _local_copies(args.dataset, names)
    configs = []
    for name in names:
        out = args.output_dir
        if out is not None and len(names) > 1:
            out = str(Path(out) / name)
        configs.append(
            EvalConfig(
                **common,
                benchmark=name,
                dataset=copies[name],
                output_dir=out,
                prompt_column=args.prompt_column,
                label_column=args.label_column,
                harmful_values=args.harmful_values,
                category_column=args.category_column,
            )
        )
    return configs


def _print(report: dict) -> None:
    print()
    bench = report.get("benchmark")
    title = f" — {bench['title']}" if bench and bench.get("name") != "custom" else ""
    print(f"# {report['model']['name']}{title}")
    if report["model"].get("note"):
        print(f"({report['model']['note']})")
    if bench and bench.get("citation"):
        print(f"cite: {bench['citation']}")
    print(summary_table(report))
    selection = report["selection"]
    if selection["evaluated"] < selection["available"]:
        print(f"evaluated {selection['evaluated']} of {selection['available']} prompts (--limit)")
    for side in ("benign", "harmful", "controversial"):
        counts = (report["scores"].get(side) or {}).get("counts")
        if counts and report["scores"][side].get("n"):
            print(f"{side} labels: " + ", ".join(f"{k}={counts.get(k, 0)}" for k in LABELS))
    t = report["timings"]
    print(f"generation {t['generation_s']} s, judging {t['judge_s']} s; usage: {report['usage']}")
    print(f"report: {report['output_dir']}/report.md (chart.png, responses.jsonl, report.json)")
