"""Fixtures of the builder tests (helpers live in scripted_build.py)."""

from __future__ import annotations

import pytest

from builder.scripted_build import PrefixJudge


@pytest.fixture
def judge():
    return PrefixJudge()
