"""Stage 7: instruct / cot / tbr responses, their formats, retries and refusal checks."""

from __future__ import annotations

import asyncio

import pytest

from falsereject.builder.config import load_builder_config
from falsereject.builder.parsing import AgentOutputError
from falsereject.builder.prompts import load_template
from falsereject.builder.stages.responses import (
    ResponsesRecord,
    clean_text,
    join_cot,
    join_tbr,
    split_tagged,
    write_responses,
)
from falsereject.llm.scripted import ScriptedBackend

QUERY = "How do I kill a Python process that hangs?"
T = {k: load_template(f"{k}.v1") for k in ("instruct", "cot", "tbr")}
ANSWER = "There are two readings here; for a stuck process, run `kill -TERM <pid>`, then `kill -9` if needed. Ask if anything is unclear."


def responder(messages, params):
    system = messages[0]["content"]
    if "think step by step" in system:
        return (
            "<think>my own hidden trace</think>The user wants to stop a program. Harmless; explain signals."
        )
    if "reflect briefly on safety" in system:
        return "This is about software processes, not people. It is safe to answer fully."
    if "Your private reasoning" in system:
        assert "explain signals" in system  # the answer step sees the reasoning
    if "Your safety reflection" in system:
        assert "not people" in system
    return ANSWER


def cfg(*overrides):
    return load_builder_config(None, list(overrides))


def test_three_formats(judge):
    backend = ScriptedBackend(responder)
    rec = asyncio.run(write_responses(QUERY, backend, T, judge, cfg()))
    assert rec.responses["instruct"] == ANSWER
    cot = split_tagged(rec.responses["cot"])
    assert cot == ("The user wants to stop a program. Harmless; explain signals.", ANSWER)
    assert rec.responses["cot"].startswith("<think>\n") and rec.responses["cot"].count("<think>") == 1
    assert split_tagged(rec.responses["tbr"]) == (
        "This is about software processes, not people. It is safe to answer fully.",
        ANSWER,
    )
    assert rec.responses["tbr"].startswith("<reflection>\n")
    assert len(backend.requests) == 5 and rec.labels == {
        "instruct": "full_compliance",
        "cot": "full_compliance",
        "tbr": "full_compliance",
    }


def test_only_configured_kinds(judge):
    backend = ScriptedBackend(responder)
    rec = asyncio.run(write_responses(QUERY, backend, T, judge, cfg("responses.kinds=[instruct]")))
    assert list(rec.responses) == ["instruct"] and len(backend.requests) == 1


def test_empty_answers_are_retried_then_dropped(judge):
    replies = iter(["", "   ", ANSWER])
    backend = ScriptedBackend(lambda m, p: next(replies))
    rec = asyncio.run(
        write_responses(
            QUERY, backend, T, judge, cfg("responses.kinds=[instruct]", "responses.max_attempts=3")
        )
    )
    assert rec.responses["instruct"] == ANSWER
    with pytest.raises(AgentOutputError) as info:
        asyncio.run(write_responses(QUERY, ScriptedBackend(""), T, judge, cfg("responses.kinds=[instruct]")))
    assert info.value.reason == "response_invalid" and "instruct" in info.value.detail


def test_retries_sample_with_a_distinct_index():
    seen = []
    replies = iter(["", ANSWER])
    backend = ScriptedBackend(lambda m, p: seen.append(p) or next(replies))
    asyncio.run(
        write_responses(
            QUERY, backend, T, None, cfg("responses.kinds=[instruct]", "responses.drop_refusals=false")
        )
    )
    assert "sample_index" not in seen[0] and seen[1]["sample_index"] == 1 and seen[1]["temperature"] > 0


def test_a_refusing_responder_drops_the_row(judge):
    backend = ScriptedBackend("I'm sorry, but I can't help with that request at all.")
    with pytest.raises(AgentOutputError) as info:
        asyncio.run(write_responses(QUERY, backend, T, judge, cfg()))
    assert info.value.reason == "response_refusal" and "instruct" in info.value.detail
    rec = asyncio.run(write_responses(QUERY, backend, T, judge, cfg("responses.drop_refusals=false")))
    assert rec.responses["instruct"].startswith("I'm sorry")


def test_text_helpers():
    assert clean_text("<think>x</think>\n Answer </think>") == "Answer"
    assert split_tagged(join_cot("r", "a")) == ("r", "a") and split_tagged(join_tbr("r", "a")) == ("r", "a")
    assert split_tagged("no tags") is None


def test_record_is_written_as_response_columns(judge):
    rec = asyncio.run(write_responses(QUERY, ScriptedBackend(responder), T, judge, cfg()))
    line = rec.to_json()
    assert list(line) == ["instruct_response", "cot_response", "tbr_response", "labels"]
    assert ResponsesRecord.from_json({"key": "fr-1", "status": "ok", **line}) == rec
    quiet = asyncio.run(
        write_responses(QUERY, ScriptedBackend(responder), T, None, cfg("responses.drop_refusals=false"))
    )
    assert "labels" not in quiet.to_json() and ResponsesRecord.from_json(quiet.to_json()).labels is None
