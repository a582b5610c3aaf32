"""``falsereject leaderboard RUN_DIR...``: one table (markdown + CSV) and one plot over runs."""

from __future__ import annotations

from falsereject.evaluation.compare import leaderboard


def register(sub) -> None:
    p = sub.add_parser(
        "leaderboard", help="merge eval runs into one ranked table and plot", description=__doc__
    )
    p.add_argument("runs", nargs="+", help="eval run folders")
    p.add_argument("--output-dir", default="runs/leaderboard")
    p.set_defaults(func=run)


def run(args) -> int:
    paths = leaderboard(args.runs, args.output_dir)
    print(paths["markdown"].read_text())
    print(f"written: {paths['markdown']}, {paths['csv']}, {paths['plot']}")
    return 0
