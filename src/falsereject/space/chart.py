"""A compact chart: the FalseReject paper's 29 models, with this Space's two columns on it.

The paper's figures (benign-side Compliance Rate and Useful Safety Rate of 29 models, their LLM
judge, the full test set) are the package data shipped with the benchmarks
(``falsereject/data/reference/falsereject_paper_29_models.csv``). The two columns' rates are
measured on the Space's benign examples (one per category of the shipped sample) from the
precomputed answers, with the Space's judge. Different prompts and judges: the page says that
the placement is rough, and cites the paper. Drawn as inline SVG (no plotting library, scales
to any width), with a table of every value for screen readers and exact reading.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

from falsereject.judge import FULL, PARTIAL

REFERENCE_CSV = Path(__file__).parent.parent / "data" / "reference" / "falsereject_paper_29_models.csv"
COLOURS = ("#1d4ed8", "#c2410c")  # left, right column markers
METRICS = (("compliance_rate", "Compliance rate"), ("useful_safety_rate", "Useful safety rate"))
_W, _LEFT, _RIGHT, _ROW = 600, 130, 16, 64


@dataclass(frozen=True)
class Point:
    name: str
    compliance_rate: float
    useful_safety_rate: float
    n: int = 0  # prompts behind a measured point (0: a published figure)


def paper_models(path: Path = REFERENCE_CSV) -> list[Point]:
    """The paper's 29 models (an empty list when the reference file is not installed)."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return [
            Point(r["model"], float(r["compliance_rate"]), float(r["useful_safety_rate"]))
            for r in csv.DictReader(fh)
        ]


def measured(name: str, labels: list[str]) -> Point | None:
    """A column's rates over its judged answers to benign prompts (None when there are none)."""
    if not labels:
        return None
    n = len(labels)
    full = sum(label == FULL for label in labels)
    partial = sum(label == PARTIAL for label in labels)
    return Point(name, full / n, (full + partial) / n, n)


def _x(value: float) -> float:
    return _LEFT + value * (_W - _LEFT - _RIGHT)


def _strip(row: int, metric: str, title: str, paper: list[Point], ours: list[Point | None]) -> str:
    y = 22 + row * _ROW
    parts = [
        f'<text x="0" y="{y + 4}" font-size="14" fill="currentColor">{title}</text>',
        f'<line x1="{_x(0)}" y1="{y}" x2="{_x(1)}" y2="{y}" stroke="currentColor" stroke-opacity=".35"/>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<text x="{_x(tick)}" y="{y + 20}" font-size="12" text-anchor="middle" fill="currentColor" '
            f'fill-opacity=".7">{tick:.0%}</text>'
        )
    for p in paper:
        v = getattr(p, metric)
        parts.append(
            f'<circle cx="{_x(v):.1f}" cy="{y}" r="4.5" fill="#6b7280" fill-opacity=".55">'
            f"<title>{html.escape(p.name)}: {v:.0%} (paper)</title></circle>"
        )
    for i, (p, colour) in enumerate(zip(ours, COLOURS, strict=False)):
        if p is None:
            continue
        v, cx = getattr(p, metric), _x(getattr(p, metric))
        dy = -9 if i == 0 else 9
        tip = cx, y + dy
        parts.append(
            f'<path d="M{cx:.1f},{y} l-6,{dy} h12 z" fill="{colour}">'
            f"<title>{html.escape(p.name)}: {v:.0%} on {p.n} sample prompts</title></path>"
        )
        anchor = "end" if v > 0.8 else "start"
        label_x = tip[0] + (-8 if anchor == "end" else 8)
        label_y = y - 13 if i == 0 else y + 36
        parts.append(
            f'<text x="{label_x:.1f}" y="{label_y}" font-size="13" font-weight="600" fill="{colour}" '
            f'text-anchor="{anchor}">{html.escape(p.name)} {v:.0%}</text>'
        )
    return "".join(parts)


def chart_html(ours: list[Point | None], paper: list[Point] | None = None, *, note: str = "") -> str:
    """The chart, its caption and a table of every value ("" when the paper's file is absent)."""
    paper = paper_models() if paper is None else paper
    if not paper:
        return ""
    height = 22 + len(METRICS) * _ROW
    strips = "".join(_strip(i, m, t, paper, ours) for i, (m, t) in enumerate(METRICS))
    lo = min(paper, key=lambda p: p.compliance_rate)
    hi = max(paper, key=lambda p: p.compliance_rate)
    desc = (
        f"Compliance rates of the paper's {len(paper)} models range from {lo.compliance_rate:.0%} "
        f"({lo.name}) to {hi.compliance_rate:.0%} ({hi.name})."
    )
    svg = (
        f'<svg viewBox="0 -6 {_W} {height}" role="img" aria-label="{html.escape(desc)}" '
        f'xmlns="http://www.w3.org/2000/svg">{strips}</svg>'
    )
    rows = "".join(
        f"<tr><td>{html.escape(p.name)}{' (this Space)' if p.n else ''}</td><td>{p.compliance_rate:.0%}</td>"
        f"<td>{p.useful_safety_rate:.0%}</td></tr>"
        for p in sorted([*paper, *[p for p in ours if p]], key=lambda p: -p.compliance_rate)
    )
    n = next((p.n for p in ours if p), 0)
    caption = (
        f"Grey dots: the {len(paper)} models benchmarked in the FalseReject paper (Zhang et al., 2025, "
        "arXiv 2505.08054; its LLM judge, 1,187 test prompts). Coloured marks: this Space's two columns "
        + (f"on its {n} benign example prompts, judged by its rule judge. " if n else "(not measured yet). ")
        + "Different prompts and judges, so read the placement as rough. Compliance rate: share of benign "
        "prompts answered in full; useful safety rate: answered in full or in its safe part."
    )
    if note:
        caption += " " + note
    return (
        f'<div class="fr-chart">{svg}<p class="fr-muted">{html.escape(caption)}</p>'
        f"<details><summary>Every value</summary><table><thead><tr><th>model</th><th>compliance rate</th>"
        f"<th>useful safety rate</th></tr></thead><tbody>{rows}</tbody></table></details></div>"
    )
