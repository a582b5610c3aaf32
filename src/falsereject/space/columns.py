"""The Space's two columns: which model really runs, what it is called, and its backend.

:func:`resolve_column` applies a column's ``fallback`` when its local model folder does not
exist; :func:`column_title` and :func:`describe_backend` say honestly what runs (never a URL,
key or environment variable). :func:`build_columns` makes each a :class:`Column`, sharing one
loaded model between columns whose backends have the same
:meth:`~falsereject.llm.BackendConfig.provider_key`. A column that fails raises
:class:`ColumnDown` with one of the fixed sentences below, never the exception's own text.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from falsereject.embedded import MODEL_NAME, UPSTREAM
from falsereject.errors import BackendError, TransientError, UserError
from falsereject.llm import Backend, BackendConfig, build_backend
from falsereject.llm.onnx_model import precision_for
from falsereject.llm.registry import create_provider
from falsereject.space.config import EMBEDDED_CARD, EMBEDDED_TITLE, ColumnConfig

log = logging.getLogger(__name__)

# What a column says when it fails: fixed sentences, never an exception's text.
MSG_DOWN = (
    "**Not answering right now**: this model's server may be down or still starting. "
    "Please try again in a minute."
)
MSG_BROKEN = "**Unavailable**: this column's model could not be started. The Space's logs say why."
MSG_FAILED = "**No answer**: this model failed to answer this time. Please try again."


# -- which model runs, and what it is called ---------------------------------------------------
def _local_model(model: str, roots: list[Path]) -> Path | None:
    """The first folder ``model`` names under ``roots`` that holds a model or a PEFT adapter
    (a folder still being written by a training run, with neither, does not count)."""
    for root in roots:
        candidate = (root / Path(model).expanduser()).resolve()
        if any((candidate / name).is_file() for name in ("config.json", "adapter_config.json")):
            return candidate
    return None


#: the weights an ONNX Runtime GenAI column runs when its config leaves ``dtype`` at auto. The
#: package's default, int8, keeps the embedded model's answers (99% of judge labels on the
#: sample); int4 is about 2x faster for one answer, which a visitor waiting on 2 vCPUs feels more
#: than the answers' fidelity to another runtime. The page says "quantised to 4 bits".
SPACE_ONNX_PRECISION = "int4"


def resolve_column(column: ColumnConfig, roots: list[Path]) -> ColumnConfig:
    """The column that will really run: local folders made absolute, fallbacks applied, an
    ONNX column's auto precision set to :data:`SPACE_ONNX_PRECISION`."""
    backend = column.backend
    if backend.provider == "onnx" and backend.dtype in (None, "", "auto"):
        column = replace(column, backend=replace(backend, dtype=SPACE_ONNX_PRECISION))
        backend = column.backend
    if backend.provider in ("transformers", "vllm") and backend.model != "embedded":
        folder = _local_model(backend.model, roots)
        if folder is not None:
            return replace(column, backend=replace(backend, model=str(folder)), fallback=None)
        if column.fallback is not None:
            log.info("%r: model folder %s not found, using its fallback", column.title, backend.model)
            return resolve_column(column.fallback, roots)
    return replace(column, fallback=None)


def _folder_label(model: str) -> str:
    """A local model folder's name, with its parent for generic names (``run/merged``)."""
    folder = Path(model)
    if folder.name == "merged" or folder.name.startswith("checkpoint-"):
        return f"{folder.parent.name}/{folder.name}"
    return folder.name or model


def column_title(column: ColumnConfig) -> str:
    """The column's title, or one generated from its backend when the config gives none."""
    if column.title:
        return column.title
    backend = column.backend
    name = EMBEDDED_TITLE if backend.model == "embedded" else _folder_label(backend.model)
    return name + (" + a system prompt" if backend.system_prompt else "")


def describe_backend(backend: BackendConfig) -> str:
    """One honest line about what a backend runs (no URL, key or env var name)."""
    if backend.provider == "openai":
        what = f"`{backend.model}` on an OpenAI-compatible server"
    elif backend.model == "embedded" and backend.provider == "onnx":
        what = f"{UPSTREAM.rsplit('/', 1)[-1]}, {precision_for(backend.dtype)} on ONNX Runtime GenAI, local"
    elif backend.model == "embedded":
        what = f"{MODEL_NAME}, local ({backend.provider})"
    else:
        folder = Path(backend.model)
        what = f"`{_folder_label(backend.model)}`, local ({backend.provider})"
        if (folder / "adapter_config.json").is_file():
            what += ", a LoRA adapter on its base model"
        elif folder.name == "merged" and (folder.parent / "adapter_config.json").is_file():
            what += ", a LoRA merged into its base model"
    if backend.system_prompt:
        what += " + a system prompt"
    return f"Runs: {what}"


# -- the running columns -------------------------------------------------------------------------
class ColumnDown(Exception):
    """A column failed; the message is one of the fixed sentences (MSG_*), safe to show."""


def friendly(exc: BaseException) -> str:
    """The fixed sentence for a failure (the exception's own text may name URLs or env vars)."""
    if isinstance(exc, (BackendError, TransientError, ConnectionError, TimeoutError)):
        return MSG_DOWN
    if isinstance(exc, UserError):
        return MSG_BROKEN
    return MSG_FAILED


@dataclass
class Column:
    config: ColumnConfig  # as resolved: the model that really runs
    backend: Backend | None  # the full stack (retries, cache, defaults)
    raw: Backend | None  # the bare provider, streamed from when it streams natively
    problem: str | None = None  # a fixed sentence when the column cannot answer at all

    @property
    def title(self) -> str:
        return column_title(self.config)

    @property
    def model_url(self) -> str:
        """The model card to link: the config's, else the embedded model's upstream card."""
        if self.config.model_url:
            return self.config.model_url
        return EMBEDDED_CARD if self.config.backend.model == "embedded" else ""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by this column's tokenizer when it has one loaded, else an
        estimate (4 characters a token)."""
        counter = getattr(self.raw, "count_tokens", None)
        if callable(counter):
            return int(counter(text))
        tokenizer = getattr(getattr(self.raw, "local", None), "tokenizer", None)
        if tokenizer is not None:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])
        return max(1, round(len(text) / 4)) if text else 0

    def streams(self) -> bool:
        return self.raw is not None and type(self.raw).astream is not Backend.astream

    def prepare(self, messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        cfg = self.config.backend
        if cfg.system_prompt:
            messages = [{"role": "system", "content": cfg.system_prompt}, *messages]
        return messages, dict(cfg.generation)

    async def stream(self, messages: list[dict[str, str]], **override: Any) -> AsyncIterator[str]:
        messages, params = self.prepare(messages)
        params.update(override)
        source = self.raw if self.streams() else self.backend
        async for piece in source.astream(messages, **params):
            yield piece

    async def answer(self, messages: list[dict[str, str]], **override: Any) -> AsyncIterator[str]:
        """:meth:`stream`, with any failure raised as :class:`ColumnDown` (logged in full)."""
        if self.problem:
            raise ColumnDown(self.problem)
        try:
            async for piece in self.stream(messages, **override):
                yield piece
        except Exception as exc:  # noqa: BLE001 - logged in full, shown as a fixed sentence
            log.warning("column %r failed: %r", self.title, exc)
            raise ColumnDown(friendly(exc)) from None

    def load(self) -> None:
        """Load a local model now (a failure marks the column broken, it does not raise)."""
        load = getattr(self.raw, "load", None)
        if callable(load):
            try:
                load()
            except Exception as exc:  # noqa: BLE001 - shown as a fixed sentence, logged in full
                log.error("column %r failed to load: %s", self.title, exc)
                self.problem = MSG_BROKEN


def build_columns(configs: Iterable[ColumnConfig], roots: list[Path]) -> list[Column]:
    """One :class:`Column` per config, resolved against ``roots`` (see :func:`resolve_column`);
    columns with the same ``provider_key()`` share one provider (one loaded model)."""
    providers: dict[str, Backend] = {}
    return [_build_column(resolve_column(config, roots), providers) for config in configs]


def _build_column(config: ColumnConfig, providers: dict[str, Backend]) -> Column:
    key = config.backend.provider_key()
    try:
        raw = providers.get(key) or create_provider(config.backend)
        providers[key] = raw
        return Column(config, build_backend(config.backend, provider=raw), raw)
    except Exception as exc:  # noqa: BLE001 - shown as a fixed sentence, logged in full
        log.error("column %r cannot be built: %s", config.title, exc)
        return Column(config, None, None, problem=MSG_BROKEN)
