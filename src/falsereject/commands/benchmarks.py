"""``falsereject benchmarks [NAME]``: the named over-refusal benchmarks `eval --benchmark` runs.

Without NAME: one line per benchmark (its source, its sides with the published counts, its
categories and license). With NAME: the full entry (parts, files, column mapping, which rows
are benign or harmful, citation). The entries are data: ``falsereject/data/benchmarks.yaml``.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from falsereject.evaluation.benchmarks import REGISTRY, Benchmark, get_benchmark, load_registry


def register(sub) -> None:
    p = sub.add_parser(
        "benchmarks", help="list the named benchmarks `eval --benchmark` runs", description=__doc__
    )
    p.add_argument("name", nargs="?", default=None, help="show one benchmark in full")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(func=run)


def _source(bench: Benchmark) -> str:
    if bench.package is not None:
        return "shipped with falsereject"
    return f"{bench.hub}@{bench.revision or 'main'}"


def _sides(bench: Benchmark) -> str:
    counts: dict[str, int] = {}
    for part in bench.parts:
        for side, n in part.expected.items():
            counts[side] = counts.get(side, 0) + n
    shown = [f"{s} {counts[s]}" if s in counts else s for s in bench.sides]
    pair = f" (pair: {bench.pair})" if bench.pair else ""
    for side in ("benign", "harmful"):
        if side not in bench.sides:
            shown.append(f"{side}: -{pair}")
    return ", ".join(shown)


def _describe(bench: Benchmark) -> list[str]:
    lines = [
        f"{bench.name}: {bench.title}",
        f"  {bench.about}",
        f"  source: {_source(bench)}  {bench.url}",
        f"  license: {bench.license}",
        f"  cite: {bench.citation}",
        f"  categories: {bench.categories or '-'}",
    ]
    if bench.pair:
        lines.append(f"  pair: --benchmark {bench.name},{bench.pair} reports both sides")
    for part in bench.parts:
        how = f"config {part.config!r}" if part.config else "files (the card declares no config)"
        lines.append(f"  part {part.name}: {how}, split {part.split}, files {', '.join(part.files)}")
        lines.append(f"    published columns: {', '.join(part.published_columns)}")
        lines.append("    read as: " + ", ".join(f"{role} <- {col}" for role, col in part.columns.items()))
        if part.side:
            lines.append(f"    every row: {part.side}")
        else:
            label = part.columns["label"]
            rule = ", ".join(f"{label} == {value!r} -> {side}" for value, side in (part.labels or {}).items())
            lines.append(f"    {rule}")
        if part.expected:
            lines.append("    published: " + ", ".join(f"{n} {s}" for s, n in part.expected.items()))
    return lines


def run(args) -> int:
    registry = load_registry()
    chosen = [get_benchmark(args.name)] if args.name else list(registry.values())
    if args.json:
        print(json.dumps({b.name: asdict(b) for b in chosen}, indent=2, ensure_ascii=False))
        return 0
    if args.name:
        print("\n".join(_describe(chosen[0])))
        return 0
    width = max(len(b.name) for b in chosen)
    for bench in chosen:
        print(f"{bench.name:<{width}}  {bench.title}")
        print(
            f"{'':<{width}}  {_source(bench)}; {_sides(bench)}; categories: {bench.categories or '-'}; "
            f"license: {bench.license}"
        )
    print(
        f"\nrun: falsereject eval --benchmark NAME[,NAME...] [--dataset LOCAL_COPY]; details: "
        f"falsereject benchmarks NAME; entries: {REGISTRY}"
    )
    return 0
