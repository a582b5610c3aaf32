"""The end-of-run report: acceptance per stage, cost per accepted row, per category.

Counts come from the stage records (so a resumed run reports the whole build, not only
its last part); each record carries the LLM calls and tokens its row used in that stage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from falsereject.builder.runner import StageRun
from falsereject.taxonomy import CATEGORIES


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row's line in a stage's ``records.jsonl``, as the report counts it."""

    category: int
    status: str  # ok | dropped
    reason: str = "?"  # why it was dropped
    usage: dict[str, int] | None = None  # LLM calls and tokens the row used in the stage

    @classmethod
    def of(cls, category: int, line: dict[str, Any]) -> Outcome:
        return cls(category, line["status"], line.get("reason", "?"), line.get("usage"))


class Report:
    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}
        self.per_category: dict[int, Counter] = defaultdict(Counter)

    def add(self, name: str, total: int, outcomes: list[Outcome], run: StageRun | None = None) -> None:
        """Record a stage: ``outcomes`` are its current items' records (``total`` items in all)."""
        ok = sum(1 for o in outcomes if o.status == "ok")
        reasons = Counter(o.reason for o in outcomes if o.status == "dropped")
        usage: Counter = Counter()
        for o in outcomes:
            u = o.usage or {}
            usage.update(u)
            cat = self.per_category[o.category]
            cat[f"{name}_in"] += 1
            cat[f"{name}_ok"] += o.status == "ok"
            cat["calls"] += u.get("calls", 0)
            cat["tokens"] += u.get("prompt_tokens", 0) + u.get("completion_tokens", 0)
        self.stages[name] = {
            "in": total,
            "ok": ok,
            "dropped": sum(reasons.values()),
            "pending": total - len(outcomes),
            "acceptance": round(ok / total, 4) if total else None,
            "drop_reasons": dict(reasons.most_common()),
            "calls": usage.get("calls", 0),
            "cache_hits": usage.get("cache_hits", 0),
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "seconds_this_run": round(run.seconds, 2) if run else 0.0,
            "errors_this_run": run.errors if run else 0,
        }

    def count(self, category: int, field: str, n: int = 1) -> None:
        self.per_category[category][field] += n

    @property
    def pending(self) -> int:
        return sum(s["pending"] for s in self.stages.values())

    def as_dict(self, accepted: int) -> dict[str, Any]:
        calls = sum(s["calls"] for s in self.stages.values())
        tokens = sum(s["prompt_tokens"] + s["completion_tokens"] for s in self.stages.values())
        cats = {}
        for cid in sorted(self.per_category):
            c = self.per_category[cid]
            rows = c.get("accepted", 0)
            cats[str(cid)] = {
                "name": CATEGORIES.get(cid, "?"),
                **{k: v for k, v in sorted(c.items()) if k not in ("calls", "tokens")},
                "calls": c.get("calls", 0),
                "tokens": c.get("tokens", 0),
                "calls_per_row": round(c.get("calls", 0) / rows, 1) if rows else None,
                "tokens_per_row": round(c.get("tokens", 0) / rows, 1) if rows else None,
            }
        return {
            "stages": self.stages,
            "accepted_rows": accepted,
            "calls": calls,
            "tokens": tokens,
            "calls_per_row": round(calls / accepted, 2) if accepted else None,
            "tokens_per_row": round(tokens / accepted, 1) if accepted else None,
            "per_category": cats,
        }

    @staticmethod
    def render(data: dict[str, Any], max_categories: int = 44) -> str:
        lines = [
            f"{'stage':<13}{'in':>8}{'ok':>8}{'dropped':>9}{'pending':>9}{'accept':>8}{'calls':>9}  top drop reasons"
        ]
        for name, s in data["stages"].items():
            acc = f"{s['acceptance']:.0%}" if s["acceptance"] is not None else "-"
            reasons = ", ".join(f"{k} {v}" for k, v in list(s["drop_reasons"].items())[:3])
            lines.append(
                f"{name:<13}{s['in']:>8}{s['ok']:>8}{s['dropped']:>9}{s['pending']:>9}{acc:>8}{s['calls']:>9}  {reasons}"
            )
        per_row = data["calls_per_row"]
        lines.append(
            f"accepted rows: {data['accepted_rows']}; LLM calls {data['calls']} ({per_row if per_row is not None else '-'} per row), "
            f"tokens {data['tokens']} ({data['tokens_per_row'] if data['tokens_per_row'] is not None else '-'} per row)"
        )
        cats = list(data["per_category"].items())[:max_categories]
        if cats:
            lines.append(
                f"{'category':<42}{'seeds':>6}{'cands':>7}{'rows':>6}{'calls/row':>10}{'tokens/row':>11}"
            )
            for cid, c in cats:
                name = f"{cid} {c['name']}"[:41]
                cpr = c["calls_per_row"] if c["calls_per_row"] is not None else "-"
                tpr = c["tokens_per_row"] if c["tokens_per_row"] is not None else "-"
                lines.append(
                    f"{name:<42}{c.get('seeds', 0):>6}{c.get('adversarial_in', 0):>7}{c.get('accepted', 0):>6}{cpr!s:>10}{tpr!s:>11}"
                )
        return "\n".join(lines)
