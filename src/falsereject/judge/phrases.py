"""The keyword judge's phrase lists (``data/judge_phrases.yaml``), compiled for speed.

Sentence-opening phrases are indexed by the words they can start with (:func:`first_words`,
computed from the regex itself), so a sentence tries only the few phrases its first word
allows: one dict lookup instead of one huge alternation. Phrases searched anywhere in a
sentence start with a space and are joined behind that literal (:func:`spaced`), so the regex
engine only tries them at spaces; plain word lists become prefix tries (:func:`trie`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


def alt(items: Sequence[str]) -> str:
    return "(?:" + "|".join(items) + ")"


def spaced(fragments: Sequence[str]) -> str:
    """``" (?:a|b)"`` from fragments that each start with a space: the regex then starts with a
    literal, so a search only tries the alternatives at spaces (several times faster)."""
    for fragment in fragments:
        if not fragment.startswith(" "):
            raise ValueError(f"judge phrase {fragment!r} must start with a space")
    return " (?:" + "|".join(f[1:] for f in fragments) + ")"


def trie(words: Sequence[str]) -> str:
    """A regex matching any of the literal ``words``, factored by common prefixes, so the
    engine branches on one character at a time instead of trying every word in turn."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict) -> str:
        alts = [
            re.escape(ch) + render(child) if ch else ""
            for ch, child in sorted(node.items(), key=lambda kv: kv[0] == "")
        ]
        if len(alts) == 1:
            return alts[0]
        optional = "" in node
        alts = [a for a in alts if a]
        body = "(?:" + "|".join(alts) + ")"
        return body + "?" if optional else body

    return render(tree)


_WORD_END = frozenset(" ,:;!.")
_MAX_PREFIXES = 20000


def first_words(pattern: str) -> frozenset[str] | None:
    """Every first word a sentence matched by ``pattern`` (anchored) can start with.

    ``None`` when the pattern's first word is unbounded (e.g. starts with ``[a-z]+``).
    Lets :func:`classify_sentence` try only the few phrases a sentence's first word allows
    (one dict lookup instead of one huge alternation: that is what makes the judge fast).
    """
    from re import _constants as c
    from re import _parser as sp

    class Unbounded(Exception):
        pass

    def seq(items, open_: set[str], done: set[str]) -> set[str]:
        for op, av in items:
            if not open_:
                return open_
            if op is c.LITERAL:
                ch = chr(av)
                if ch in _WORD_END:
                    done.update(w for w in open_ if w)
                    open_ = set()
                else:
                    open_ = {w + ch for w in open_}
            elif op is c.IN:
                chars = []
                for iop, iav in av:
                    if iop is not c.LITERAL:
                        raise Unbounded
                    chars.append(chr(iav))
                if any(ch in _WORD_END for ch in chars):
                    done.update(w for w in open_ if w)
                open_ = {w + ch for w in open_ for ch in chars if ch not in _WORD_END}
            elif op is c.BRANCH:
                out: set[str] = set()
                for alt in av[1]:
                    out |= seq(alt, set(open_), done)
                open_ = out
            elif op is c.SUBPATTERN:
                open_ = seq(av[-1], open_, done)
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                lo, hi, body = av
                once = seq(body, set(open_), done)
                if once and hi > 1:
                    raise Unbounded
                open_ = once if lo >= 1 else open_ | once
            elif op is c.AT:
                if av in (c.AT_BOUNDARY, c.AT_END, c.AT_END_STRING):
                    done.update(w for w in open_ if w)
                    open_ = set()
            elif op in (c.ASSERT, c.ASSERT_NOT):
                continue
            else:
                raise Unbounded
            if len(open_) > _MAX_PREFIXES:
                raise Unbounded
        return open_

    done: set[str] = set()
    try:
        rest = seq(sp.parse(pattern), {""}, done)
    except Unbounded:
        return None
    done.update(w for w in rest if w)
    return frozenset(done)


@dataclass(frozen=True)
class Patterns:
    version: int
    conn: re.Pattern  # one or more connectors ("however, ", "i am sorry, but ")
    conn_words: frozenset[str]
    clause: re.Pattern  # the opener of a short leading clause ("while", "i understand")
    clause_words: frozenset[str]
    by_word: dict[str, re.Pattern]  # first word -> the sentence-type phrases starting with it
    by_word_declines: dict[str, re.Pattern]  # the same, declines and disclaimers only
    ellipsis: re.Pattern  # a decline without its subject ("... and will not write it")
    ellipsis_words: frozenset[str]
    inner_words: frozenset[str]  # words that may start a decline/disclaimer clause
    verbs: re.Pattern  # a helping verb continuing a decline ("i cannot x or give you a dose")
    not_decline: re.Pattern
    declines_anywhere: re.Pattern
    topic_change: re.Pattern  # an offer to do something else instead (a decline; H4)
    aside: re.Pattern  # (?P<resource>) a help-line, or (?P<lecture>) a condemnation
    lecture: re.Pattern
    moral: re.Pattern
    harm: re.Pattern  # moral and risk/law/support terms (rule H1)
    normative: re.Pattern
    evaluative_prompt: re.Pattern
    foreign: re.Pattern
    foreign_words: frozenset[str]  # first words of the non-English phrases (a cheap gate)


#: sentence-type groups matched at a sentence opening, in priority order
OPEN_GROUPS = ("disclaim", "soft", "premise", "decline", "redirect", "neutral")


def load_phrases() -> dict[str, Any]:
    """The phrase lists shipped with the package (``data/judge_phrases.yaml``)."""
    text = resources.files("falsereject").joinpath("data/judge_phrases.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


_PRE = (
    r"(?:(?:really|simply|just|unfortunately|still|therefore|thus|also|definitely|absolutely|certainly"
    r"|respectfully|honestly|personally|truly|ultimately|sadly|regrettably|must|will|would) )?"
)


def phrase_groups(p: dict[str, Any]) -> dict[str, list[str]]:
    adverbs = rf"(?:{alt(p['adverbs'])} )*"
    core = (
        rf"(?:i|we) {_PRE}{alt(p['firm_negations'])} {adverbs}{alt(p['assist_verbs'])}"
        rf"|i {_PRE}{alt(p['soft_negations'])} {adverbs}{alt(p['soft_verbs'])}"
    )
    return {
        "disclaim": list(p["disclaimers"]),
        "soft": list(p["soft_declines"]),
        "premise": list(p["premise_rejections"]),
        "decline": [core, *p["declines"], *p["soft_deflections"]],
        "redirect": list(p["redirects"]),
        "neutral": list(p["neutral"]),
    }


@lru_cache(maxsize=1)
def patterns() -> Patterns:
    p = load_phrases()
    groups = phrase_groups(p)
    # index every phrase by the words it can start with
    by_word: dict[str, dict[str, list[str]]] = {}
    for group, phrases in groups.items():
        for phrase in phrases:
            words = first_words(phrase)
            if words is None:
                raise ValueError(f"judge phrase {phrase!r} must start with a bounded word")
            for w in words:
                by_word.setdefault(w, {}).setdefault(group, []).append(phrase)

    def compile_groups(gp: dict[str, list[str]], names: Sequence[str]) -> re.Pattern | None:
        parts = [f"(?P<{g}>{alt(gp[g])})" for g in names if g in gp]
        return re.compile("|".join(parts)) if parts else None

    compiled = {w: compile_groups(gp, OPEN_GROUPS) for w, gp in by_word.items()}
    declines_only = {w: compile_groups(gp, ("disclaim", "soft", "decline")) for w, gp in by_word.items()}
    declines_only = {w: rx for w, rx in declines_only.items() if rx is not None}
    conn = rf"(?:{alt(p['connectors'])}[,:;!.]* )+"
    clause = rf"{alt(p['clause_openers'])}\b"
    adverbs = rf"(?:{alt(p['adverbs'])} )*"
    ellipsis = rf"{_PRE}{alt(p['firm_negations'])} {adverbs}{alt(p['assist_verbs'])}"
    return Patterns(
        version=int(p.get("version", 1)),
        conn=re.compile(conn),
        conn_words=first_words(conn) or frozenset(),
        clause=re.compile(clause),
        clause_words=first_words(clause) or frozenset(),
        by_word=compiled,
        by_word_declines=declines_only,
        ellipsis=re.compile(ellipsis),
        ellipsis_words=first_words(ellipsis) or frozenset(),
        inner_words=frozenset(declines_only) | (first_words(conn) or frozenset()),
        verbs=re.compile(rf"{adverbs}{alt(p['assist_verbs'])}"),
        not_decline=re.compile(alt(p["not_declines"])),
        declines_anywhere=re.compile(spaced([*p["declines_anywhere"], *p["topic_changes"]])),
        topic_change=re.compile(spaced(p["topic_changes"])),
        aside=re.compile(
            rf" (?:(?P<resource>{spaced(p['resources'])[4:-1]})|(?P<lecture>{spaced(p['lecture'])[4:-1]}))"
        ),
        lecture=re.compile(spaced(p["lecture"])),
        moral=re.compile(rf" ({trie(p['moral_terms'])})"),
        harm=re.compile(rf" ({trie(sorted({*p['moral_terms'], *p['harm_terms']}))})"),
        normative=re.compile(spaced(p["normative"])),
        evaluative_prompt=re.compile(alt(p["evaluative_prompt"])),
        foreign=re.compile(alt(p["foreign_refusals"])),
        foreign_words=frozenset().union(*(first_words(f) or () for f in p["foreign_refusals"])),
    )
