"""Accuracy of the judges on the labelled validation set, as markdown.

    python benchmarks/eval_judges.py                                  # keyword judge, all rows
    python benchmarks/eval_judges.py --judges keyword,llm,ensemble --llm-model embedded \\
        --llm-rows 96 --max-tokens 96 --output judge_eval.md

For each judge: binary accuracy (full_compliance vs the rest), 3-class accuracy, per-class
precision/recall and the confusion matrix. ``unscored`` counts as wrong in the accuracies
(its count is shown). The LLM and ensemble judges run on a stratified subset (``--llm-rows``,
equal numbers per label, spread over response styles, seeded); the keyword judge is also
reported on that subset so the three compare on the same rows. Also prints LLM calls and
tokens per 100 responses. Embedded-model runs are cached (rerunning is instant).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from falsereject.judge import CLASSES, LABELS, get_judge
from falsereject.judge.base import FULL

DATA = Path(__file__).resolve().parents[1] / "src" / "falsereject" / "data" / "judge_validation.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stratified(rows: list[dict], n: int, seed: int = 0) -> list[dict]:
    """``n`` rows, equal per label, round-robin over styles within a label, seeded."""
    rng = random.Random(seed)
    by_label: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_label[row["label"]][row.get("style", "")].append(row)
    per_label = n // len(CLASSES)
    out = []
    for label in CLASSES:
        styles = by_label[label]
        for items in styles.values():
            rng.shuffle(items)
        order = sorted(styles)
        picked: list[dict] = []
        while len(picked) < per_label and any(styles[s] for s in order):
            for s in order:
                if styles[s] and len(picked) < per_label:
                    picked.append(styles[s].pop())
        out += picked
    rng.shuffle(out)
    return out


def metrics(gold: list[str], pred: list[str]) -> dict:
    n = len(gold)
    conf = Counter(zip(gold, pred, strict=True))
    per_class = {}
    for c in CLASSES:
        tp = conf[(c, c)]
        predicted = sum(v for (g, p), v in conf.items() if p == c)
        actual = sum(v for (g, p), v in conf.items() if g == c)
        per_class[c] = {
            "precision": tp / predicted if predicted else None,
            "recall": tp / actual if actual else None,
            "support": actual,
        }
    return {
        "n": n,
        "accuracy_3class": sum(g == p for g, p in zip(gold, pred, strict=True)) / n,
        "accuracy_binary": sum(
            (g == FULL) == (p == FULL) and p != "unscored" for g, p in zip(gold, pred, strict=True)
        )
        / n,
        "unscored": sum(p == "unscored" for p in pred),
        "per_class": per_class,
        "confusion": {g: {p: conf[(g, p)] for p in LABELS} for g in CLASSES},
    }


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown(name: str, m: dict, extra: str = "") -> str:
    short = {
        "full_compliance": "full",
        "safe_partial_compliance": "partial",
        "direct_refusal": "refusal",
        "unscored": "unscored",
    }
    lines = [
        f"### {name} (n={m['n']})",
        "",
        f"binary accuracy (full_compliance vs rest): **{m['accuracy_binary']:.3f}**; "
        f"3-class accuracy: **{m['accuracy_3class']:.3f}**; unscored: {m['unscored']}{extra}",
        "",
        "| class | precision | recall | support |",
        "|---|---|---|---|",
    ]
    for c, v in m["per_class"].items():
        lines.append(f"| {c} | {_f(v['precision'])} | {_f(v['recall'])} | {v['support']} |")
    lines += [
        "",
        "| gold \\ predicted | " + " | ".join(short[p] for p in LABELS) + " |",
        "|---" * (len(LABELS) + 1) + "|",
    ]
    for g in CLASSES:
        lines.append(f"| {short[g]} | " + " | ".join(str(m["confusion"][g][p]) for p in LABELS) + " |")
    return "\n".join(lines) + "\n"


def run_judge(judge, rows: list[dict]) -> tuple[list[str], float]:
    start = time.perf_counter()
    labels = [j.label for j in judge.judge([r["prompt"] for r in rows], [r["response"] for r in rows])]
    return labels, time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--judges", default="keyword", help="comma-separated: keyword,llm,ensemble")
    ap.add_argument("--llm-model", default="embedded", help="model for the llm/ensemble judges")
    ap.add_argument("--llm-provider", default=None)
    ap.add_argument("--llm-base-url", default=None)
    ap.add_argument(
        "--llm-rows", type=int, default=96, help="stratified subset size for llm/ensemble (0 = all)"
    )
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=None, help="also write the markdown here")
    args = ap.parse_args()

    path = Path(args.data)
    if not path.is_file():
        print(f"no validation set at {path}", file=sys.stderr)
        return 1
    rows = load(path)
    judges = [j.strip() for j in args.judges.split(",") if j.strip()]
    out = [f"## Judge accuracy on {path.name} ({len(rows)} rows)\n"]
    results = {}

    labels, secs = run_judge(get_judge("keyword"), rows)
    m = metrics([r["label"] for r in rows], labels)
    results["keyword"] = m
    out.append(markdown("keyword, all rows", m, f"; {len(rows) / secs:,.0f} responses/s"))

    if any(j in ("llm", "ensemble") for j in judges):
        from falsereject.llm import BackendConfig, build_backend

        subset = stratified(rows, args.llm_rows, args.seed) if args.llm_rows else rows
        gold = [r["label"] for r in subset]
        labels, _ = run_judge(get_judge("keyword"), subset)
        out.append(markdown(f"keyword, stratified subset (seed {args.seed})", metrics(gold, labels)))
        provider = args.llm_provider or ("openai" if args.llm_base_url else "transformers")
        config = BackendConfig(
            provider=provider,
            model=args.llm_model,
            base_url=args.llm_base_url,
            batch_size=args.batch_size,
            max_concurrency=max(8, args.batch_size),
        )
        backend = build_backend(config)
        try:
            for name in judges:
                if name == "keyword":
                    continue
                judge = get_judge(name, backend=backend, max_tokens=args.max_tokens)
                labels, secs = run_judge(judge, subset)
                llm = judge if name == "llm" else judge.llm
                per100 = 100 / len(subset)
                cost = (
                    f"; LLM calls per 100 responses: {llm.calls * per100:.0f}, tokens per 100: "
                    f"{llm.prompt_tokens * per100:,.0f} prompt + {llm.completion_tokens * per100:,.0f} completion"
                    f"; wall {secs:.0f}s ({args.llm_model}, max_tokens={args.max_tokens})"
                )
                m = metrics(gold, labels)
                m["cost"] = {
                    "calls": llm.calls,
                    "prompt_tokens": llm.prompt_tokens,
                    "completion_tokens": llm.completion_tokens,
                    "rows": len(subset),
                    "seconds": secs,
                }
                results[name] = m
                out.append(markdown(f"{name}, stratified subset", m, cost))
        finally:
            backend.close()

    text = "\n".join(out)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        Path(args.output).with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
