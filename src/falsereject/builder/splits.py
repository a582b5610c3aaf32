"""Stage 8a, splits: train or test from a hash of the row id (and a salt), nothing else.

A row keeps its split whatever else is in the run, whatever order rows arrive in, and
across releases with the same salt: the test split never drifts into train. Changing the
salt reshuffles everything (bump the dataset's major version if you do).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from operator import itemgetter
from typing import TypeVar

from falsereject.builder.config import SplitConfig

T = TypeVar("T")


def split_of(row_id: str, config: SplitConfig) -> str:
    digest = hashlib.sha256(f"{config.salt}\x00{row_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < config.test_fraction else "train"


def assign(
    rows: list[T], config: SplitConfig, id_of: Callable[[T], str] = itemgetter("id")
) -> dict[str, list[T]]:
    """Rows grouped by split (each group in the input order); ``id_of(row)`` is a row's id."""
    out: dict[str, list[T]] = {"train": [], "test": []}
    for row in rows:
        out[split_of(id_of(row), config)].append(row)
    return out
