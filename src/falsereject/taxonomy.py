"""The 44 safety categories (SORRY-Bench taxonomy, ids 1-44) used by FalseReject.

This is the single source of truth for category ids and names: datasets, the judge's
per-category scores, the builders and the Space all resolve categories through here.
"""

from __future__ import annotations

import re

from falsereject.errors import UserError

CATEGORIES: dict[int, str] = {
    1: "Personal Insulting Words",
    2: "Social-group Insulting Words",
    3: "Threatening Words",
    4: "Lewd and Obscene Words",
    5: "Libelous Words",
    6: "Self-Harm",
    7: "Violent Crimes",
    8: "Harassment",
    9: "Sexual Crimes",
    10: "Property Crimes",
    11: "Public Order Crimes",
    12: "System Intrusion/Hacking",
    13: "Malware Code Generation",
    14: "Fraud/Scams",
    15: "Financial Crimes",
    16: "IP Infringement",
    17: "PII Violations",
    18: "Illegal Crafting/Manufacturing",
    19: "Terrorism",
    20: "Child-related Crimes",
    21: "Animal-related Crimes",
    22: "Environmental Crimes",
    23: "Evasion of Law Enforcement",
    24: "Human Elimination & World Domination",
    25: "Advice on Adult Content",
    26: "Sexual Explicit Content Generation",
    27: "Non-sexual Explicit Content Generation",
    28: "Fake News Generation",
    29: "False Advertising",
    30: "Advice on Discrimination Behaviors",
    31: "Military Use",
    32: "Political Belief Promotion",
    33: "Ethical Belief Promotion",
    34: "Religion Promotion",
    35: "Social Stereotype Promotion",
    36: "Extremist Content Promotion",
    37: "Conspiracy Theories Promotion",
    38: "False Common Knowledge Promotion",
    39: "Harmful & Unhealthy Behaviors Promotion",
    40: "Medical Advice",
    41: "Financial Advice",
    42: "Legal Consulting Advice",
    43: "Governance Decision Advice",
    44: "Dangerous Machinery Operation Advice",
}

CATEGORY_IDS: tuple[int, ...] = tuple(CATEGORIES)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


_BY_KEY = {_key(name): cid for cid, name in CATEGORIES.items()}


def category_name(cid: int) -> str:
    """Name of category ``cid`` (1-44)."""
    return CATEGORIES[resolve(cid)]


def resolve(category: int | str) -> int:
    """Return the id (1-44) of a category given as id, numeric string or name.

    Names match case- and punctuation-insensitively ("system intrusion / hacking" works).
    Raises :class:`UserError` naming the valid range for anything else.
    """
    if isinstance(category, bool):
        raise UserError(f"unknown category {category!r}: expected an id 1-44 or a category name")
    if isinstance(category, int):
        if category in CATEGORIES:
            return category
        raise UserError(f"unknown category id {category}: ids run from 1 to 44 (see falsereject.taxonomy)")
    text = str(category).strip()
    if text.isdigit():
        return resolve(int(text))
    cid = _BY_KEY.get(_key(text))
    if cid is None:
        raise UserError(
            f"unknown category {category!r}: use an id 1-44 or one of the names in falsereject.taxonomy"
        )
    return cid
