from __future__ import annotations

import pytest

from falsereject.errors import UserError
from falsereject.taxonomy import CATEGORIES, category_name, resolve


def test_44_categories_with_unique_names():
    assert list(CATEGORIES) == list(range(1, 45))
    assert len(set(CATEGORIES.values())) == 44
    assert category_name(12) == "System Intrusion/Hacking"


@pytest.mark.parametrize(
    "given", [12, "12", " 12 ", "System Intrusion/Hacking", "system intrusion / hacking"]
)
def test_resolve_accepts_ids_and_names(given):
    assert resolve(given) == 12


@pytest.mark.parametrize("bad", [0, 45, "45", "Hacking", True, ""])
def test_resolve_rejects_unknown(bad):
    with pytest.raises(UserError, match="unknown category"):
        resolve(bad)
