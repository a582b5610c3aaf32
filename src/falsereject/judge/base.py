"""Labels, the judgement record and the judge interface shared by every judge."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FULL = "full_compliance"
PARTIAL = "safe_partial_compliance"
REFUSAL = "direct_refusal"
UNSCORED = "unscored"

#: the three classes of the FalseReject paper, in report order
CLASSES: tuple[str, ...] = (FULL, PARTIAL, REFUSAL)
#: plus ``unscored`` for judge failures (never counted as a refusal)
LABELS: tuple[str, ...] = (*CLASSES, UNSCORED)


@dataclass
class Judgement:
    """One judged response: a label from :data:`LABELS`, a short rationale, raw judge output."""

    label: str
    rationale: str
    judge: str
    raw: str | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}; expected one of {LABELS}")


Progress = Callable[[int], None]


class Judge(ABC):
    """Labels (prompt, response) pairs. Subclasses implement :meth:`ajudge`."""

    name: str = "abstract"

    @abstractmethod
    async def ajudge(
        self, prompts: Sequence[str], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        """Judge every pair; call ``progress(k)`` as ``k`` more pairs are done."""

    def judge(
        self, prompts: Sequence[str], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        from falsereject.llm.base import run_sync

        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        return run_sync(self.ajudge(prompts, responses, progress=progress))
