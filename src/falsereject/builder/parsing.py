"""Getting JSON out of agents: lenient extraction, small repairs, bounded retries.

Models wrap JSON in prose or code fences, leave trailing commas, use Python literals or
single quotes, or stop mid-object at ``max_tokens``. :func:`extract_json` finds the first
JSON object in a reply and repairs those cases. :func:`ask_json` asks again (showing the
model its reply and what was wrong) up to ``attempts`` times, then raises
:class:`AgentOutputError`, which makes the pipeline drop that row with the reason logged.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

from falsereject.llm.base import Backend, Messages

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")
_SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class AgentOutputError(Exception):
    """An agent gave no usable output after its retries; the row is dropped with ``reason``."""

    def __init__(self, reason: str, detail: str = "", extra: dict[str, Any] | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.extra = extra or {}  # provenance kept in the dropped row's record


def _object_span(text: str, start: int) -> tuple[str, bool, list[int]]:
    """The object opening at ``start``: (its text, whether it closed, its commas' positions).

    String-aware. A reply cut short (``max_tokens``) gets its open string and brackets closed.
    """
    stack: list[str] = []
    commas: list[int] = []
    in_str = escaped = False
    quote = '"'
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                in_str = False
            continue
        if ch in "\"'":
            in_str, quote = True, ch
        elif ch == ",":
            commas.append(i)
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if stack and stack[-1] == ch:
                stack.pop()
            if not stack:
                return text[start : i + 1], True, commas
    tail = text[start:]
    if in_str:
        tail += quote
    tail = re.sub(r",\s*$", "", tail.rstrip())
    if tail.endswith(":"):
        tail += " null"
    return tail + "".join(reversed(stack)), False, commas


def _parse_object(source: str, start: int) -> Any:
    """Parse the object at ``start``; a cut-short one is also tried cut back to an earlier comma
    (dropping a half-written last item), so the complete items it holds are kept."""
    candidate, closed, commas = _object_span(source, start)
    try:
        return _loads(candidate)
    except ValueError:
        if closed:
            raise
    for cut in reversed(commas[-25:]):
        try:
            return _loads(_object_span(source[:cut], start)[0])
        except ValueError:
            continue
    raise ValueError("the reply is not valid JSON (cut short?)")


def _loads(candidate: str) -> Any:
    attempts = [candidate, candidate.translate(_SMART)]
    fixed = _TRAILING_COMMA.sub(r"\1", candidate.translate(_SMART))
    attempts += [fixed, _BARE_KEY.sub(r'\1"\2":', fixed)]
    for text in attempts:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    # Python-literal style: {'a': True, 'b': None}
    py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", fixed)))
    try:
        value = ast.literal_eval(py)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("the reply is not valid JSON") from None
    return json.loads(json.dumps(value, default=str))


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (fences, prose, small syntax slips tolerated).

    Raises ``ValueError`` with a short reason when there is none.
    """
    text = _THINK.sub("", text or "")
    fenced = _FENCE.findall(text)
    sources = [*fenced, text] if fenced else [text]
    last_error = "the reply contains no JSON object"
    for source in sources:
        start = source.find("{")
        while start != -1:
            try:
                value = _parse_object(source, start)
            except ValueError as exc:
                last_error = str(exc)
            else:
                if isinstance(value, dict):
                    return value
                last_error = "the reply's JSON is not an object"
            start = source.find("{", start + 1)
    raise ValueError(last_error)


Validator = Callable[[dict[str, Any]], Any]


async def ask_json(
    backend: Backend,
    messages: Messages,
    validate: Validator,
    *,
    role: str,
    attempts: int = 3,
    repair: str = "Your reply could not be used ({error}). Reply again with only the JSON object asked for.",
    **params: Any,
) -> tuple[Any, int]:
    """Ask until ``validate(extract_json(reply))`` passes; returns (value, attempts used).

    ``validate`` returns the cleaned value or raises ``ValueError`` saying what is wrong;
    the next attempt shows the model its reply and that message.
    """
    msgs = list(messages)
    error = ""
    for attempt in range(1, attempts + 1):
        gen = await backend.agenerate(msgs, **params)
        reply = gen.text
        try:
            return validate(extract_json(reply)), attempt
        except ValueError as exc:
            error = str(exc)
        msgs = [
            *messages,
            {"role": "assistant", "content": reply[:600] or "(empty)"},
            {"role": "user", "content": repair.replace("{error}", error)},
        ]
    raise AgentOutputError("invalid_output", f"{role}: no usable JSON after {attempts} attempt(s): {error}")


def require_str(obj: dict[str, Any], key: str, *, min_len: int = 1) -> str:
    value = obj.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value.strip()) < min_len:
        raise ValueError(f'"{key}" must be a non-empty string')
    return value.strip()


def as_bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    raise ValueError(f'"{key}" must be true or false')
