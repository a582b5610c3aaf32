"""Text normalisation for the keyword judge (rules N1-N8 in :mod:`falsereject.judge.keyword`)."""

from __future__ import annotations

import re
import unicodedata

from falsereject.judge.degenerate import final_answer

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": " - ",
        "\u2014": " - ",
        "\u2026": "...",
        "\u00a0": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\ufeff": "",
        "\t": " ",
        "\r": "\n",
    }
)
_COMMON_CHARS = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2014", " - "),
    ("\u2013", " - "),
    ("\u2026", "..."),
    ("\u00a0", " "),
)
_RARE_CHARS = re.compile("[" + "".join(chr(c) for c in _TRANSLATE if c > 127) + "]")
#: N7: Cyrillic and Greek letters that look like Latin ones (lower case), used to spell a
#: refusal that a phrase list would miss; applied only inside words that mix
#: scripts, so Russian or Greek text stays as it is
_CONFUSABLES = str.maketrans(
    "\u0430\u0441\u0435\u043e\u0440\u0445\u0443\u0456\u0458\u0455\u04bb\u0501\u051b\u051d\u03bf\u03b1\u03b9\u03bd\u03c1\u03ba\u03c4\u03b5",
    "aceopxyijshdqwoaivpkte",
)
_CONFUSABLE_CHAR = re.compile("[" + "".join(chr(c) for c in _CONFUSABLES) + "]")
_MIXED_WORD = re.compile(r"[^\W\d_]*(?:[a-z][^\W\d_a-z]|[^\W\d_a-z][a-z])[^\W\d_]*")
#: N8: inline HTML/XML tags outside code ("i <b>cannot</b> help") are dropped
_TAG = re.compile(r"</?[a-z][a-z0-9]{0,10}(?:\s[^<>]{0,200})?/?>")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{0,200}`")
_DQUOTE = re.compile(r'"[^"\n]{0,400}"')
_SQUOTE = re.compile(r"[ \n]'(?=[a-z])(?:[^'\n]|'(?=[a-z])){0,300}?'(?![a-z])")  # char class first: fast
_SPACES = re.compile(r" {2,}")
#: sentence boundaries: end punctuation + whitespace, or a line break (a char class first: fast)
SPLIT = re.compile(r"[\n.!?](?:(?<=\n)|[.!?]*\s)\s*")
#: bullet and numbered list items
LIST_ITEM = re.compile(r"\n *(?:[-*+\u2022]|\d{1,3}[.)]) +\S")
_LEAD = "#>*-+\u2022 "
_NUMBERED = re.compile(r"\d{1,3}[.)] *")
_CONTRACTIONS = (
    ("can't", "cannot"),
    ("won't", "will not"),
    ("n't", " not"),
    ("i'm", "i am"),
    ("'ll", " will"),
    ("'re", " are"),
    ("'ve", " have"),
    ("i'd", "i would"),
    ("it's", "it is"),
    ("that's", "that is"),
    ("there's", "there is"),
    ("here's", "here is"),
    ("what's", "what is"),
)
_SLOPPY_FORMS = {"cant": "cannot", "wont": "will not", "dont": "do not", "im": "i am"}
_SLOPPY = re.compile(r"\b(?:cant|wont|dont|im)\b")
#: the first character of a masked quote or code block (N3, N4)
QUOTE = "\u00ab"


def _mask(m: re.Match) -> str:
    """A quoted passage becomes one opaque token of the same length (N4): it still counts as
    content (a quoted ad or post is the help asked for) but no phrase can match inside it."""
    text = m.group()
    lead = text[0] if text[0] in " \n" else ""
    return lead + QUOTE + "q" * max(0, len(text) - len(lead) - 2) + "\u00bb"


def normalise(text: str) -> tuple[str, int]:
    """N1-N4 on a whole response: the text to judge and the number of fenced code blocks."""
    t = final_answer(text).lower()
    if not t.isascii():
        if not unicodedata.is_normalized("NFKC", t):
            t = unicodedata.normalize("NFKC", t)
        if _CONFUSABLE_CHAR.search(t):
            t = _MIXED_WORD.sub(lambda m: m.group().translate(_CONFUSABLES), t)
        for a, b in _COMMON_CHARS:  # str.replace is much faster than translate here
            if a in t:
                t = t.replace(a, b)
        if _RARE_CHARS.search(t):
            t = t.translate(_TRANSLATE)
    if "\t" in t or "\r" in t:
        t = t.replace("\t", " ").replace("\r", "\n")
    code = 0
    if "```" in t:
        t, code = _FENCE.subn(lambda m: "\n" + _mask(m) + "\n", t)
    if "<" in t and _TAG.search(t):
        t = _TAG.sub("", t)
    if "`" in t:
        t = _INLINE_CODE.sub(" \u00abcode\u00bb ", t)
    if '"' in t:
        t = _DQUOTE.sub(_mask, t)
    if "'" in t and ("\n'" in t or " '" in t or t.startswith("'")):
        t = _SQUOTE.sub(_mask, " " + t)[1:]
    if "  " in t:
        t = _SPACES.sub(" ", t)
    if " \n" in t:
        t = t.replace(" \n", "\n")
    return t.strip(), code


def expand(s: str) -> str:
    """N5/N6 for one sentence: contractions expanded, markdown emphasis and double spaces gone."""
    if "'" in s:
        for a, b in _CONTRACTIONS:
            if a in s:
                s = s.replace(a, b)
    if "cant" in s or "wont" in s or "dont" in s or "im " in s:  # apostrophe dropped
        s = _SLOPPY.sub(lambda m: _SLOPPY_FORMS[m.group()], s)
    if "**" in s or "__" in s:
        s = s.replace("**", "").replace("__", "")
    if "  " in s:
        s = _SPACES.sub(" ", s)
    return s


def strip_lead(s: str) -> str:
    """N6: drop heading marks, quote marks and list markers ("- ", "2. ") before a sentence."""
    s = s.lstrip(_LEAD)
    if s[:1].isdigit():
        m = _NUMBERED.match(s)
        if m:
            s = s[m.end() :]
    return s


def looks_english(head: str) -> bool:
    """Whether the opening of a normalised reply reads as English (common function words)."""
    return (
        " the " in head
        or " and " in head
        or " you " in head
        or " with " in head
        or " that " in head
        or " this " in head
        or " for " in head
        or " of " in head
    )


# --- decision rules (K): each returns a decision or None; the first that decides wins ---------
