"""A build stage, declared; the typed rows stages write; what a stage sees of the run.

The pipeline runs an ordered list of :class:`Stage` values
(:data:`falsereject.builder.pipeline.STAGES`). A stage names everything needed to run it
and to resume it:

* ``number`` and ``name``: its folder, ``<work_dir>/<NN>-<name>-<hash>``;
* ``fingerprint(build)``: what decides its output (config, template hashes, model
  identities, the upstream stage's folder hash); ``hash`` is a digest of it, so a change to
  any of it gives the stage a new folder;
* ``items(build)``: the ``(key, item)`` pairs it reads, made from the seeds and the ``ok``
  records of earlier stages (:meth:`Build.ok`);
* ``row(build, item)``: the function run per row (its LLM calls), resumable row by row;
  or ``batch(build, items)``: a decision over all rows at once (dedup), redone every run;
* ``record``: the dataclass of its ``ok`` rows (a :class:`Record`), written to its
  ``records.jsonl`` and read back from it.

Adding a stage is one module under :mod:`falsereject.builder.stages` that declares
``STAGE``, and one entry in the pipeline's list.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from falsereject.builder.config import BuilderConfig, backend_identity
from falsereject.judge import get_judge

if TYPE_CHECKING:
    from falsereject.builder.backends import RoleBackendPool
    from falsereject.builder.prompts import PromptTemplate
    from falsereject.llm import Backend

I = TypeVar("I")  # noqa: E741 - the item type of a stage
R = TypeVar("R", bound="Record")
T = TypeVar("T")


def on_disk_only(**kw: Any) -> Any:
    """A record field that is written but not read back (large; no later stage needs it)."""
    return dataclasses.field(default_factory=dict, metadata={"on_disk_only": True}, **kw)


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _read_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get("on_disk_only"))


class Record:
    """A typed row (base of dataclasses): its fields are the keys of its JSON object, in order.

    A stage's ``ok`` line in ``records.jsonl`` is ``{"key", "status", **to_json(), "usage"}``;
    :meth:`from_json` reads it back (other keys are ignored). A record that nests records
    writes and reads them in its own ``to_json`` and ``from_json``.
    """

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _names(type(self))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(**{name: data[name] for name in _read_names(cls)})


@dataclass(frozen=True, slots=True)
class Seed(Record):
    """A harmful seed prompt (``01-seeds.jsonl``): what stage 2 reads."""

    seed_id: str
    prompt: str
    category: int
    source: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """A batch stage's verdict on a row it does not keep."""

    reason: str
    detail: str = ""


def seed_category(build: Build, key: str) -> int:
    """The category of the seed a key (``<seed_id>`` or ``<seed_id>.<attempt>``) comes from."""
    return build.seed_of(key).category


def no_templates(config: BuilderConfig) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Stage(Generic[I, R]):
    """One step of the build, declared (see the module docstring)."""

    number: int
    name: str
    record: type[R]
    fingerprint: Callable[[Build], dict[str, Any]]
    items: Callable[[Build], list[tuple[str, I]]]
    row: Callable[[Build, I], Awaitable[R]] | None = None
    batch: Callable[[Build, list[tuple[str, I]]], dict[str, R | Dropped]] | None = None
    #: role -> prompt template name, for every template the stage renders (in the manifest)
    templates: Callable[[BuilderConfig], dict[str, str]] = no_templates
    #: the category a row's key counts under in the report
    category: Callable[[Build, str], int] = seed_category

    def __post_init__(self) -> None:
        if (self.row is None) == (self.batch is None):
            raise TypeError(f"stage {self.name}: declare exactly one of row= and batch=")


class Build:
    """What a stage sees of the run: config, templates, role backends, judge, seeds, and the
    ``ok`` records and folder hashes of the stages that ran before it."""

    def __init__(
        self,
        config: BuilderConfig,
        roles: RoleBackendPool,
        templates: dict[str, PromptTemplate],
        seeds: list[Seed],
        judge: Any = None,
    ):
        self.config = config
        self.roles = roles
        self.templates = templates
        self.seeds = seeds
        self.seed_by_id = {s.seed_id: s for s in seeds}
        self.folders: dict[str, str] = {}  # stage name -> folder name (the manifest's stage_folders)
        self._judge = judge
        self._done: dict[str, tuple[str, dict[str, Any]]] = {}
        self._once: dict[Callable[[Build], Any], Any] = {}

    def backend(self, role: str) -> Backend:
        return self.roles.get(role)

    def identity(self, role: str) -> dict[str, Any]:
        return backend_identity(self.roles.config_of(role))

    def judge(self) -> Any:
        if self._judge is None:  # made on first use: a build whose rows all resume needs none
            v = self.config.validation
            self._judge = get_judge(v.judge, backend=self.roles.get("judge") if v.judge_model else None)
        return self._judge

    def judge_identity(self) -> dict[str, Any]:
        jm = self.config.validation.judge_model
        return {"judge": self.config.validation.judge, "model": backend_identity(jm) if jm else None}

    def seed_of(self, key: str) -> Seed:
        return self.seed_by_id[key.split(".")[0]]

    def finish(self, stage: Stage[Any, R], folder: str, digest: str, ok: dict[str, R]) -> None:
        """Called by the pipeline once ``stage`` has run: its folder, hash and ``ok`` records."""
        self.folders[stage.name] = folder
        self._done[stage.name] = (digest, ok)

    def _finished(self, stage: Stage[Any, Any]) -> tuple[str, dict[str, Any]]:
        try:
            return self._done[stage.name]
        except KeyError:
            raise RuntimeError(
                f"stage {stage.name} is read before it ran: check the order of STAGES"
            ) from None

    def ok(self, stage: Stage[Any, R]) -> dict[str, R]:
        """``stage``'s ``ok`` records by key (file order)."""
        return self._finished(stage)[1]

    def upstream(self, stage: Stage[Any, Any]) -> str:
        """``stage``'s folder hash, for the fingerprint of a stage that reads it."""
        return self._finished(stage)[0]

    def once(self, fn: Callable[[Build], T]) -> T:
        """``fn(self)``, computed once per build (e.g. the joined rows that two steps read)."""
        if fn not in self._once:
            self._once[fn] = fn(self)
        return self._once[fn]
