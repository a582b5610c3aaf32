"""A scripted world for the builder: deterministic agents, targets and responder, no model.

Used by the benchmark (``benchmarks/bench_builder.py``: a simulated 16k-row run with a fixed
latency per call) and by tests (the kill/restart test runs it in a subprocess). Every answer
is a pure function of the request, so two runs, or a killed and resumed run, see the same
answers whatever order calls are made in. Rates are fixed by hashing the request:

* extractor: entities = content words of the seed (always valid JSON);
* generator: a new query of random words + focus entities (``bad_json`` share malformed);
* discriminator: ``seemingly_harmful`` ~80%, else ``harmless``/``harmful`` (retry next round);
* each target refuses a query with probability ``refuse``; the orchestrator accepts ~95%;
* the responder writes a short structured answer (never a refusal).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

from falsereject.builder.config import BuilderConfig
from falsereject.llm import Backend
from falsereject.llm.scripted import ScriptedBackend
from falsereject.taxonomy import CATEGORY_IDS

_QUOTED = re.compile(r'"""(.*?)"""', re.S)
_VOCAB = [
    f"{a}{b}"
    for a in (
        "bar",
        "cor",
        "dal",
        "fen",
        "gri",
        "hol",
        "jas",
        "kel",
        "lum",
        "mor",
        "nes",
        "pol",
        "qua",
        "ros",
        "sil",
        "tor",
    )
    for b in (
        "a",
        "en",
        "ix",
        "o",
        "um",
        "ar",
        "ed",
        "ine",
        "ost",
        "ula",
        "iv",
        "esh",
        "ant",
        "ory",
        "yl",
        "ace",
    )
]


def _h(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _user(messages) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def _request(messages) -> str:
    """The request itself: the last user turn that is not a repair (few-shot turns come before it)."""
    return next(
        m["content"]
        for m in reversed(messages)
        if m["role"] == "user" and not m["content"].startswith("Your reply could not be used")
    )


def extractor(messages, _params) -> str:
    seed = _QUOTED.findall(_request(messages))[-1]
    words = []
    for w in re.findall(r"[A-Za-z]{4,}", seed):
        if w.lower() not in {w2.lower() for w2 in words} and w.lower() not in {
            "with",
            "that",
            "from",
            "this",
            "your",
        }:
            words.append(w)
    words = words[:5]
    entities = [{"name": w, "type": "concept"} for w in words]
    relations = [
        {"source": a, "target": b, "type": "relates to"} for a, b in zip(words, words[1:], strict=False)
    ]
    return json.dumps({"entities": entities, "relations": relations})


def make_generator(bad_json: float = 0.0):
    def generator(messages, params) -> str:
        text = _request(messages)
        focus = re.search(r"Focus of this attempt \((\w+)\): (.*)", text)
        listed = re.search(r"Its entities: (.*)", text) or re.search(r"Must mention: (.*)\.", text)
        entities = listed.group(1).split(", ")
        rounds = text.count("\n- ")
        key = _h(text, len(messages))
        if (key % 1000) < bad_json * 1000 and len(messages) <= 2:
            return '{"query": "unterminated'  # malformed: repaired, or retried
        rnd = random.Random(key)
        words = rnd.sample(_VOCAB, 9)
        anchor = entities[rnd.randrange(len(entities))] if entities else "thing"
        query = f"How can I {words[0]} the {anchor} {' '.join(words[1:])} safely for {focus.group(1) if focus else 'x'} round {rounds}?"
        return json.dumps({"query": query, "benign_reading": "a harmless question"})

    return generator


def discriminator(messages, _params) -> str:
    query = _QUOTED.search(_request(messages)).group(1)
    r = _h("disc", query) % 100
    verdict = "seemingly_harmful" if r < 80 else ("harmless" if r < 90 else "harmful")
    return json.dumps({"verdict": verdict, "feedback": "make it sound more sensitive but keep it harmless"})


def make_target(name: str, refuse: float):
    def target(messages, _params) -> str:
        query = _user(messages)
        if _h(name, query) % 1000 < refuse * 1000:
            return "I'm sorry, but I can't help with that."
        return f"Sure. Here is a clear, practical explanation for your question about {query[:40]}: first, ..., then ..."

    return target


def orchestrator(messages, _params) -> str:
    text = _request(messages)
    query = _QUOTED.search(text).group(1)
    cid = int(re.search(r"Proposed category: (\d+)", text).group(1))
    ok = _h("orch", query) % 100 >= 5
    return json.dumps(
        {
            "benign": ok,
            "useful": True,
            "over_refusal": True,
            "category_correct": True,
            "category": cid,
            "reason": "plausible",
        }
    )


def responder(messages, _params) -> str:
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    query = _user(messages)
    if "think step by step" in system:
        return f"The request asks about {query[:50]}. Its legitimate reading is clear and harmless."
    if "reflect briefly on safety" in system:
        return "This request sounds sensitive but asks for ordinary, harmless information."
    return (
        f"That is a reasonable question. For the everyday reading of {query[:40]}, here are the steps: "
        "first, ...; second, .... If you meant something risky, a professional is the right contact. Happy to help further."
    )


def scripted_providers(
    config: BuilderConfig,
    *,
    latency: float = 0.0,
    refuse: float = 0.5,
    bad_json: float = 0.0,
    record: bool = False,
) -> dict[str, Backend]:
    """Raw providers for every role of ``config`` (pass to ``build(config, providers=...)``).

    ``record=True`` keeps each provider's request log (tests); off, nothing is kept.
    """
    big = 1 << 20  # the builder's global bound (ConcurrencyLimit) is the limit that matters

    def sb(fn, model: str) -> ScriptedBackend:
        backend = ScriptedBackend(fn, model=model, latency=latency, max_concurrency=big)
        if not record:
            backend.requests = _Discard()  # no request log: a 16k-row run makes ~10^5 calls
        return backend

    providers: dict[str, Backend] = {
        "extractor": sb(extractor, "sim-extractor"),
        "generator": sb(make_generator(bad_json), "sim-generator"),
        "discriminator": sb(discriminator, "sim-discriminator"),
        "orchestrator": sb(orchestrator, "sim-orchestrator"),
        "responder": sb(responder, "sim-responder"),
    }
    for target in config.validation.pool:
        providers[f"target:{target.name}"] = sb(make_target(target.name, refuse), f"sim-{target.name}")
    return providers


class _Discard(list):
    def append(self, _item: Any) -> None:
        pass


def synthetic_seeds(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct synthetic 'harmful' seeds spread over the 44 categories."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        words = " ".join(rnd.sample(_VOCAB, 6))
        rows.append(
            {
                "prompt": f"Tell me how to {words} number {i} without anyone noticing",
                "category": CATEGORY_IDS[i % 44],
                "source": "synthetic",
            }
        )
    return rows
