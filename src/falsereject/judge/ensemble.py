"""The ensemble judge: the keyword judge first, the LLM judge only where it is unsure.

The keyword judge marks each decision as clear-cut or not (:class:`KeywordDecision`
``confident``: e.g. a decline next to a middling amount of content, a lecture-style opening,
a full answer full of caveats). ``mode="unsure"`` (default) sends only the unsure rows to the
LLM judge; ``mode="all"`` sends every row. Where the LLM judge fails (``unscored``: no
verdict, or it refused to grade) the keyword label is kept, so the ensemble never returns
fewer labels than the keyword judge alone. Rationales say which judge decided.
"""

from __future__ import annotations

from collections.abc import Sequence

from falsereject.judge.base import UNSCORED, Judge, Judgement, Progress
from falsereject.judge.keyword import KeywordJudge
from falsereject.judge.llm import LLMJudge
from falsereject.llm.base import Backend

MODES = ("unsure", "all")


class EnsembleJudge(Judge):
    def __init__(self, backend: Backend, *, mode: str = "unsure", **llm_options):
        if mode not in MODES:
            raise ValueError(f"ensemble mode must be one of {MODES}, got {mode!r}")
        self.keyword = KeywordJudge()
        self.llm = LLMJudge(backend, **llm_options)
        self.mode = mode
        self.name = f"ensemble-{mode}({self.keyword.name}+{self.llm.name})"
        #: rows sent to the LLM judge in the last call (for reports and benchmarks)
        self.last_llm_rows = 0

    async def _ajudge(
        self, prompts: Sequence[str], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        decisions = [self.keyword.decide(p or "", r or "") for p, r in zip(prompts, responses, strict=True)]
        ask = [i for i, d in enumerate(decisions) if self.mode == "all" or not d.confident]
        self.last_llm_rows = len(ask)
        if progress is not None and len(decisions) - len(ask):
            progress(len(decisions) - len(ask))
        llm = await self.llm._ajudge(
            [prompts[i] for i in ask], [responses[i] for i in ask], progress=progress
        )
        out = [Judgement(d.label, f"keyword: {d.rationale}", self.name) for d in decisions]
        for i, j in zip(ask, llm, strict=True):
            d = decisions[i]
            if j.label == UNSCORED:
                out[i] = Judgement(d.label, f"keyword ({j.rationale}): {d.rationale}", self.name, raw=j.raw)
            else:
                out[i] = Judgement(
                    j.label, f"llm: {j.rationale} | keyword said {d.label}", self.name, raw=j.raw
                )
        return out
