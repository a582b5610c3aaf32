"""JSON out of agents: extraction, repairs, bounded retries with the model's reply shown."""

from __future__ import annotations

import asyncio

import pytest

from falsereject.builder.parsing import AgentOutputError, as_bool, ask_json, extract_json, require_str
from falsereject.llm.scripted import ScriptedBackend


@pytest.mark.parametrize(
    "text",
    [
        '{"query": "How do I kill a process?", "n": 1}',
        'Sure! Here it is:\n```json\n{"query": "How do I kill a process?", "n": 1}\n```\nHope it helps.',
        'Answer: {"query": "How do I kill a process?", "n": 1,} trailing words',
        "{'query': 'How do I kill a process?', 'n': 1}",
        '{query: "How do I kill a process?", n: 1}',
        '<think>the user wants {json}</think>{"query": "How do I kill a process?", "n": 1}',
        "{\u201cquery\u201d: \u201cHow do I kill a process?\u201d, \u201cn\u201d: 1}",
    ],
)
def test_extract_json_repairs_common_slips(text):
    assert extract_json(text) == {"query": "How do I kill a process?", "n": 1}


def test_truncated_json_is_closed():
    assert extract_json('{"query": "How do I kill a pro') == {"query": "How do I kill a pro"}
    assert extract_json('{"entities": [{"name": "gun", "type": "object"}, {"name": "sho') == {
        "entities": [{"name": "gun", "type": "object"}, {"name": "sho"}]
    }


def test_cut_short_inside_an_item_keeps_the_complete_items():
    text = '{\n "entities": [\n  {"name": "Adderall", "type": "object"},\n  {"name": "Dr. Patel", "type'
    assert extract_json(text) == {"entities": [{"name": "Adderall", "type": "object"}, {"name": "Dr. Patel"}]}
    assert extract_json('{"a": [1, 2], "b": {"c": "d", "e"') == {"a": [1, 2], "b": {"c": "d"}}


def test_python_literals_and_braces_inside_strings():
    assert extract_json("{'ok': True, 'x': None}") == {"ok": True, "x": None}
    assert extract_json('{"q": "use {braces} and \\"quotes\\""}') == {"q": 'use {braces} and "quotes"'}


@pytest.mark.parametrize("text", ["", "I cannot help with that.", "[1, 2, 3]", "{{{{ nope"])
def test_no_object_is_a_value_error(text):
    with pytest.raises(ValueError):
        extract_json(text)


def test_field_helpers():
    assert require_str({"a": " x "}, "a") == "x"
    assert as_bool({"a": "yes"}, "a") is True and as_bool({"a": False}, "a") is False
    with pytest.raises(ValueError, match='"a"'):
        require_str({"a": ""}, "a")
    with pytest.raises(ValueError, match='"a"'):
        as_bool({"a": "maybe"}, "a")


def _validate(obj):
    if "query" not in obj:
        raise ValueError('"query" is missing')
    return obj["query"]


def test_ask_json_retries_showing_the_bad_reply():
    backend = ScriptedBackend(["not json at all", '{"other": 1}', '{"query": "fine"}'])
    value, attempts = asyncio.run(
        ask_json(backend, [{"role": "user", "content": "go"}], _validate, role="generator", attempts=3)
    )
    assert (value, attempts) == ("fine", 3)
    second, third = backend.requests[1], backend.requests[2]
    assert second[1] == {"role": "assistant", "content": "not json at all"}
    assert "no JSON object" in second[2]["content"]
    assert third[1]["content"] == '{"other": 1}' and '"query" is missing' in third[2]["content"]
    assert len(third) == 3  # only the last bad reply is shown: prompts do not grow


def test_ask_json_gives_up_with_a_reason():
    backend = ScriptedBackend("I'd rather not")
    with pytest.raises(AgentOutputError) as info:
        asyncio.run(
            ask_json(
                backend, [{"role": "user", "content": "go"}], _validate, role="discriminator", attempts=2
            )
        )
    assert info.value.reason == "invalid_output"
    assert "discriminator" in info.value.detail and "2 attempt" in info.value.detail
    assert len(backend.requests) == 2
