"""Over-refusal judges: label a (prompt, response) pair with one of :data:`LABELS`.

>>> from falsereject.judge import get_judge
>>> judge = get_judge("keyword")
>>> [j.label for j in judge.judge(["How do I kill a Python process?"], ["I'm sorry, but I can't help with that."])]
['direct_refusal']

``keyword`` (the rules) and ``learned`` (a linear model over what the rules read, shipped
weights) need nothing; ``llm`` and ``ensemble`` need a :mod:`falsereject.llm` backend
(``get_judge("llm", backend=build_backend(BackendConfig(...)))``).
"""

from __future__ import annotations

from typing import Any

from falsereject.errors import UserError
from falsereject.judge.base import (
    CLASSES,
    FULL,
    LABELS,
    PARTIAL,
    REFUSAL,
    UNSCORED,
    Judge,
    Judgement,
    prompt_text,
)
from falsereject.llm.base import Backend

__all__ = [
    "CLASSES",
    "DEFAULT_JUDGE",
    "FULL",
    "JUDGES",
    "LABELS",
    "PARTIAL",
    "REFUSAL",
    "UNSCORED",
    "Judge",
    "Judgement",
    "get_judge",
    "prompt_text",
]

#: judge names accepted by :func:`get_judge` (and ``falsereject score --judge``)
JUDGES = ("keyword", "learned", "llm", "ensemble")
#: the judge every command, the metric, the Space and the builder use unless told otherwise:
#: the most accurate offline judge on human-labelled replies it was not fitted to
#: (``benchmarks/eval_judges.py``; README, "The judge")
DEFAULT_JUDGE = "keyword"


def get_judge(name: str, backend: Backend | None = None, **options: Any) -> Judge:
    """The judge called ``name`` (one of :data:`JUDGES`).

    ``options`` go to the judge: for ``learned`` ``weights`` (an artefact path); for ``llm``
    ``max_tokens``, ``max_concurrency``,
    ``max_reply_chars``; for ``ensemble`` also ``mode`` ("unsure" or "all").
    """
    key = (name or "").strip().lower()
    if key == "keyword":
        from falsereject.judge.keyword import KeywordJudge

        if options:
            raise UserError(f"judge 'keyword' takes no options (got {', '.join(sorted(options))})")
        return KeywordJudge()
    if key == "learned":
        from falsereject.judge.learned import LearnedJudge

        unknown = sorted(set(options) - {"weights"})
        if unknown:
            raise UserError(f"judge 'learned' takes only the option 'weights' (got {', '.join(unknown)})")
        try:
            return LearnedJudge(**options)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"judge 'learned': {exc}") from None
    if key in ("llm", "ensemble"):
        if backend is None:
            raise UserError(
                f"judge '{key}' needs an LLM backend: pass backend=build_backend(BackendConfig(...)) "
                "in Python, or --judge-model/--judge-base-url on the command line "
                "(e.g. --judge-model embedded for the built-in model)"
            )
        try:
            if key == "llm":
                from falsereject.judge.llm import LLMJudge

                return LLMJudge(backend, **options)
            from falsereject.judge.ensemble import EnsembleJudge

            return EnsembleJudge(backend, **options)
        except (TypeError, ValueError) as exc:
            raise UserError(f"judge '{key}': {exc}") from None
    raise UserError(f"unknown judge {name!r}: choose one of {', '.join(JUDGES)}")
