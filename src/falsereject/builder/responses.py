"""Stage 7, responses: ``instruct_response``, ``cot_response`` and ``tbr_response`` per train row.

* ``instruct``: the structured, context-aware answer (acknowledge the readings, answer the
  safe one in full, clarify/guide on the unsafe one, a closing line) — one call.
* ``cot``: a reasoning call, then an answer call that sees the reasoning; the builder joins
  them as ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``.
* ``tbr`` (Think-Before-Refusal): a short safety-reflection call, then an answer call that
  acts on it; joined as ``<reflection>\\n{reflection}\\n</reflection>\\n\\n{answer}``.

Composing the tagged formats from separate calls means any chat model (also one whose
server hides its native reasoning) yields well-formed rows. An empty/too-short text is
asked again (``max_attempts``, distinct ``sample_index``); with ``drop_refusals`` the judge
labels each final answer and a direct refusal drops the row.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.builder.parsing import AgentOutputError
from falsereject.builder.prompts import PromptTemplate
from falsereject.llm import Backend, Messages

_THINK = re.compile(r"<think>.*?</think>\s*", re.S)
_OPEN_TAGS = re.compile(r"</?(think|reflection)>", re.I)


def clean_text(text: str) -> str:
    """Drop a model's own ``<think>`` block and stray tags; trim."""
    return _OPEN_TAGS.sub("", _THINK.sub("", text or "")).strip()


def join_cot(reasoning: str, answer: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def join_tbr(reflection: str, answer: str) -> str:
    return f"<reflection>\n{reflection}\n</reflection>\n\n{answer}"


_COT = re.compile(r"^<think>\n(?P<a>.+?)\n</think>\n\n(?P<b>.+)$", re.S)
_TBR = re.compile(r"^<reflection>\n(?P<a>.+?)\n</reflection>\n\n(?P<b>.+)$", re.S)


def split_tagged(text: str) -> tuple[str, str] | None:
    """(reasoning or reflection, answer) of a ``cot``/``tbr`` response; None if malformed."""
    m = _COT.match(text) or _TBR.match(text)
    return (m.group("a"), m.group("b")) if m else None


async def _text(backend: Backend, messages: Messages, *, what: str, config: BuilderConfig) -> str:
    need = config.responses.min_chars
    last = ""
    for attempt in range(config.responses.max_attempts):
        params: dict[str, Any] = (
            {} if attempt == 0 else {"sample_index": attempt, "temperature": 0.7, "seed": attempt}
        )
        gen = await backend.agenerate(messages, **params)
        last = clean_text(gen.text)
        if len(last) >= need:
            return last
    raise AgentOutputError(
        "response_invalid",
        f"{what}: under {need} characters after {config.responses.max_attempts} attempt(s) ({len(last)})",
    )


async def write_responses(
    item: dict[str, Any],
    backend: Backend,
    templates: dict[str, PromptTemplate],
    judge: Any,
    config: BuilderConfig,
) -> dict[str, Any]:
    """All configured response kinds for one row (concurrently); the stage-7 record."""
    query = item["query"]

    async def instruct() -> str:
        return await _text(
            backend, templates["instruct"].messages(query=query), what="instruct", config=config
        )

    async def two_step(kind: str, first: str, var: str, join) -> tuple[str, str]:
        t = templates[kind]
        head = await _text(
            backend, t.messages(f"{first}.", query=query), what=f"{kind} {first}", config=config
        )
        answer = await _text(
            backend, t.messages("answer.", query=query, **{var: head}), what=f"{kind} answer", config=config
        )
        return join(head, answer), answer

    jobs: dict[str, Any] = {}
    kinds = config.responses.kinds
    if "instruct" in kinds:
        jobs["instruct"] = instruct()
    if "cot" in kinds:
        jobs["cot"] = two_step("cot", "think", "reasoning", join_cot)
    if "tbr" in kinds:
        jobs["tbr"] = two_step("tbr", "reflect", "reflection", join_tbr)
    results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    record: dict[str, Any] = {"status": "ok"}
    answers: dict[str, str] = {}
    for kind, value in results.items():
        if isinstance(value, tuple):
            record[f"{kind}_response"], answers[kind] = value
        else:
            record[f"{kind}_response"] = answers[kind] = value
    if config.responses.drop_refusals and answers:
        from falsereject.judge.base import REFUSAL

        names = list(answers)
        judgements = await judge.ajudge([query] * len(names), [answers[n] for n in names])
        record["labels"] = {n: j.label for n, j in zip(names, judgements, strict=True)}
        refused = [n for n in names if record["labels"][n] == REFUSAL]
        if refused:
            raise AgentOutputError(
                "response_refusal", f"the {', '.join(refused)} answer is a refusal", record
            )
    return record
