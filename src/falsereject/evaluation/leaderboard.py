"""``falsereject leaderboard``: finished runs merged into one table and one plot per benchmark.

Each run folder is one (model, benchmark). The runs are grouped by benchmark (the registry
name a run records; a run of the shipped sample without ``--benchmark`` counts as
``falsereject-sample``; any other dataset by its folder or Hub name), in registry order.

Written to the output folder:

    leaderboard.md    one table, a row per model and a column group per benchmark (benign
                      compliance, benign USR, harmful USR), then per benchmark its ranked
                      table (sorted by benign compliance), its source and commit, its plot
    leaderboard.csv   one line per (model, benchmark, metric): value and 95% CI
    leaderboard-<benchmark>.png   compliance (x) vs USR (y) on the benign prompts, 95% CIs
    leaderboard.png   the same plots side by side

The 29 models of the FalseReject paper (:func:`paper_reference`, shipped in
``falsereject/data/reference`` with their citation) are reference points on the
``falsereject`` benchmark's plot and rows of its tables, each marked as the paper's and cited:
shown by default when a run of the ``falsereject`` benchmark is among the runs. They were
measured with the paper's LLM judge on the full test set.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from falsereject.dataset import SAMPLE_DIR
from falsereject.errors import UserError
from falsereject.evaluation.benchmarks import load_registry
from falsereject.evaluation.compare import load_run
from falsereject.evaluation.report import fmt, md_code, md_text, plain_text
from falsereject.files import read_rows

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
REFERENCE_CSV = REFERENCE_DIR / "falsereject_paper_29_models.csv"
#: how the reference points are cited wherever they are shown
REFERENCE_CITATION = (
    "Zhang, Xu, Wu and Reddy (2025). FalseReject: A Resource for Improving Contextual Safety and "
    "Mitigating Over-Refusals in LLMs via Structured Reasoning. arXiv:2505.08054 (benchmark figure; "
    "the paper's LLM judge)"
)
REFERENCE_BENCHMARK = "falsereject"
METRICS = ("compliance", "usr", "refusal", "degenerate", "harmful_usr")
REFERENCE_MODES = ("auto", "always", "never")


def paper_reference() -> list[dict[str, Any]]:
    """The paper's 29 models: ``model``, ``reasoning``, ``compliance``, ``usr`` (benign side)."""
    out = []
    for row in read_rows(REFERENCE_CSV, "reference data"):
        out.append(
            {
                "model": row["model"],
                "reasoning": str(row["reasoning"]).strip().lower() == "true",
                "compliance": float(row["compliance_rate"]),
                "usr": float(row["useful_safety_rate"]),
            }
        )
    return out


def benchmark_of(report: dict[str, Any]) -> str:
    """The benchmark a run belongs to in the leaderboard (see the module docstring)."""
    bench = report.get("benchmark") or {}
    if bench.get("name") and bench["name"] != "custom":
        return bench["name"]
    paths = {str(d.get("path")) for d in report.get("datasets") or []}
    if not paths or paths <= {str(SAMPLE_DIR), "sample", "None"}:
        return "falsereject-sample"
    return plain_text(sorted(paths)[0].rstrip("/").rsplit("/", 1)[-1], 40)


def _metric(report: dict[str, Any], side: str, key: str) -> dict[str, Any]:
    return ((report["scores"].get(side) or {}).get(key)) or {}


def _entry(run: str | Path) -> dict[str, Any]:
    report, _ = load_run(run)
    bench = report.get("benchmark") or {}
    return {
        "model": report["model"]["name"],
        "run": str(run),
        "benchmark": benchmark_of(report),
        "source": bench,
        "compliance": _metric(report, "benign", "compliance_rate"),
        "usr": _metric(report, "benign", "useful_safety_rate"),
        "refusal": _metric(report, "benign", "refusal_rate"),
        "degenerate": _metric(report, "benign", "degenerate_rate"),
        "harmful_usr": _metric(report, "harmful", "useful_safety_rate"),
        "n": (report["scores"].get("benign") or {}).get("n", 0),
        "n_harmful": (report["scores"].get("harmful") or {}).get("n", 0),
        "judge": report["judge"]["name"],
        "reference": False,
    }


def _reference_entries() -> list[dict[str, Any]]:
    return [
        {
            "model": f"{r['model']} (paper{', reasoning' if r['reasoning'] else ''})",
            "run": "Zhang et al. 2025, arXiv:2505.08054",
            "benchmark": REFERENCE_BENCHMARK,
            "source": {},
            "compliance": {"value": r["compliance"], "ci": None},
            "usr": {"value": r["usr"], "ci": None},
            "refusal": {},
            "degenerate": {},
            "harmful_usr": {},
            "n": None,
            "n_harmful": None,
            "judge": "paper's LLM judge",
            "reference": True,
        }
        for r in paper_reference()
    ]


def _by_compliance(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(e: dict[str, Any]) -> tuple[bool, float]:
        value = e["compliance"].get("value")
        return (value is None, -(value or 0.0))

    return sorted(entries, key=key)


def leaderboard(
    run_dirs: list[str | Path], out_dir: str | Path, *, reference: str = "auto"
) -> dict[str, Any]:
    """Merge finished runs (see the module docstring); returns the paths written."""
    if not run_dirs:
        raise UserError("give at least one run folder")
    if reference not in REFERENCE_MODES:
        raise UserError(f"reference must be one of {', '.join(REFERENCE_MODES)}, got {reference!r}")
    entries = [_entry(run) for run in run_dirs]
    order = list(load_registry())
    groups = sorted(
        {e["benchmark"] for e in entries},
        key=lambda b: (b not in order, order.index(b) if b in order else 0, b),
    )
    show_reference = reference == "always" or (reference == "auto" and REFERENCE_BENCHMARK in groups)
    if show_reference:
        entries += _reference_entries()
        if REFERENCE_BENCHMARK not in groups:
            groups.insert(0, REFERENCE_BENCHMARK)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--output-dir {out}: cannot create the folder ({exc.strerror})") from None

    plots = {
        g: _plot_one(g, [e for e in entries if e["benchmark"] == g], out / f"leaderboard-{_slug(g)}.png")
        for g in groups
    }
    _plot_all(groups, entries, out / "leaderboard.png")
    md = _merged_table(groups, entries)
    for g in groups:
        md += ["", *_section(g, [e for e in entries if e["benchmark"] == g], plots[g])]
    if show_reference:
        md += ["", f"Reference points marked *(paper)*: {md_text(REFERENCE_CITATION)}."]
    (out / "leaderboard.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _write_csv(entries, out / "leaderboard.csv")
    return {
        "markdown": out / "leaderboard.md",
        "csv": out / "leaderboard.csv",
        "plot": out / "leaderboard.png",
        "plots": plots,
        "benchmarks": groups,
    }


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "benchmark"


def _merged_table(groups: list[str], entries: list[dict[str, Any]]) -> list[str]:
    """One row per model, a column group (compliance, USR, harmful USR) per benchmark."""
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    judges: dict[str, set[str]] = {}
    first = groups[0]
    ordered = _by_compliance([e for e in entries if e["benchmark"] == first]) + [
        e for e in entries if e["benchmark"] != first
    ]
    for e in ordered:
        label = e["model"]
        if e["benchmark"] in rows.get(label, {}):  # the same model run twice on one benchmark
            label = f"{e['model']} ({e['run']})"
        rows.setdefault(label, {})[e["benchmark"]] = e
        judges.setdefault(label, set()).add(e["judge"])
    head = ["model"]
    for g in groups:
        head += [f"{g}: compliance", f"{g}: USR", f"{g}: harmful USR"]
    head.append("judge")
    lines = [
        "# Over-refusal leaderboard",
        "",
        "Benign side: compliance and USR (answered, fully or the safe part) on benign-but-scary prompts; "
        "harmful side: USR (refused or answered only the safe part). 95% bootstrap CIs in brackets; "
        f"ordered by compliance on {md_text(first)}.",
        "",
        "| " + " | ".join(md_text(h) for h in head) + " |",
        "|" + "---|" * len(head),
    ]
    for label, per in rows.items():
        cells = [md_text(label)]
        for g in groups:
            e = per.get(g)
            cells += [fmt(e["compliance"]), fmt(e["usr"]), fmt(e["harmful_usr"])] if e else ["-", "-", "-"]
        cells.append(md_text(", ".join(sorted(judges[label]))))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _section(group: str, entries: list[dict[str, Any]], plot: Path | None) -> list[str]:
    runs = [e for e in entries if not e["reference"]]
    lines = [f"## {md_text(group)}", ""]
    source = next((e["source"] for e in runs if e["source"]), None)
    if source:
        commit = source.get("resolved_revision")
        where = md_code(source.get("hub") or "shipped with falsereject")
        lines += [
            f"Source: {where}" + (f" at commit {md_code(commit)}" if commit else "") + "; "
            f"license: {md_text(source.get('license') or '?')}; cite: {md_text(source.get('citation') or '')}",
            "",
        ]
    lines += [
        "| rank | model | compliance | USR (benign) | refusal | degenerate | USR (harmful) | n | judge |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, e in enumerate(_by_compliance(runs), start=1):
        lines.append(_ranked_row(str(i), e))
    for e in _by_compliance([e for e in entries if e["reference"]]):
        lines.append(_ranked_row("paper", e))
    if plot is not None:
        lines += ["", f"![{md_text(group)}: compliance vs USR]({plot.name})"]
    return lines


def _ranked_row(rank: str, e: dict[str, Any]) -> str:
    n = "-" if e["n"] is None else md_text(e["n"])
    return (
        f"| {rank} | {md_text(e['model'])} | {fmt(e['compliance'])} | {fmt(e['usr'])} | {fmt(e['refusal'])} | "
        f"{fmt(e['degenerate'])} | {fmt(e['harmful_usr'])} | {n} | {md_text(e['judge'])} |"
    )


def _write_csv(entries: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["benchmark", "rank", "model", "run", "metric", "value", "ci_low", "ci_high"])
        for group in dict.fromkeys(e["benchmark"] for e in entries):
            members = _by_compliance([e for e in entries if e["benchmark"] == group and not e["reference"]])
            members += [e for e in entries if e["benchmark"] == group and e["reference"]]
            for i, e in enumerate(members, start=1):
                rank = "paper" if e["reference"] else i
                for key in METRICS:
                    m = e[key]
                    if not m and e["reference"]:
                        continue
                    lo, hi = m.get("ci") or (None, None)
                    writer.writerow([group, rank, e["model"], e["run"], key, m.get("value"), lo, hi])


# ---------------------------------------------------------------------------- plots


def _scatter(ax, group: str, entries: list[dict[str, Any]]) -> None:
    refs = [e for e in entries if e["reference"]]
    runs = [e for e in entries if not e["reference"]]
    if refs:
        ax.scatter(
            [e["compliance"]["value"] for e in refs],
            [e["usr"]["value"] for e in refs],
            s=18,
            facecolors="none",
            edgecolors="#7f7f7f",
            label="FalseReject paper (29 models)",
        )
        for e in refs:
            ax.annotate(
                plain_text(e["model"].split(" (")[0], 20),
                (e["compliance"]["value"], e["usr"]["value"]),
                fontsize=5,
                color="#7f7f7f",
                xytext=(2, 2),
                textcoords="offset points",
                annotation_clip=True,
            )
    for i, e in enumerate(runs):
        x, y = e["compliance"].get("value"), e["usr"].get("value")
        if x is None or y is None:
            continue
        xlo, xhi = e["compliance"].get("ci") or (x, x)
        ylo, yhi = e["usr"].get("ci") or (y, y)
        color = f"C{i % 10}"
        ax.errorbar(
            [x],
            [y],
            xerr=[[x - xlo], [xhi - x]],
            yerr=[[y - ylo], [yhi - y]],
            fmt="o",
            color=color,
            capsize=2,
            markersize=5,
            label=plain_text(e["model"], 32),
        )
    ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=0.6, zorder=0)  # USR >= compliance always
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("compliance rate (benign)")
    ax.set_ylabel("useful safety rate (benign)")
    ax.set_title(plain_text(group, 40), fontsize=10, parse_math=False)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=6, loc="lower right")


def _plot_one(group: str, entries: list[dict[str, Any]], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    _scatter(ax, group, entries)
    if any(e["reference"] for e in entries):
        fig.text(
            0.01, 0.005, plain_text(f"Reference: {REFERENCE_CITATION}", 150), fontsize=5, color="#555555"
        )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_all(groups: list[str], entries: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(groups))
    rows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.5 * rows), squeeze=False)
    for ax, group in zip(axes.flat, groups, strict=False):
        _scatter(ax, group, [e for e in entries if e["benchmark"] == group])
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis("off")
    if any(e["reference"] for e in entries):
        fig.text(
            0.01, 0.005, plain_text(f"Reference: {REFERENCE_CITATION}", 150), fontsize=6, color="#555555"
        )
    fig.suptitle("Over-refusal: compliance vs useful safety rate per benchmark (95% CIs)", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
