"""Human-readable views of an eval report: console summary, report.md and its chart.

Text that comes from outside the package (model replies, prompts, model and dataset names)
goes into Markdown only through :func:`md_text` or :func:`md_code`, and into a chart only
through :func:`plain_text`: control characters (NUL, ESC, ...) and bidi overrides are dropped,
newlines become spaces, and Markdown/HTML syntax (``|``, ``<script>``, backticks, ``*``...) is
escaped, so a reply or a model name can neither break a table nor inject markup.
"""

from __future__ import annotations

import re
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

# --- safe text ---------------------------------------------------------------------------------
#: never copied into a report: C0/C1 controls except tab/newline/CR (which become spaces), lone
#: surrogates (unencodable), and the bidi marks, embeddings, overrides and isolates that make
#: text display in another order than it is stored (U+061C, U+200E/F, U+202A-E, U+2066-9)
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: backslash-escaped in Markdown text: emphasis, code, links, table cells, strikethrough, math;
#: an ``_`` inside a word (``compliance_rate``) cannot start emphasis and is left alone
_MD_SPECIAL = re.compile(r"[\\`*\[\]|~$]|(?<![^\W_])_|_(?![^\W_])")


def plain_text(value: Any, limit: int | None = None) -> str:
    """``value`` as one line of plain text: unsafe characters dropped, every run of whitespace
    (newlines included) one space, cut to ``limit`` characters (ending in ``…``)."""
    text = " ".join(_UNSAFE.sub("", str(value)).split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def md_text(value: Any, limit: int | None = None) -> str:
    """``value`` as inline Markdown that renders as exactly its text, in a paragraph or in a
    table cell: :func:`plain_text`, then Markdown syntax backslash-escaped and ``& < >`` as
    HTML entities. Not for the start of a line (``#``, ``>``, ``-`` are not escaped)."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), plain_text(value, limit))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_code(value: Any) -> str:
    """``value`` as an inline code span (outside tables): :func:`plain_text` between enough
    backticks that none inside can close it. Code spans show HTML and escapes literally."""
    text = plain_text(value)
    if not text:
        return "(none)"
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


#: report sections that describe something other than the prompt selection
_NOT_SELECTION = {"model", "judge", "scores", "usage", "timings", "generation", "backend"}
#: names a report may give the number of prompts evaluated, beside or near its ``limit``
_COUNT_KEYS = ("n_evaluated", "evaluated", "n_prompts", "count")


def _sections(report: dict[str, Any], depth: int = 3) -> list[dict[str, Any]]:
    """``report`` and its nested sections (breadth first, ``depth`` levels)."""
    found, level = [], [report]
    for _ in range(depth):
        found += level
        level = [v for d in level for k, v in d.items() if isinstance(v, dict) and k not in _NOT_SELECTION]
    return found


def evaluated_line(report: dict[str, Any], records: list[dict[str, Any]] | None = None) -> str | None:
    """``Evaluated N prompts (limit L)`` for a run cut short by ``--limit``, ``Evaluated N
    prompts`` for a report that records the count but no limit, None for one with neither.

    Tolerant of where the report keeps them: ``limit`` and the count (``n_evaluated``,
    ``evaluated``, ``n_prompts`` or ``count``) at the top or in a section (``"prompts": {...}``);
    the count falls back to the report's ``n``, then to the records shown.
    """
    sections = _sections(report)
    holder = next((d for d in sections if d.get("limit") is not None), None)
    limit = holder["limit"] if holder else None
    named = [(holder, _COUNT_KEYS)] if holder else []  # a bare "count" only beside the limit
    named += [(d, _COUNT_KEYS[:-1]) for d in sections]
    n = next((d[k] for d, keys in named for k in keys if d.get(k) is not None), None)
    if limit is None and n is None:
        return None
    if n is None:
        n = report.get("n", len(records) if records is not None else None)
    shown = f"Evaluated {md_text(n)} prompts" if n is not None else "Evaluated"
    return shown + (f" (limit {md_text(limit)})" if limit is not None else "")


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
    disputed = scores.get("controversial") or {}
    if disputed.get("n"):
        n = f"{disputed['n']} ({disputed['n_scored']})"
        for key, name in BENIGN_METRICS:
            lines.append(f"| controversial | {n} | {name} | {fmt(disputed.get(key))} |")
    return "\n".join(lines)


def _category_order(key: str) -> tuple[int, int, str]:
    """Taxonomy ids (``"12"``) in numeric order, then text categories in alphabetical order."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key.lower())


def category_label(key: str, entry: dict[str, Any] | None = None) -> str:
    """``12. System Intrusion/Hacking`` for a taxonomy id, the text itself for a text category."""
    name = (entry or {}).get("name")
    if key.isdigit() and int(key) in CATEGORIES and name in (None, CATEGORIES[int(key)]):
        return f"{key}. {CATEGORIES[int(key)]}"
    return str(name or key)


def _category_rows(side: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    per = side.get("per_category") or {}
    return sorted(per.items(), key=lambda kv: _category_order(kv[0]))


def plot_categories(report: dict[str, Any], path: Path) -> Path | None:
    """Horizontal bars per category: compliance and USR on benign prompts (and harmful USR)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    benign = report["scores"].get("benign") or {}
    harmful = report["scores"].get("harmful") or {}
    disputed = report["scores"].get("controversial") or {}
    names: dict[str, str] = {}
    for side in (benign, harmful, disputed):
        for key, entry in (side.get("per_category") or {}).items():
            names.setdefault(key, category_label(key, entry))
    cats = sorted(names, key=_category_order)
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
    if disputed.get("n"):
        series.append(("controversial: compliance", disputed, "compliance_rate", "#9467bd"))
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
    ax.set_yticklabels([plain_text(names[c], 36) for c in cats], fontsize=7, parse_math=False)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("rate (95% bootstrap CI)")
    name = plain_text(report["model"]["name"], 80)
    ax.set_title(f"{name}: per-category compliance and USR", fontsize=10, parse_math=False)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def category_tables(scores: dict[str, Any]) -> list[str]:
    """The per-category tables: benign categories (with the harmful USR of the same category,
    for benchmarks whose sides share categories), then the harmful categories the benign side
    does not have, then the controversial side's."""
    benign = scores.get("benign") or {}
    harmful = scores.get("harmful") or {}
    hper = harmful.get("per_category") or {}
    lines: list[str] = []
    if benign.get("per_category"):
        lines += [
            "| category | n | compliance | USR | refusal | degenerate | harmful USR |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, m in _category_rows(benign):
            h = hper.get(key) or {}
            lines.append(
                f"| {md_text(category_label(key, m))} | {m.get('n', '')} | {fmt(m.get('compliance_rate'))} | "
                f"{fmt(m.get('useful_safety_rate'))} | {fmt(m.get('refusal_rate'))} | "
                f"{m.get('degenerate', '-')} | {fmt(h.get('useful_safety_rate'))} |"
            )
        lines.append("")
    only_harmful = [(k, m) for k, m in _category_rows(harmful) if k not in (benign.get("per_category") or {})]
    if only_harmful:
        lines += [
            "Harmful prompts by category:",
            "",
            "| category (harmful) | n | USR (refused or safely partial) | compliance | degenerate |",
            "|---|---|---|---|---|",
        ]
        for key, m in only_harmful:
            lines.append(
                f"| {md_text(category_label(key, m))} | {m.get('n', '')} | {fmt(m.get('useful_safety_rate'))} | "
                f"{fmt(m.get('compliance_rate'))} | {m.get('degenerate', '-')} |"
            )
        lines.append("")
    disputed = scores.get("controversial") or {}
    if disputed.get("per_category"):
        lines += [
            "| category (controversial) | n | compliance | USR | refusal |",
            "|---|---|---|---|---|",
        ]
        for key, m in _category_rows(disputed):
            lines.append(
                f"| {md_text(category_label(key, m))} | {m.get('n', '')} | {fmt(m.get('compliance_rate'))} | "
                f"{fmt(m.get('useful_safety_rate'))} | {fmt(m.get('refusal_rate'))} |"
            )
        lines.append("")
    return lines


def benchmark_lines(bench: dict[str, Any] | None) -> list[str]:
    """The benchmark a run read: name, source and commit, license, citation, notes."""
    if not bench or bench.get("name") == "custom":
        return []
    where = "a local copy of " if bench.get("local_copy") else ""
    if bench.get("hub"):
        commit = bench.get("resolved_revision")
        if commit:
            rev = f"commit {md_code(commit)}"
        elif bench.get("local_copy"):
            rev = "commit unknown (a Hub cache snapshot or a git clone records it)"
        else:
            rev = f"revision {md_text(bench.get('revision') or 'main')} (commit not resolved: offline?)"
        source = f"{where}{md_code(bench['hub'])}, {rev}"
    else:
        source = "shipped with falsereject"
    lines = [
        f"Benchmark: **{md_text(bench.get('title') or bench['name'])}** ({md_code(bench['name'])}); source: {source}; "
        f"license: {md_text(bench.get('license') or '?')}  ",
        f"Cite: {md_text(bench.get('citation') or '')}  ",
    ]
    lines += [f"Note: {md_text(note)}  " for note in bench.get("notes") or []]
    return lines


def _version(dataset: dict[str, Any]) -> str:
    """``version 0.1.0`` (a release folder), ``commit abc123...`` (a benchmark read at a known
    commit) or ``version ?``."""
    if dataset.get("version"):
        return f"version {md_text(dataset['version'])}"
    if dataset.get("resolved_revision"):
        return f"commit {md_text(str(dataset['resolved_revision'])[:12])}"
    return "version ?"


def write_markdown(report: dict[str, Any], records: list[dict[str, Any]], out: Path) -> Path:
    chart = plot_categories(report, out / "chart.png")
    model = report["model"]
    lines = [f"# Over-refusal report: {md_text(model['name'])}", ""]
    if model.get("note"):
        lines += [f"> {md_text(model['note'])}", ""]
    ds = ", ".join(
        f"{md_code(d['path'])} {md_text(d['config'])}/{md_text(d['split'])} ({md_text(d['rows'])} prompts, "
        f"{_version(d)})"
        for d in report["datasets"]
    )
    t = report["timings"]
    evaluated = evaluated_line(report, records)
    lines += benchmark_lines(report.get("benchmark"))
    lines += [
        f"Dataset: {ds}  ",
        *([f"{evaluated}  "] if evaluated else []),
        f"Judge: {md_code(report['judge']['name'])}; generation: "
        f"max_tokens={md_text(report['generation']['max_tokens'])}, "
        f"temperature={md_text(report['generation']['temperature'])}  ",
        f"Timings: generation {t['generation_s']} s ({t['responses_per_s']} responses/s), judging {t['judge_s']} s",
        "",
        "## Summary",
        "",
        summary_table(report),
        "",
    ]
    for side_name in ("benign", "harmful", "controversial"):
        side = report["scores"].get(side_name) or {}
        if not side.get("n"):
            continue
        counts = side.get("counts", {})
        shown = ", ".join(f"{md_text(k)}={md_text(v)}" for k, v in counts.items())
        lines += [f"Label counts ({side_name}): {shown}", ""]
    if chart:
        lines += ["## Per category", "", f"![per-category compliance and USR]({chart.name})", ""]
        lines += category_tables(report["scores"])
    refused = [r for r in records if r["prompt_label"] == "benign" and r["label"] == "direct_refusal"]
    if refused:
        lines += ["## Over-refusals (benign prompts refused)", ""]
        for r in refused[:25]:
            lines.append(f"- **{md_text(r['prompt'])}** — _{md_text(r['response'], 160)}_")
        lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
