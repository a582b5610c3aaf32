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
import dataclasses
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from falsereject.builder import rows
from falsereject.builder.config import BuilderConfig
from falsereject.builder.parsing import AgentOutputError
from falsereject.builder.prompts import PromptTemplate
from falsereject.builder.rows import Row
from falsereject.builder.stage import Build, Record, Stage
from falsereject.judge.base import REFUSAL
from falsereject.llm import Backend, Messages

KINDS = ("instruct", "cot", "tbr")

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


@dataclass(frozen=True, slots=True)
class ResponsesRecord(Record):
    """On disk as ``<kind>_response`` columns (and ``labels`` when the judge checked them)."""

    responses: dict[str, str]  # kind (instruct/cot/tbr) -> text
    labels: dict[str, str] | None = None  # kind -> the judge's label of its final answer

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {f"{kind}_response": text for kind, text in self.responses.items()}
        if self.labels is not None:
            data["labels"] = self.labels
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResponsesRecord:
        texts = {kind: data[f"{kind}_response"] for kind in KINDS if f"{kind}_response" in data}
        return cls(texts, data.get("labels"))


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
    query: str,
    backend: Backend,
    templates: dict[str, PromptTemplate],
    judge: Any,
    config: BuilderConfig,
) -> ResponsesRecord:
    """All configured response kinds for one row (concurrently)."""

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
    texts: dict[str, str] = {}
    answers: dict[str, str] = {}
    for kind, value in results.items():
        if isinstance(value, tuple):
            texts[kind], answers[kind] = value
        else:
            texts[kind] = answers[kind] = value
    if not (config.responses.drop_refusals and answers):
        return ResponsesRecord(texts)
    names = list(answers)
    judgements = await judge.ajudge([query] * len(names), [answers[n] for n in names])
    record = ResponsesRecord(texts, {n: j.label for n, j in zip(names, judgements, strict=True)})
    refused = [n for n in names if record.labels[n] == REFUSAL]
    if refused:
        raise AgentOutputError(
            "response_refusal", f"the {', '.join(refused)} answer is a refusal", record.to_json()
        )
    return record


def _fingerprint(b: Build) -> dict[str, Any]:
    r = b.config.responses
    return {
        "responder": b.identity("responder"),
        "templates": {k: b.templates[k].sha256 for k in r.kinds},
        "responses": dataclasses.asdict(r),
        "judge": b.judge_identity() if r.drop_refusals else None,
    }


def _items(b: Build) -> list[tuple[str, str]]:
    """The train rows, by id (the test split is prompts only)."""
    if not b.config.responses.kinds:
        return []
    return [(r.id, r.query) for r in b.once(rows.by_split)["train"]]


def _run(b: Build, query: str) -> Awaitable[ResponsesRecord]:
    return write_responses(query, b.backend("responder"), b.templates, b.judge(), b.config)


STAGE: Stage[str, ResponsesRecord] = Stage(
    number=7, name="responses", record=ResponsesRecord, fingerprint=_fingerprint, items=_items, row=_run,
    templates=lambda c: {
        "instruct": c.responses.instruct_template, "cot": c.responses.cot_template, "tbr": c.responses.tbr_template,
    },
    category=lambda b, key: b.once(rows.by_id)[key].category,  # the row's final category
)  # fmt: skip


def release_rows(b: Build) -> tuple[list[Row], list[Row]]:
    """(train rows with their responses, test rows); a train row still without them is left out."""
    split = b.once(rows.by_split)
    if not b.config.responses.kinds:
        return split["train"], split["test"]
    answered = b.ok(STAGE)
    train = [r.with_responses(answered[r.id].responses) for r in split["train"] if r.id in answered]
    return train, split["test"]
