"""Dataset mixtures: exact counts, seeded sampling, column formatting, clear errors."""

from __future__ import annotations

import json

import pytest

from falsereject.errors import UserError
from falsereject.training.mixture import SAMPLE_ALIAS, build_mixture, parse_mixture, to_messages


def _jsonl_folder(path, rows):
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "train.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return str(path)


@pytest.fixture
def chats(tmp_path):
    rows = [
        {
            "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
            "extra": i,
        }
        for i in range(40)
    ]
    return _jsonl_folder(tmp_path / "chats", rows)


@pytest.fixture
def pairs(tmp_path):
    rows = [{"prompt": f"p{i}", "instruct_response": f"r{i}", "category": 1} for i in range(30)]
    return _jsonl_folder(tmp_path / "pairs", rows)


def _users(ds):
    return [next(m["content"] for m in row["messages"] if m["role"] == "user") for row in ds]


def test_rows_and_fraction_are_exact_and_recorded(chats, pairs):
    built = build_mixture(
        {
            "seed": 3,
            "sources": [
                {"path": chats, "rows": 7},
                {
                    "path": pairs,
                    "fraction": 0.5,
                    "config": None,
                    "prompt_column": "prompt",
                    "response_column": "instruct_response",
                },
            ],
        }
    )
    assert len(built.train) == 7 + 15
    a, b = built.records
    assert (a.available, a.selected, a.used, a.dropped) == (40, 7, 7, 0)
    assert (b.available, b.selected, b.used) == (30, 15, 15)
    assert built.train.column_names == ["messages"]
    users = _users(built.train)
    assert sum(u.startswith("q") for u in users) == 7 and sum(u.startswith("p") for u in users) == 15
    assert built.to_dict()["train_rows"] == 22 and built.to_dict()["sources"][0]["used"] == 7


def test_sampling_is_seeded_and_random(chats):
    def pick(seed):
        return _users(build_mixture({"seed": seed, "sources": [{"path": chats, "rows": 10}]}).train)

    assert pick(1) == pick(1)
    assert set(pick(1)) != set(pick(2)), "a different seed draws different rows"
    assert set(pick(1)) != {f"q{i}" for i in range(10)}, "rows are drawn at random, not the first N"


def test_never_oversamples(chats):
    with pytest.raises(UserError, match=r"rows=41 .* only 40 rows"):
        build_mixture({"sources": [{"path": chats, "rows": 41}]})


def test_unknown_keys_and_bad_values_are_user_errors(chats):
    with pytest.raises(UserError, match=r"sources\[0\]: unknown key\(s\) weight"):
        parse_mixture({"sources": [{"path": chats, "weight": 0.5}]})
    with pytest.raises(UserError, match="unknown key"):
        parse_mixture({"sources": [{"path": chats}], "shuffle": True})
    with pytest.raises(UserError, match="`fraction` or `rows`, not both"):
        parse_mixture({"sources": [{"path": chats, "rows": 3, "fraction": 0.5}]})
    with pytest.raises(UserError, match=r"fraction must be in \(0, 1\]"):
        parse_mixture({"sources": [{"path": chats, "fraction": 1.5}]})
    with pytest.raises(UserError, match="sources` is empty"):
        parse_mixture({"sources": []})


def test_missing_folder_and_column_are_clear(tmp_path, chats):
    with pytest.raises(UserError, match="neither a folder nor a Hub id"):
        build_mixture({"sources": [{"path": str(tmp_path / "nope")}]})
    with pytest.raises(UserError, match="no column 'answer'"):
        build_mixture({"sources": [{"path": chats, "prompt_column": "extra", "response_column": "answer"}]})


def test_guessed_columns_sharegpt_and_system(tmp_path):
    sharegpt = _jsonl_folder(
        tmp_path / "sharegpt",
        [
            {
                "system": "Think first.",
                "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}],
            },
            {"system": "", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": ""}]},
        ],
    )
    built = build_mixture({"sources": [{"path": sharegpt, "system_column": "system"}]})
    assert built.records[0].used == 1 and built.records[0].dropped == 1, (
        "a row with an empty answer is dropped"
    )
    assert built.train[0]["messages"] == [
        {"role": "system", "content": "Think first."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ]


def test_config_response_column_is_guessed():
    cols = {"messages": None, "prompt": "prompt", "response": "cot_response", "system": None}
    row = {"prompt": "How do I kill a stuck process?", "cot_response": "<think>benign</think> Use kill."}
    assert to_messages(row, cols, system_prompt="Be helpful.") == [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "How do I kill a stuck process?"},
        {"role": "assistant", "content": "<think>benign</think> Use kill."},
    ]


def test_shipped_sample_alias_and_eval_rows():
    built = build_mixture(
        {"seed": 0, "eval_rows": 2, "sources": [{"path": SAMPLE_ALIAS, "config": "instruct", "rows": 10}]}
    )
    assert len(built.train) == 8 and len(built.eval) == 2
    rec = built.records[0]
    assert rec.columns == "prompt, instruct_response" and rec.version and rec.version.startswith("0.")
    assert set(_users(built.train)).isdisjoint(_users(built.eval))
