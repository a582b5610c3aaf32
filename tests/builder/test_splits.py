"""Deterministic splits from a salted hash of the row id."""

from __future__ import annotations

from falsereject.builder.config import SplitConfig
from falsereject.builder.splits import assign, split_of
from falsereject.dataset import row_id


def test_split_is_a_function_of_the_id_only():
    ids = [row_id(f"prompt number {i}") for i in range(4000)]
    cfg = SplitConfig(test_fraction=0.1)
    splits = [split_of(i, cfg) for i in ids]
    assert splits == [split_of(i, cfg) for i in ids]
    assert 0.08 < splits.count("test") / len(ids) < 0.12
    rows = [{"id": i} for i in ids]
    small = assign(rows[:50], cfg)
    big = assign(rows, cfg)
    assert small["test"] == [r for r in big["test"] if r in rows[:50]]  # other rows change nothing


def test_salt_and_extremes():
    ids = [row_id(f"p{i}") for i in range(500)]
    a = [split_of(i, SplitConfig(0.5, salt="a")) for i in ids]
    b = [split_of(i, SplitConfig(0.5, salt="b")) for i in ids]
    assert a != b
    assert {split_of(i, SplitConfig(0.0)) for i in ids} == {"train"}
    assert {split_of(i, SplitConfig(1.0)) for i in ids} == {"test"}
