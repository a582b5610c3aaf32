"""Stage 2, entity graphs: validate an extractor's JSON, build a ``networkx`` graph, steer generation.

An entity is kept only if it is *grounded*: one of its content words occurs in the seed
(agents hallucinate entities). Relations are kept between kept entities. The graph travels
with the row as node-link JSON.

Steering: attempt ``k`` of a seed gets a different view of its graph, so candidates of one
seed differ from each other (deterministic in ``(seed_id, k)``):

* ``ego``: a sub-graph, one entity (by degree rank ``k``) and its neighbours;
* ``path``: a chain of relations between two distant entities;
* ``context``: one anchor entity moved into a legitimate setting (an entity/context swap).

Every view also names a ``setting`` (one of :data:`CONTEXTS`, distinct per attempt): the
``context`` strategy moves its anchor there, and a graph-only generator prompt
(``generator_graph.v1``) frames every attempt in it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import networkx as nx

ENTITY_TYPES = ("person", "group", "object", "action", "place", "concept")
STRATEGIES = ("ego", "path", "context")
#: legitimate settings for the ``context`` strategy (the swap target of an anchor entity)
CONTEXTS = (
    "a novelist researching a realistic scene",
    "a history or civics lesson",
    "workplace safety training",
    "a parent trying to protect their family",
    "a journalist fact-checking a story",
    "a security professional defending their own systems",
    "a medical or public-health explanation",
    "a legal-rights question from someone affected",
    "a video game or tabletop campaign design",
    "home maintenance and DIY",
    "an academic research overview",
    "a debate club preparing counter-arguments",
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "for",
        "and",
        "or",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "be",
        "my",
        "your",
        "his",
        "her",
        "their",
        "our",
        "me",
        "you",
        "him",
        "them",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "how",
        "what",
        "who",
        "why",
        "can",
        "could",
        "would",
        "should",
        "will",
        "do",
        "does",
        "i",
        "we",
        "they",
        "he",
        "she",
        "some",
        "any",
        "all",
        "so",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def grounded(name: str, seed: str) -> bool:
    """Does any content word of ``name`` (or a 5-letter stem of it) occur in ``seed``?"""
    seed_words = set(content_words(seed))
    stems = {w[:5] for w in seed_words}
    return any(w in seed_words or w[:5] in stems for w in content_words(name))


def clean_graph(obj: dict[str, Any], seed: str, *, min_entities: int, max_entities: int) -> dict[str, Any]:
    """Validate an extractor reply; returns ``{"entities", "relations", "dropped"}`` or raises ValueError."""
    raw = obj.get("entities")
    if not isinstance(raw, list) or not raw:
        raise ValueError('"entities" must be a non-empty list')
    entities: dict[str, str] = {}
    dropped = []
    for item in raw:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = " ".join(item["name"].split())[:80]
        etype = str(item.get("type") or "concept").lower().strip()
        etype = etype if etype in ENTITY_TYPES else "concept"
        if not name or name.lower() in (e.lower() for e in entities):
            continue
        if grounded(name, seed):
            entities[name] = etype
        else:
            dropped.append(name)
        if len(entities) >= max_entities:
            break
    if len(entities) < min_entities:
        raise ValueError(
            f"only {len(entities)} entity name(s) are words of the request (need {min_entities}); "
            f"not found in it: {dropped[:5]}"
        )
    by_lower = {e.lower(): e for e in entities}
    relations = []
    for rel in obj.get("relations") or []:
        if not isinstance(rel, dict):
            continue
        src = by_lower.get(str(rel.get("source", "")).strip().lower())
        dst = by_lower.get(str(rel.get("target", "")).strip().lower())
        edge = {"source": src, "target": dst, "type": str(rel.get("type") or "related to")[:60]}
        if src and dst and src != dst and edge not in relations:
            relations.append(edge)
    return {
        "entities": [{"name": n, "type": t} for n, t in entities.items()],
        "relations": relations,
        "dropped": dropped,
    }


def build_graph(cleaned: dict[str, Any]) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for e in cleaned["entities"]:
        g.add_node(e["name"], type=e["type"])
    for r in cleaned["relations"]:
        g.add_edge(r["source"], r["target"], relation=r["type"])
    return g


def to_node_link(g: nx.MultiDiGraph) -> dict[str, Any]:
    return nx.node_link_data(g, edges="edges")


def from_node_link(data: dict[str, Any]) -> nx.MultiDiGraph:
    return nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")


def _rank(und: nx.Graph) -> list[str]:
    return sorted(und.nodes, key=lambda n: (-und.degree(n), n))


def _describe_edges(g: nx.MultiDiGraph, nodes: set[str]) -> list[str]:
    return [f"{u} -[{d['relation']}]-> {v}" for u, v, d in g.edges(data=True) if u in nodes and v in nodes]


def _stable(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def steer(g: nx.MultiDiGraph, seed_id: str, attempt: int) -> dict[str, Any]:
    """The view of the graph for attempt ``attempt``: a strategy, focus entities and a text."""
    view = _view(g, seed_id, attempt)
    view.setdefault("setting", CONTEXTS[(_stable(seed_id) + attempt) % len(CONTEXTS)])
    return view


def _view(g: nx.MultiDiGraph, seed_id: str, attempt: int) -> dict[str, Any]:
    strategy = STRATEGIES[attempt % len(STRATEGIES)]
    und = nx.Graph(g)  # undirected, simple
    ranked = _rank(und)
    rnd = attempt // len(STRATEGIES)
    if strategy == "path":
        lengths = dict(nx.all_pairs_shortest_path_length(und))
        pairs = [(d, a, b) for a, row in lengths.items() for b, d in row.items() if a < b]
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        if pairs and pairs[0][0] > 0:
            _, a, b = pairs[rnd % len(pairs)]
            path = nx.shortest_path(und, a, b)
            text = "; ".join(_describe_edges(g, set(path))) or " -> ".join(path)
            return {"strategy": "path", "entities": path, "text": f"the chain {text}"}
        strategy, slot = "ego", 2 * rnd + 1  # no relations: fall back to a sub-graph
    else:
        slot = 2 * rnd
    if strategy == "ego":
        center = ranked[slot % len(ranked)]
        nodes = [center, *sorted(set(und.neighbors(center)))][:4]
        if len(nodes) == 1 and len(ranked) > 1:
            nodes.append(ranked[(slot + 1) % len(ranked)])
        edges = _describe_edges(g, set(nodes))
        text = ", ".join(nodes) + (f" (relations: {'; '.join(edges)})" if edges else "")
        return {"strategy": "ego", "entities": nodes, "text": text}
    anchor = ranked[(rnd + _stable(seed_id, "anchor")) % len(ranked)]
    context = CONTEXTS[(_stable(seed_id) + attempt) % len(CONTEXTS)]
    return {
        "strategy": "context",
        "entities": [anchor],
        "context": context,
        "setting": context,
        "text": f'keep "{anchor}" but move it into the setting of {context}',
    }


def entities_used(query: str, names: list[str]) -> list[str]:
    """The graph entities whose content words occur in ``query`` (the reuse check)."""
    return [n for n in names if grounded(n, query)]
