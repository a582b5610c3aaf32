"""The builder's configuration: one dataclass tree, one YAML file (keys = fields).

``load_builder_config("builders/configs/offline.yaml", ["validation.min_refusals=2"])``
reads a preset and applies ``key.sub=value`` overrides; unknown keys and wrong types are
:class:`~falsereject.errors.UserError` s naming the file and field.

Model roles (each a :class:`~falsereject.llm.BackendConfig`): ``models.extractor`` (entity
graphs; defaults to the generator's backend), ``models.generator``, ``models.discriminator``,
``models.orchestrator``, ``models.responder`` and the target pool ``validation.pool`` (a list
of named backends). Everything else configures one stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from falsereject.config import load_config
from falsereject.errors import UserError
from falsereject.files import is_hub_id
from falsereject.judge import DEFAULT_JUDGE
from falsereject.llm import BackendConfig

RESPONSE_KINDS = ("instruct", "cot", "tbr")
ORCHESTRATOR_CHECKS = ("benign", "useful", "over_refusal")


@dataclass
class SeedSource:
    """One source of harmful seed prompts.

    ``path``: ``shipped`` (the seeds shipped with the package), a local ``.jsonl``/``.csv``/
    ``.parquet`` file, or a Hub dataset id (``ORG/NAME``; pin ``revision``). ``columns`` maps
    ``prompt``/``category`` to the source's column names (a list-valued column, like
    SORRY-Bench's ``turns``, gives its first item). ``category_map`` maps the source's labels
    to category ids or names (1-44); without it labels must already be ids or names.
    ``filters`` keeps rows whose column value is (in) the given value(s).
    """

    path: str = "shipped"
    name: str | None = None
    revision: str | None = None
    config_name: str | None = None
    split: str = "train"
    columns: dict[str, str] = field(default_factory=lambda: {"prompt": "prompt", "category": "category"})
    category_map: dict[str, Any] = field(default_factory=dict)
    default_category: int | str | None = None
    filters: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeedsConfig:
    sources: list[SeedSource] = field(default_factory=lambda: [SeedSource()])
    categories: list[int | str] | None = None  # keep only these (ids or names)
    per_category: int | None = None  # at most this many seeds per category
    limit: int | None = None  # at most this many seeds in all


@dataclass
class ModelsConfig:
    generator: BackendConfig = field(default_factory=BackendConfig)
    discriminator: BackendConfig = field(default_factory=BackendConfig)
    orchestrator: BackendConfig = field(default_factory=BackendConfig)
    responder: BackendConfig = field(default_factory=BackendConfig)
    extractor: BackendConfig | None = None  # None = the generator's backend


@dataclass
class GraphConfig:
    template: str = "graph.v1"
    min_entities: int = 2
    max_entities: int = 12


@dataclass
class AdversarialConfig:
    """Generator <-> discriminator: ``candidates_per_seed`` attempts, each up to ``max_rounds``."""

    generator_template: str = "generator.v1"
    discriminator_template: str = "discriminator.v1"
    candidates_per_seed: int = 4
    max_rounds: int = 3
    #: discriminator verdicts that accept a candidate (``harmful`` never can)
    accept: list[str] = field(default_factory=lambda: ["seemingly_harmful"])
    require_entity_reuse: bool = True
    min_query_words: int = 5
    max_query_chars: int = 700


@dataclass
class TargetConfig:
    """One model of the refusal-validation pool: a name (recorded in ``refused_by``) + backend."""

    name: str
    backend: BackendConfig = field(default_factory=BackendConfig)


@dataclass
class ValidationConfig:
    pool: list[TargetConfig] = field(default_factory=lambda: [TargetConfig(name="embedded")])
    min_refusals: int = 1
    judge: str = DEFAULT_JUDGE  # a name from falsereject.judge.JUDGES (llm/ensemble need judge_model)
    judge_model: BackendConfig | None = None
    max_response_chars: int = 2000  # of each target's response kept in the stage records


@dataclass
class OrchestratorConfig:
    template: str = "orchestrator.v1"
    allow_recategorize: bool = True
    #: the checks a candidate must pass (``category_correct`` is handled by allow_recategorize);
    #: every answer is recorded whichever are required
    require: list[str] = field(default_factory=lambda: list(ORCHESTRATOR_CHECKS))


@dataclass
class DedupConfig:
    """Exact + MinHash-LSH near-duplicate removal (Jaccard of character shingles)."""

    threshold: float = 0.7
    num_perm: int = 128
    shingle_chars: int = 5
    against_seeds: bool = True  # drop candidates that nearly copy a harmful seed
    reference: list[str] = field(default_factory=list)  # prompt files/folders no row may copy (leakage)


@dataclass
class ResponsesConfig:
    kinds: list[str] = field(default_factory=lambda: list(RESPONSE_KINDS))
    instruct_template: str = "instruct.v1"
    cot_template: str = "cot.v1"
    tbr_template: str = "tbr.v1"
    min_chars: int = 20
    drop_refusals: bool = True  # judge each answer; a direct refusal drops the row
    max_attempts: int = 2


@dataclass
class SplitConfig:
    test_fraction: float = 0.075  # FalseReject: 1,187 test / 15,811 rows
    salt: str = "falsereject-split-v1"


@dataclass
class AnnotationConfig:
    annotators: int = 2  # blank label columns in the exported sheet
    labels: str | None = None  # imported labels (default: <work_dir>/annotation/labels.jsonl)


@dataclass
class ReleaseConfig:
    name: str = "falsereject"
    version: str = "0.1.0"
    license: str = "cc-by-4.0"
    card_template: str = "falsereject_dataset.md.j2"
    include_harmful_seeds: bool = True  # the seeds become the `harmful` contrast config
    push_to_hub: str | None = None  # ORG/NAME; token from HF_TOKEN, never written anywhere
    private: bool = True


@dataclass
class BuilderConfig:
    output_dir: str = "build/falsereject"
    work_dir: str | None = None  # default: <output_dir>.work
    max_concurrency: int = 16  # LLM calls in flight, across every role
    rows_in_flight: int | None = None  # default: 2 x max_concurrency
    max_json_attempts: int = 3
    max_errors: int = 50  # rows failing with backend errors before a stage gives up
    progress: bool = True
    seeds: SeedsConfig = field(default_factory=SeedsConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    orchestrator: OrchestratorConfig = field(default_factory=OrchestratorConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    responses: ResponsesConfig = field(default_factory=ResponsesConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    annotation: AnnotationConfig = field(default_factory=AnnotationConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.max_json_attempts < 1:
            raise ValueError("max_json_attempts must be >= 1")
        if not 0.0 <= self.split.test_fraction <= 1.0:
            raise ValueError("split.test_fraction must be between 0 and 1")
        if not 0.0 < self.dedup.threshold <= 1.0:
            raise ValueError("dedup.threshold must be in (0, 1]")
        if self.adversarial.candidates_per_seed < 1 or self.adversarial.max_rounds < 1:
            raise ValueError("adversarial.candidates_per_seed and adversarial.max_rounds must be >= 1")
        bad = sorted(set(self.responses.kinds) - set(RESPONSE_KINDS))
        if bad:
            raise ValueError(f"responses.kinds: unknown kind(s) {bad}; choose from {list(RESPONSE_KINDS)}")
        names = [t.name for t in self.validation.pool]
        if not names:
            raise ValueError("validation.pool: give at least one target model")
        if len(set(names)) != len(names):
            raise ValueError(f"validation.pool: target names must be unique, got {names}")
        if not 0 <= self.validation.min_refusals <= len(names):
            raise ValueError(f"validation.min_refusals must be between 0 and the pool size ({len(names)})")
        allowed = ("seemingly_harmful", "harmless")
        if not self.adversarial.accept or set(self.adversarial.accept) - set(allowed):
            raise ValueError(
                f"adversarial.accept: give one or both of {list(allowed)}, got {self.adversarial.accept}"
            )
        bad = sorted(set(self.orchestrator.require) - set(ORCHESTRATOR_CHECKS))
        if bad or not self.orchestrator.require:
            raise ValueError(
                f"orchestrator.require: give one or more of {list(ORCHESTRATOR_CHECKS)}, got {bad or '[]'}"
            )
        if self.annotation.annotators < 2:
            raise ValueError("annotation.annotators must be >= 2 (agreement needs two or more)")

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir) if self.work_dir else Path(f"{self.output_dir.rstrip('/')}.work")

    @property
    def row_workers(self) -> int:
        return self.rows_in_flight or 2 * self.max_concurrency


def load_builder_config(path: str | Path | None, overrides: list[str] | None = None) -> BuilderConfig:
    """Read a preset YAML (or the defaults when ``path`` is None) and apply overrides."""
    config = load_config(BuilderConfig, path, overrides)
    if config.release.push_to_hub and not is_hub_id(config.release.push_to_hub):
        raise UserError(f"release.push_to_hub {config.release.push_to_hub!r}: expected ORG/NAME")
    return config


def backend_identity(config: BackendConfig) -> dict[str, Any]:
    """What makes a backend's answers what they are (hashed into stage folders).

    The server address, concurrency and timeouts are left out: moving a model to another
    host does not change its answers.
    """
    return {
        "provider": config.provider,
        "model": config.model,
        "gguf_file": config.gguf_file,
        "chat_template": config.chat_template,
        "system_prompt": config.system_prompt,
        "generation": dict(sorted(config.generation.items())),
    }


def models_manifest(config: BuilderConfig) -> dict[str, dict[str, Any]]:
    """Every role's model (label + identity), for the manifest and the card."""
    m = config.models
    roles = {
        "extractor": m.extractor or m.generator,
        "generator": m.generator,
        "discriminator": m.discriminator,
        "orchestrator": m.orchestrator,
        "responder": m.responder,
        **{f"target:{t.name}": t.backend for t in config.validation.pool},
    }
    if config.validation.judge_model is not None:
        roles["judge"] = config.validation.judge_model
    return {role: {"label": f"{b.provider}:{b.model}", **backend_identity(b)} for role, b in roles.items()}
