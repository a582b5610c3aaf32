"""``falsereject compare`` over two finished run folders (``load_run`` reads one; the leaderboard is
:mod:`falsereject.evaluation.leaderboard`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.evaluation.report import fmt, md_text
from falsereject.files import read_jsonl
from falsereject.judge.base import FULL, PARTIAL, REFUSAL
from falsereject.taxonomy import CATEGORIES


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = Path(run_dir)
    report_path, responses_path = run / "report.json", run / "responses.jsonl"
    if not report_path.is_file() or not responses_path.is_file():
        raise UserError(
            f"{run} is not a finished eval run (no report.json/responses.jsonl): run `falsereject eval` first"
        )
    return json.loads(report_path.read_text()), read_jsonl(responses_path)


def _metric(report: dict[str, Any], side: str, key: str) -> dict[str, Any]:
    return ((report["scores"].get(side) or {}).get(key)) or {}


_GOOD = {"benign": {FULL: 2, PARTIAL: 1, REFUSAL: 0}, "harmful": {REFUSAL: 2, PARTIAL: 1, FULL: 0}}


def compare(run_a: str | Path, run_b: str | Path, out_path: str | Path | None = None) -> dict[str, Any]:
    """Per-category differences (B - A) and the prompts whose label changed.

    A change is *fixed* when B's label is better for that prompt's kind (benign: answering is
    better; harmful: declining is better), *broke* when it is worse.
    """
    rep_a, rows_a = load_run(run_a)
    rep_b, rows_b = load_run(run_b)
    by_a = {(r["config"], r["id"]): r for r in rows_a}
    changed, fixed, broke = [], 0, 0
    for r in rows_b:
        a = by_a.get((r["config"], r["id"]))
        if a is None or a["label"] == r["label"]:
            continue
        order = _GOOD.get(r["prompt_label"], _GOOD["benign"])
        da, db = order.get(a["label"]), order.get(r["label"])
        verdict = "changed" if da is None or db is None else ("fixed" if db > da else "broke")
        fixed += verdict == "fixed"
        broke += verdict == "broke"
        changed.append(
            {
                **{k: r[k] for k in ("id", "config", "prompt", "category", "prompt_label")},
                "label_a": a["label"],
                "label_b": r["label"],
                "verdict": verdict,
                "response_a": a["response"],
                "response_b": r["response"],
            }
        )
    common = len({(r["config"], r["id"]) for r in rows_b} & set(by_a))
    if common == 0:
        raise UserError(f"{run_a} and {run_b} share no prompts: compare runs on the same dataset")
    cats = []
    for side, key in (
        ("benign", "compliance_rate"),
        ("benign", "useful_safety_rate"),
        ("harmful", "useful_safety_rate"),
    ):
        per_a = (rep_a["scores"].get(side) or {}).get("per_category") or {}
        per_b = (rep_b["scores"].get(side) or {}).get("per_category") or {}
        for cid in sorted(set(per_a) & set(per_b), key=int):
            va = (per_a[cid].get(key) or {}).get("value")
            vb = (per_b[cid].get(key) or {}).get("value")
            if va is not None and vb is not None:
                cats.append(
                    {"side": side, "metric": key, "category": int(cid), "a": va, "b": vb, "delta": vb - va}
                )
    result = {
        "a": {"run": str(run_a), "model": rep_a["model"]["name"]},
        "b": {"run": str(run_b), "model": rep_b["model"]["name"]},
        "overall": {
            f"{side}.{key}": {"a": _metric(rep_a, side, key), "b": _metric(rep_b, side, key)}
            for side, key in (
                ("benign", "compliance_rate"),
                ("benign", "useful_safety_rate"),
                ("harmful", "useful_safety_rate"),
            )
        },
        "per_category": cats,
        "changed": changed,
        "counts": {"common": common, "changed": len(changed), "fixed": fixed, "broke": broke},
    }
    md = render_compare(result)
    if out_path:
        Path(out_path).write_text(md, encoding="utf-8")
    result["markdown"] = md
    return result


def render_compare(result: dict[str, Any]) -> str:
    a, b = md_text(result["a"]["model"]), md_text(result["b"]["model"])
    c = result["counts"]
    lines = [
        f"# {b} vs {a}",
        "",
        f"{c['common']} prompts in common; {c['changed']} changed label: **{c['fixed']} fixed, {c['broke']} broke**.",
        "",
        "| metric | A | B |",
        "|---|---|---|",
    ]
    for key, m in result["overall"].items():
        lines.append(f"| {md_text(key)} | {fmt(m['a'])} | {fmt(m['b'])} |")
    moved = sorted((x for x in result["per_category"] if x["delta"]), key=lambda x: -abs(x["delta"]))
    if moved:
        lines += [
            "",
            "## Largest per-category moves (B - A)",
            "",
            "| category | metric | A | B | delta |",
            "|---|---|---|---|---|",
        ]
        for x in moved[:15]:
            lines.append(
                f"| {x['category']}. {md_text(CATEGORIES[x['category']])} | {x['side']} {md_text(x['metric'])} | "
                f"{x['a']:.2f} | {x['b']:.2f} | {x['delta']:+.2f} |"
            )
    for verdict in ("fixed", "broke"):
        rows = [x for x in result["changed"] if x["verdict"] == verdict]
        if rows:
            lines += ["", f"## {verdict.capitalize()} ({len(rows)})", ""]
            for x in rows[:30]:
                lines.append(
                    f"- [{md_text(x['prompt_label'])}] {md_text(x['prompt'])} — "
                    f"{md_text(x['label_a'])} -> {md_text(x['label_b'])}"
                )
    return "\n".join(lines) + "\n"
