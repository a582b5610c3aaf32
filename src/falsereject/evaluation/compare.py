"""``falsereject leaderboard`` and ``falsereject compare`` over finished run folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.evaluation.report import fmt, md_text, plain_text
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


def leaderboard(run_dirs: list[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """One table (markdown + CSV) and one plot (compliance vs USR, CIs) over many runs."""
    if not run_dirs:
        raise UserError("give at least one run folder")
    entries = []
    for run in run_dirs:
        report, _ = load_run(run)
        entries.append(
            {
                "model": report["model"]["name"],
                "run": str(run),
                "compliance": _metric(report, "benign", "compliance_rate"),
                "usr": _metric(report, "benign", "useful_safety_rate"),
                "refusal": _metric(report, "benign", "refusal_rate"),
                "degenerate": _metric(report, "benign", "degenerate_rate"),
                "harmful_usr": _metric(report, "harmful", "useful_safety_rate"),
                "n": (report["scores"].get("benign") or {}).get("n", 0),
                "judge": report["judge"]["name"],
            }
        )
    entries.sort(key=lambda e: (e["compliance"].get("value") is None, -(e["compliance"].get("value") or 0)))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = [
        "| rank | model | compliance | USR (benign) | refusal | degenerate | USR (harmful) | n | judge |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, e in enumerate(entries, start=1):
        md.append(
            f"| {i} | {md_text(e['model'])} | {fmt(e['compliance'])} | {fmt(e['usr'])} | {fmt(e['refusal'])} | "
            f"{fmt(e['degenerate'])} | {fmt(e['harmful_usr'])} | {md_text(e['n'])} | {md_text(e['judge'])} |"
        )
    (out / "leaderboard.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    with open(out / "leaderboard.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "model", "run", "metric", "value", "ci_low", "ci_high"])
        for i, e in enumerate(entries, start=1):
            for key in ("compliance", "usr", "refusal", "degenerate", "harmful_usr"):
                m = e[key]
                lo, hi = m.get("ci") or (None, None)
                writer.writerow([i, e["model"], e["run"], key, m.get("value"), lo, hi])
    _plot(entries, out / "leaderboard.png")
    return {
        "markdown": out / "leaderboard.md",
        "csv": out / "leaderboard.csv",
        "plot": out / "leaderboard.png",
    }


def _plot(entries: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(entries) + 3), 4.5))
    xs = range(len(entries))
    for key, name, color, offset in (
        ("compliance", "compliance rate", "#d62728", -0.15),
        ("usr", "useful safety rate", "#1f77b4", 0.15),
    ):
        vals = [e[key].get("value") or 0 for e in entries]
        err = [
            [v - (e[key].get("ci") or (v, v))[0] for v, e in zip(vals, entries, strict=True)],
            [(e[key].get("ci") or (v, v))[1] - v for v, e in zip(vals, entries, strict=True)],
        ]
        ax.bar([x + offset for x in xs], vals, 0.3, yerr=err, label=name, color=color, alpha=0.85, capsize=2)
    ax.set_xticks(list(xs))
    labels = [plain_text(e["model"], 28) for e in entries]
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8, parse_math=False)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate on benign-but-scary prompts (95% CI)")
    ax.set_title("Over-refusal leaderboard (sorted by compliance)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
