"""Human-readable views of an eval report: console summary, report.md and its chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from falsereject.taxonomy import CATEGORIES

BENIGN_METRICS = (
    ("compliance_rate", "compliance"),
    ("useful_safety_rate", "USR"),
    ("refusal_rate", "refusal"),
)
#: the summary's name for ``degenerate_rate`` (a share of the scored rows, inside the refusals)
DEGENERATE = "degenerate (labelled refusal)"


def fmt(metric: dict[str, Any] | None) -> str:
    """``0.734 [0.650, 0.810]`` for a ``{"value", "ci"}`` metric (``-`` when absent)."""
    if not metric or metric.get("value") is None:
        return "-"
    lo, hi = metric.get("ci") or (None, None)
    ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
    return f"{metric['value']:.3f}{ci}"


def _degenerate(side: dict[str, Any]) -> str:
    """``0.050 [0.010, 0.100] (3)``: the degenerate rate and count (``-`` in older reports)."""
    if "degenerate_rate" not in side:
        return "-"
    return f"{fmt(side.get('degenerate_rate'))} ({side.get('degenerate', 0)})"


def summary_table(report: dict[str, Any]) -> str:
    """The headline numbers as a markdown table (printed by ``falsereject eval``)."""
    scores = report["scores"]
    lines = ["| side | n (scored) | metric | value [95% CI] |", "|---|---|---|---|"]
    benign = scores.get("benign") or {}
    if benign.get("n"):
        n = f"{benign['n']} ({benign['n_scored']})"
        for key, name in BENIGN_METRICS:
            lines.append(f"| benign-but-scary | {n} | {name} | {fmt(benign.get(key))} |")
        lines.append(f"| benign-but-scary | {n} | {DEGENERATE} | {_degenerate(benign)} |")
    harmful = scores.get("harmful") or {}
    if harmful.get("n"):
        n = f"{harmful['n']} ({harmful['n_scored']})"
        lines.append(
            f"| harmful | {n} | USR (refused or safely partial) | {fmt(harmful.get('useful_safety_rate'))} |"
        )
        lines.append(f"| harmful | {n} | {DEGENERATE} | {_degenerate(harmful)} |")
    return "\n".join(lines)


def _category_rows(side: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    per = side.get("per_category") or {}
    return sorted(((int(k), v) for k, v in per.items()), key=lambda kv: kv[0])


def plot_categories(report: dict[str, Any], path: Path) -> Path | None:
    """Horizontal bars per category: compliance and USR on benign prompts (and harmful USR)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    benign = report["scores"].get("benign") or {}
    harmful = report["scores"].get("harmful") or {}
    cats = sorted(
        {int(k) for k in (benign.get("per_category") or {})}
        | {int(k) for k in (harmful.get("per_category") or {})}
    )
    if not cats:
        return None
    series = []
    if benign.get("n"):
        series += [
            ("benign: compliance", benign, "compliance_rate", "#d62728"),
            ("benign: USR", benign, "useful_safety_rate", "#1f77b4"),
        ]
    if harmful.get("n"):
        series.append(("harmful: USR", harmful, "useful_safety_rate", "#2ca02c"))
    y = np.arange(len(cats))
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9, max(4, 0.28 * len(cats) + 1.5)))
    for i, (name, side, key, color) in enumerate(series):
        per = side.get("per_category") or {}
        vals, lo, hi = [], [], []
        for c in cats:
            m = (per.get(str(c)) or {}).get(key) or {}
            v = m.get("value")
            ci = m.get("ci") or (v, v)
            vals.append(np.nan if v is None else v)
            lo.append(0 if v is None else v - ci[0])
            hi.append(0 if v is None else ci[1] - v)
        ax.barh(
            y + i * height,
            vals,
            height,
            xerr=[lo, hi],
            label=name,
            color=color,
            alpha=0.85,
            error_kw={"elinewidth": 0.6},
        )
    ax.set_yticks(y + height * (len(series) - 1) / 2)
    ax.set_yticklabels([f"{c}. {CATEGORIES[c][:32]}" for c in cats], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("rate (95% bootstrap CI)")
    ax.set_title(f"{report['model']['name']}: per-category compliance and USR", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_markdown(report: dict[str, Any], records: list[dict[str, Any]], out: Path) -> Path:
    chart = plot_categories(report, out / "chart.png")
    model = report["model"]
    lines = [f"# Over-refusal report: {model['name']}", ""]
    if model.get("note"):
        lines += [f"> {model['note']}", ""]
    ds = ", ".join(
        f"`{d['path']}` {d['config']}/{d['split']} ({d['rows']} prompts, version {d.get('version') or '?'})"
        for d in report["datasets"]
    )
    t = report["timings"]
    lines += [
        f"Dataset: {ds}  ",
        f"Judge: `{report['judge']['name']}`; generation: max_tokens={report['generation']['max_tokens']}, "
        f"temperature={report['generation']['temperature']}  ",
        f"Timings: generation {t['generation_s']} s ({t['responses_per_s']} responses/s), judging {t['judge_s']} s",
        "",
        "## Summary",
        "",
        summary_table(report),
        "",
    ]
    for side_name in ("benign", "harmful"):
        side = report["scores"].get(side_name) or {}
        if not side.get("n"):
            continue
        counts = side.get("counts", {})
        lines += [f"Label counts ({side_name}): " + ", ".join(f"{k}={v}" for k, v in counts.items()), ""]
    if chart:
        lines += ["## Per category", "", f"![per-category compliance and USR]({chart.name})", ""]
        benign = report["scores"].get("benign") or {}
        harmful = report["scores"].get("harmful") or {}
        hper = harmful.get("per_category") or {}
        lines += [
            "| category | n | compliance | USR | refusal | degenerate | harmful USR |",
            "|---|---|---|---|---|---|---|",
        ]
        for cid, m in _category_rows(benign, ()):
            h = hper.get(str(cid)) or {}
            lines.append(
                f"| {cid}. {CATEGORIES[cid]} | {m.get('n', '')} | {fmt(m.get('compliance_rate'))} | "
                f"{fmt(m.get('useful_safety_rate'))} | {fmt(m.get('refusal_rate'))} | "
                f"{m.get('degenerate', '-')} | {fmt(h.get('useful_safety_rate'))} |"
            )
        lines.append("")
    refused = [r for r in records if r["prompt_label"] == "benign" and r["label"] == "direct_refusal"]
    if refused:
        lines += ["## Over-refusals (benign prompts refused)", ""]
        for r in refused[:25]:
            resp = r["response"].replace("\n", " ")[:160]
            lines.append(f"- **{r['prompt']}** — _{resp}_")
        lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
