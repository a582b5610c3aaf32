"""Named over-refusal benchmarks: the registry (``data/benchmarks.yaml``) and its loader.

A :class:`Benchmark` says where a benchmark's prompts are published (a Hub repository at a
revision, or a folder shipped in this package), how its columns map onto an eval row (prompt,
id, category, label), which prompts are benign and which harmful (or, for PHTest,
controversial), its license and its citation. There is no code per benchmark: every entry is
read by :func:`load_benchmark`, through ``datasets.load_dataset`` like any other dataset.

What a load guarantees:

- a published column the mapping needs and cannot find, or a label value the mapping does
  not know, stops the run with one message naming the benchmark, the expected and the found
  columns (or values) before anything is generated;
- the Hub commit actually read is resolved first and the data read at that commit, so a run
  records it (``resolved_revision``) and can be repeated; a local copy (``--dataset DIR``)
  records the commit it was taken at when its path or ``.git`` says so; every part records a
  SHA-256 of the rows it read;
- counts that differ from the published ones are reported as notes (a new revision may
  change them), never silently.

:func:`custom_benchmark` builds the same kind of entry from ``--prompt-column``,
``--label-column``, ``--harmful-values`` and ``--category-column`` for a dataset that has no
registry entry.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from falsereject.dataset import LOCAL_COPY_HINT, read_manifest, read_split, row_id
from falsereject.errors import UserError
from falsereject.files import is_hub_id, json_sha256
from falsereject.taxonomy import category_name, resolve

REGISTRY = Path(__file__).resolve().parents[1] / "data" / "benchmarks.yaml"
PACKAGE_DATA = REGISTRY.parent
ROLES = ("prompt", "id", "category", "label")
SIDE_NAMES = ("benign", "harmful", "controversial")
CATEGORY_RULES = ("taxonomy", "text")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Part:
    """One published file set (a config/split) of a benchmark and how its rows are read."""

    name: str  # the part's name in runs and reports (the ``config`` of each row)
    split: str
    files: tuple[str, ...]  # the data files as published, inside the repository
    published_columns: tuple[str, ...]
    columns: dict[str, str]  # role (ROLES) -> published column; ``prompt`` is required
    config: str | None = None  # a config the card declares; None: read ``files`` directly
    side: str | None = None  # every row is on this side ...
    labels: dict[str, str] | None = None  # ... or: value of the ``label`` column -> side
    other: str | None = None  # side of a label value ``labels`` does not list (None: an error)
    optional_columns: dict[str, str] = field(default_factory=dict)  # roles read when present
    expected: dict[str, int] = field(default_factory=dict)  # published prompt count per side

    def __post_init__(self) -> None:
        where = f"part {self.name!r}"
        if "prompt" not in self.columns:
            raise UserError(f"{where}: columns must map 'prompt' to a column")
        for role in (*self.columns, *self.optional_columns):
            if role not in ROLES:
                raise UserError(f"{where}: unknown role {role!r} in columns (roles: {', '.join(ROLES)})")
        if (self.side is None) == (self.labels is None):
            raise UserError(f"{where}: give exactly one of side (every row) or labels (per label value)")
        if self.labels is not None and "label" not in self.columns:
            raise UserError(f"{where}: labels needs columns.label, the column the values are read from")
        sides = [self.side, self.other, *(self.labels or {}).values(), *self.expected]
        bad = sorted({s for s in sides if s is not None and s not in SIDE_NAMES})
        if bad:
            raise UserError(f"{where}: unknown side(s) {bad}; sides are {', '.join(SIDE_NAMES)}")
        if self.config is None and not self.files:
            raise UserError(f"{where}: with config null, files must list the data files to read")
        if self.labels is not None:  # values are matched trimmed and in lower case
            object.__setattr__(self, "labels", {str(k).strip().lower(): v for k, v in self.labels.items()})


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark (one entry of ``data/benchmarks.yaml``)."""

    name: str
    title: str
    about: str
    parts: tuple[Part, ...]
    license: str
    citation: str
    url: str = ""
    hub: str | None = None  # a Hub dataset repository ...
    package: str | None = None  # ... or a folder under falsereject/data ...
    folder: str | None = None  # ... or (custom_benchmark only) any folder or Hub id
    revision: str | None = None
    categories: str | None = None  # CATEGORY_RULES or None
    pair: str | None = None  # the benchmark that holds the other side

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.hub, self.package, self.folder)) != 1:
            raise UserError(f"benchmark {self.name!r}: give exactly one source, hub or package")
        if self.categories not in (None, *CATEGORY_RULES):
            raise UserError(
                f"benchmark {self.name!r}: categories {self.categories!r}; use taxonomy, text or null"
            )
        names = [p.name for p in self.parts]
        if not names or len(set(names)) != len(names):
            raise UserError(f"benchmark {self.name!r}: parts need distinct names (got {names})")

    @property
    def source(self) -> str:
        """The Hub id, or the folder, the benchmark is read from by default."""
        if self.package is not None:
            return str(PACKAGE_DATA / self.package)
        return self.hub or self.folder or ""

    @property
    def sides(self) -> list[str]:
        """The sides its prompts fall on, in report order."""
        found = set()
        for p in self.parts:
            found |= {p.side, p.other, *(p.labels or {}).values()}
        return [s for s in SIDE_NAMES if s in found]

    def mapping(self) -> dict[str, Any]:
        """What decides which rows are read and how (part of a run's identity)."""
        return {"categories": self.categories, "parts": [asdict(p) for p in self.parts]}


# ---------------------------------------------------------------------------- the registry


def _build(cls, data: dict[str, Any], where: str, **given: Any):
    known = {f.name for f in fields(cls)} - set(given)
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {unknown}; known keys: {', '.join(sorted(known))}")
    values = dict(data)
    for key in ("files", "published_columns"):
        if key in values:
            values[key] = tuple(values[key])
    try:
        return cls(**values, **given)
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=4)
def load_registry(path: str | Path = REGISTRY) -> dict[str, Benchmark]:
    """Every benchmark of a registry file, by name (in file order)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if set(data) != {"version", "benchmarks"}:
        raise UserError(f"{path}: expected the keys version and benchmarks, got {sorted(data)}")
    out: dict[str, Benchmark] = {}
    for name, entry in data["benchmarks"].items():
        where = f"{path}: benchmark {name!r}"
        parts = tuple(
            _build(Part, p, f"{where} part {i}") for i, p in enumerate(dict(entry).pop("parts", []) or [])
        )
        entry = {k: v for k, v in entry.items() if k != "parts"}
        out[name] = _build(Benchmark, entry, where, name=name, parts=parts)
    return out


def registry_version(path: str | Path = REGISTRY) -> int:
    import yaml

    return int(yaml.safe_load(Path(path).read_text(encoding="utf-8"))["version"])


def get_benchmark(name: str) -> Benchmark:
    registry = load_registry()
    key = name.strip().lower()
    if key not in registry:
        raise UserError(
            f"unknown benchmark {name!r}; known: {', '.join(registry)} (`falsereject benchmarks` lists them)"
        )
    return registry[key]


def benchmark_names(text: str) -> list[str]:
    """``NAME[,NAME...]`` as registry names (checked; each once)."""
    names = [get_benchmark(n).name for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--benchmark: name at least one benchmark (`falsereject benchmarks` lists them)")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"--benchmark lists {', '.join(twice)} more than once; list each once")
    return names


def custom_benchmark(
    dataset: str,
    configs: list[str],
    split: str,
    *,
    prompt_column: str | None = None,
    label_column: str | None = None,
    harmful_values: list[str] | None = None,
    category_column: str | None = None,
) -> Benchmark:
    """A benchmark entry for a dataset without one, mapped by hand (``eval --dataset`` flags).

    Without ``label_column`` every prompt of a config is benign, except those of a config
    named ``harmful``. With it, a value in ``harmful_values`` is harmful and any other value
    benign; without ``harmful_values`` the values must read as benign/safe/harmless or
    harmful/unsafe/toxic.
    """
    if harmful_values and not label_column:
        raise UserError("--harmful-values needs --label-column: the column whose values it lists")
    columns = {"prompt": prompt_column or "prompt"}
    optional = {"id": "id"}
    if label_column:
        columns["label"] = label_column
    if category_column:
        columns["category"] = category_column
    else:
        optional["category"] = "category"
    if harmful_values:
        labels: dict[str, str] | None = {v.strip().lower(): "harmful" for v in harmful_values if v.strip()}
        other: str | None = "benign"
    elif label_column:
        labels = {"benign": "benign", "safe": "benign", "harmless": "benign"}
        labels.update({"harmful": "harmful", "unsafe": "harmful", "toxic": "harmful"})
        other = None
    else:
        labels = other = None
    parts = tuple(
        Part(
            name=c,
            split=split,
            files=(),
            published_columns=(),
            columns=columns,
            optional_columns=optional,
            config=c,
            side=None if labels is not None else ("harmful" if c == "harmful" else "benign"),
            labels=labels,
            other=other,
        )
        for c in configs
    )
    return Benchmark(
        name="custom",
        title=f"{dataset} (mapped by hand)",
        about="a dataset without a registry entry, mapped by --prompt-column/--label-column",
        parts=parts,
        license="",
        citation="",
        folder=dataset,
        categories="taxonomy",
    )


# ---------------------------------------------------------------------------- revisions


def resolve_hub_revision(repo: str, revision: str | None) -> str | None:
    """The commit ``revision`` (a branch, tag or commit) of a Hub dataset is at now, or None
    when the Hub cannot be asked (offline mode, no network)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return None
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(repo, revision=revision).sha
    except Exception:  # noqa: BLE001 - offline, unreachable, missing repo: loading says which
        return None


def local_revision(folder: Path) -> str | None:
    """The commit a local copy was taken at, when it says: a Hub cache snapshot
    (``.../snapshots/<commit>/``) or a git clone (``.git/HEAD``)."""
    folder = folder.resolve()
    if _SHA.fullmatch(folder.name):
        return folder.name
    head = folder / ".git" / "HEAD"
    if not head.is_file():
        return None
    text = head.read_text(encoding="utf-8").strip()
    if _SHA.fullmatch(text):
        return text
    ref = text.removeprefix("ref: ").strip()
    loose = folder / ".git" / ref
    if loose.is_file():
        return loose.read_text(encoding="utf-8").strip() or None
    packed = folder / ".git" / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(sha):
                return sha
    return None


# ---------------------------------------------------------------------------- loading


@dataclass
class Loaded:
    """A benchmark's prompts, read: per part its rows and its info (for the report)."""

    benchmark: Benchmark
    parts: list[tuple[list[dict[str, Any]], dict[str, Any]]]
    categories: str | None  # how the rows' ``category`` reads: taxonomy, text or None
    source: dict[str, Any]  # path, local, requested and resolved revision
    notes: list[str]


def load_benchmark(bench: Benchmark, *, local: str | None = None, revision: str | None = None) -> Loaded:
    """Read every part of ``bench`` (from ``local``, a copy of its repository, if given)."""
    path = local or bench.source
    is_local = Path(path).exists()
    if local is not None and not is_local:
        raise UserError(f"--dataset {local!r} for benchmark {bench.name!r}: no such folder")
    if not is_local and not is_hub_id(path):
        raise UserError(f"dataset {path!r}: no such folder, and not a Hub id of the form ORG/NAME")
    requested = revision or bench.revision
    resolved = local_revision(Path(path)) if is_local else resolve_hub_revision(path, requested)
    notes: list[str] = []
    if not is_local and resolved is None:
        notes.append(
            f"{bench.name}: the Hub commit of {path}@{requested or 'main'} could not be resolved "
            "(offline?): the run does not record which commit was read"
        )
    parts = []
    for part in bench.parts:
        rows, info = _load_part(bench, part, path, None if is_local else (resolved or requested))
        info.update(revision=requested if not is_local else None, resolved_revision=resolved)
        counts = Counter(r["prompt_label"] for r in rows)
        info["sides"] = {s: counts[s] for s in SIDE_NAMES if counts[s]}
        for side, n in part.expected.items():
            if counts[side] != n:
                notes.append(
                    f"{bench.name} part {part.name}: {counts[side]} {side} prompts where {n} were published"
                )
        parts.append((rows, info))
    kind = _categorise(bench, [r for rows, _ in parts for r in rows], notes)
    source = {
        "path": path,
        "local": is_local,
        "revision": None if is_local else requested,
        "resolved_revision": resolved,
    }
    return Loaded(bench, parts, kind, source, notes)


def _load_part(
    bench: Benchmark, part: Part, path: str, revision: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    what = f"benchmark {bench.name!r} part {part.name!r}"
    if part.config is not None:
        _check_config(bench, part, path, revision)
    try:
        raw, columns = read_split(
            path,
            part.config,
            part.split,
            revision=revision,
            data_files=None if part.config is not None else list(part.files),
        )
    except UserError as exc:
        layout = f" (published layout: {', '.join(part.files)})" if part.files else ""
        raise UserError(f"{what}: {exc}{layout}") from None
    needed = {role: col for role, col in part.columns.items()}
    missing = sorted({col for col in needed.values() if col not in columns})
    if missing:
        expected = list(part.published_columns) or sorted(set(needed.values()))
        raise UserError(
            f"{what} ({path}): column(s) {missing} not found. Expected the published columns {expected}; "
            f"found {list(columns)}. The source changed or this is another dataset: fix its entry in "
            f"{REGISTRY.name}, or map the columns by hand with --dataset and --prompt-column/--label-column"
        )
    mapped = dict(needed)
    mapped.update({r: c for r, c in part.optional_columns.items() if r not in mapped and c in columns})
    rows = [_row(bench, part, mapped, r, i) for i, r in enumerate(raw)]
    _unique_ids(rows, what, generated="id" not in mapped)
    info: dict[str, Any] = {
        "path": path,
        "config": part.name,
        "hub_config": part.config,
        "split": part.split,
        "files": list(part.files),
        "columns": mapped,
        "rows_sha256": json_sha256(raw),
    }
    manifest = read_manifest(path) if Path(path).exists() else None
    if manifest:
        info.update(version=manifest.get("version"), content_hash=manifest.get("content_hash"))
    return rows, info


def _check_config(bench: Benchmark, part: Part, path: str, revision: str | None) -> None:
    from datasets import get_dataset_config_names

    try:
        names = get_dataset_config_names(path, revision=revision)
    except Exception as exc:  # noqa: BLE001 - network, missing repo, bad card
        raise UserError(
            f"benchmark {bench.name!r}: cannot open {path!r}: {type(exc).__name__}: {str(exc)[:200]}"
            + (f". {LOCAL_COPY_HINT}" if not Path(path).exists() else "")
        ) from None
    if part.config not in names:
        raise UserError(
            f"benchmark {bench.name!r}: {path!r} has no config {part.config!r} (its card declares: "
            f"{', '.join(names)}); the published layout has {part.config!r} reading {', '.join(part.files)}"
        )


def _row(bench: Benchmark, part: Part, mapped: dict[str, str], raw: dict[str, Any], i: int) -> dict[str, Any]:
    where = f"benchmark {bench.name!r} part {part.name!r} row {i}"
    prompt = raw.get(mapped["prompt"])
    if not isinstance(prompt, str) or not prompt.strip():
        got = "empty" if isinstance(prompt, str) else ("null" if prompt is None else type(prompt).__name__)
        raise UserError(
            f"{where}: column {mapped['prompt']!r} (the prompt) is {got}; every prompt must be text"
        )
    if part.labels is None:
        side = part.side
    else:
        value = raw.get(mapped["label"])
        key = "" if value is None else str(value).strip().lower()
        side = part.labels.get(key, part.other)
        if side is None:
            raise UserError(
                f"{where}: column {mapped['label']!r} holds {value!r}; expected one of "
                f"{sorted(part.labels)} (the published labels). The source changed: fix the entry's "
                f"labels in {REGISTRY.name}"
            )
    ident = raw.get(mapped["id"]) if "id" in mapped else None
    category = raw.get(mapped["category"]) if "category" in mapped else None
    return {
        "id": row_id(prompt) if ident in (None, "") else str(ident),
        "prompt": prompt,
        "category": None if category in (None, "") else category,
        "category_text": "",
        "prompt_label": side,
    }


def _unique_ids(rows: list[dict[str, Any]], what: str, *, generated: bool) -> None:
    """Ids made from the prompt (no id column): a repeated prompt gets ``-2``, ``-3``...; a
    repeated published id is an error."""
    seen: Counter[str] = Counter()
    for i, row in enumerate(rows):
        seen[row["id"]] += 1
        if seen[row["id"]] > 1:
            if not generated:
                raise UserError(
                    f"{what}: id {row['id']!r} repeats (row {i}); replies are matched to prompts by id, "
                    "so every row needs its own"
                )
            row["id"] = f"{row['id']}-{seen[row['id']]}"


def _categorise(bench: Benchmark, rows: list[dict[str, Any]], notes: list[str]) -> str | None:
    """Turn every row's category into a taxonomy id (1-44) or a text; returns which."""
    present = [r for r in rows if r["category"] is not None]
    if bench.categories is None or not present:
        for r in rows:
            r["category"] = None
        return None
    if bench.categories == "taxonomy":
        ids = {}
        for r in present:
            key = r["category"]
            if key in ids:
                continue
            try:
                ids[key] = resolve(int(key) if isinstance(key, float) and key.is_integer() else key)
            except UserError:
                notes.append(
                    f"{bench.name}: category {key!r} is not one of the 44 FalseReject categories: "
                    "categories are reported by their text"
                )
                break
        else:
            for r in present:
                r["category"] = ids[r["category"]]
                r["category_text"] = category_name(r["category"])
            return "taxonomy"
    for r in present:
        r["category"] = " ".join(str(r["category"]).split())
        r["category_text"] = r["category"]
    return "text"


def looks_like(columns: set[str]) -> Benchmark | None:
    """The registry benchmark with labels whose published columns are exactly ``columns``."""
    for bench in load_registry().values():
        for part in bench.parts:
            if part.labels is not None and part.published_columns and set(part.published_columns) == columns:
                return bench
    return None


__all__ = [
    "REGISTRY",
    "Benchmark",
    "Loaded",
    "Part",
    "benchmark_names",
    "custom_benchmark",
    "get_benchmark",
    "load_benchmark",
    "load_registry",
    "local_revision",
    "looks_like",
    "registry_version",
    "resolve_hub_revision",
]
