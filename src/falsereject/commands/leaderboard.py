"""``falsereject leaderboard RUN_DIR...``: runs merged into one table and one plot per benchmark.

One run folder per (model, benchmark): the table has a row per model and a column group per
benchmark (benign compliance, benign USR, harmful USR, 95% CIs), then a ranked table and a
compliance-vs-USR plot per benchmark. With a run of the ``falsereject`` benchmark, the 29
models of the FalseReject paper (Zhang et al., 2025, arXiv:2505.08054) are shown beside yours
as cited reference points (--reference always|never to choose).
"""

from __future__ import annotations

from falsereject.evaluation.leaderboard import REFERENCE_MODES, leaderboard


def register(sub) -> None:
    p = sub.add_parser(
        "leaderboard", help="merge eval runs into one table and a plot per benchmark", description=__doc__
    )
    p.add_argument("runs", nargs="+", help="eval run folders")
    p.add_argument("--output-dir", default="runs/leaderboard")
    p.add_argument(
        "--reference",
        default="auto",
        choices=REFERENCE_MODES,
        help="the FalseReject paper's 29 models as reference points (auto: with a run of the "
        "falsereject benchmark)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    paths = leaderboard(args.runs, args.output_dir, reference=args.reference)
    print(paths["markdown"].read_text())
    plots = ", ".join(str(p) for p in paths["plots"].values() if p)
    print(f"written: {paths['markdown']}, {paths['csv']}, {paths['plot']}, {plots}")
    return 0
