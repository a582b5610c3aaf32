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
    #: the reply is degenerate (a loop, empty after ``<think>``, only a verdict): see
    #: :mod:`falsereject.judge.degenerate`; such a reply is never full compliance
    degenerate: bool = False

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}; expected one of {LABELS}")


Progress = Callable[[int], None]
#: a prompt: text, or a conversation as chat messages (see :func:`prompt_text`)
Prompt = str | Sequence[dict]

#: how a chat transcript's roles are written when a judge reads it as text
_ROLE_NAMES = {
    "system": "System",
    "developer": "System",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool",
}


def prompt_text(prompt: Prompt | None) -> str:
    """The prompt as the judges read it: text, or a conversation given as chat messages
    (``[{"role": "user", "content": "..."}, ...]``, OpenAI style; a content may be a list of
    ``{"type": "text", "text": ...}`` parts) written as a ``User: ... / Assistant: ...``
    transcript, so the rules read its last user turn as the request. Anything else is a
    ``ValueError`` naming what is wrong."""
    if prompt is None or isinstance(prompt, str):
        return prompt or ""
    if not isinstance(prompt, Sequence) or not prompt:
        raise ValueError(
            f"a prompt is text or a non-empty list of chat messages, not {type(prompt).__name__}"
        )
    turns = []
    for i, message in enumerate(prompt):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLE_NAMES:
            raise ValueError(
                f"chat message {i} of the prompt: expected a {{'role', 'content'}} object with a role in "
                f"{', '.join(_ROLE_NAMES)}; got {str(message)[:80]!r}"
            )
        content = message.get("content")
        if isinstance(content, list):  # content parts: the text ones, in order
            content = "\n".join(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        if not isinstance(content, str):
            raise ValueError(f"chat message {i} of the prompt ({role}): its content is not text")
        turns.append(f"{_ROLE_NAMES[role]}: {content.strip()}")
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in prompt):
        raise ValueError(
            "the prompt's chat messages hold no user message: there is no request to judge against"
        )
    return "\n".join(turns)


class Judge(ABC):
    """Labels (prompt, response) pairs. Subclasses implement :meth:`_ajudge`.

    :meth:`ajudge` (and :meth:`judge`, its synchronous twin) first sets degenerate replies
    aside (:func:`falsereject.judge.degenerate.degenerate`: labelled ``direct_refusal`` with
    ``degenerate=True``), so no judge ever calls a loop or an empty trace full compliance,
    and hands the rest to :meth:`_ajudge`.
    """

    name: str = "abstract"

    @abstractmethod
    async def _ajudge(
        self, prompts: Sequence[str], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        """Judge every (non-degenerate) pair; call ``progress(k)`` as ``k`` more are done."""

    async def ajudge(
        self, prompts: Sequence[Prompt], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        from falsereject.judge.degenerate import degenerate

        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        prompts = [prompt_text(p) for p in prompts]
        out: list[Judgement | None] = []
        rest = []
        for i, response in enumerate(responses):
            why = degenerate(response or "")
            out.append(
                None if why is None else Judgement(REFUSAL, f"degenerate: {why}", self.name, degenerate=True)
            )
            if why is None:
                rest.append(i)
        if progress is not None and len(rest) < len(out):
            progress(len(out) - len(rest))
        judged = await self._ajudge(
            [prompts[i] for i in rest], [responses[i] or "" for i in rest], progress=progress
        )
        for i, j in zip(rest, judged, strict=True):
            out[i] = j
        return out  # type: ignore[return-value]

    def judge(
        self, prompts: Sequence[Prompt], responses: Sequence[str], *, progress: Progress | None = None
    ) -> list[Judgement]:
        from falsereject.llm.base import run_sync

        return run_sync(self.ajudge(prompts, responses, progress=progress))
