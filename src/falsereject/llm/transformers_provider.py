"""``transformers``: a local model (Hub id or folder, optional ``gguf_file``).

Batching without a batching API: concurrent ``agenerate`` calls are queued and a worker
runs them through ``model.generate`` in batches of up to ``batch_size`` (left padding, the
tokenizer's chat template or the one in the config), grouped by identical generation
params. So the eval harness, the builders and the Space, which only ever call
``agenerate`` concurrently, all get batched generation. Generation runs in a worker
thread, so the event loop stays free to queue the next batch meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.config import BackendConfig
from falsereject.llm.registry import register

DEFAULT_MAX_TOKENS = 256
# One model load at a time in the whole process: two `from_pretrained` calls running in
# different threads leave meta tensors behind (transformers 5), breaking every later load.
_LOAD_ALL = threading.Lock()


@dataclass
class _Request:
    messages: Messages
    params: dict[str, Any]
    future: asyncio.Future = field(repr=False)


class TransformersBackend(Backend):
    provider = "transformers"

    def __init__(self, config: BackendConfig):
        super().__init__(config.model, max_concurrency=max(config.max_concurrency, config.batch_size))
        self.config = config
        self.batch_size = config.batch_size
        self._model = None
        self._tokenizer = None
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()
        self._pending: list[_Request] = []
        self._worker: asyncio.Task | None = None
        self._stream_batcher = None  # created by the first astream() call

    # -- loading -------------------------------------------------------------------------
    def _resolve(self) -> tuple[str, str | None]:
        if self.config.model == "embedded":
            from falsereject.embedded import embedded_model_dir

            return str(embedded_model_dir()), None
        return self.config.model, self.config.gguf_file

    def load(self) -> None:
        """Load model and tokenizer (first call only; thread-safe)."""
        if self._model is not None:  # loaded: no need to wait for another backend's load
            return
        with self._load_lock, _LOAD_ALL:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path, gguf = self._resolve()
            kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
            device = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = self.config.dtype
            if dtype == "auto":
                dtype = "bfloat16" if device.startswith("cuda") else "float32"
            try:
                tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
                model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), **kwargs)
            except OSError as exc:
                raise UserError(
                    f"cannot load model {path!r}: {exc}. Give a local folder, a cached Hub id, "
                    "or `embedded` for the built-in default"
                ) from None
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            if self.config.chat_template:
                template = self.config.chat_template
                if "{%" not in template and "{{" not in template:  # a file path, not Jinja
                    if not Path(template).is_file():
                        raise UserError(f"chat_template file {template} does not exist")
                    template = Path(template).read_text(encoding="utf-8")
                tokenizer.chat_template = template
            if not tokenizer.chat_template:
                raise UserError(
                    f"model {path!r} has no chat template: set chat_template in the backend config "
                    "(a Jinja string or a file path)"
                )
            model.to(device).eval()
            self._tokenizer, self._model, self.device = tokenizer, model, device

    # -- batching ------------------------------------------------------------------------
    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        loop = asyncio.get_running_loop()
        request = _Request(messages, params, loop.create_future())
        self._pending.append(request)
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._worker = loop.create_task(self._drain())
        return await request.future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0.005)  # let concurrent callers enqueue before we cut a batch
            key = json.dumps(self._pending[0].params, sort_keys=True, default=str)
            batch = [r for r in self._pending if json.dumps(r.params, sort_keys=True, default=str) == key]
            batch = batch[: self.batch_size]
            taken = {id(r) for r in batch}
            self._pending = [r for r in self._pending if id(r) not in taken]
            batch = [r for r in batch if not r.future.done()]  # cancelled callers
            if not batch:
                continue
            try:
                gens = await asyncio.to_thread(
                    self._generate_batch, [r.messages for r in batch], batch[0].params
                )
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            for r, gen in zip(batch, gens, strict=True):
                if not r.future.done():
                    r.future.set_result(gen)

    # -- generation ----------------------------------------------------------------------
    def _generate_batch(self, batch: list[Messages], params: dict[str, Any]) -> list[Generation]:
        import torch

        self.load()
        tok, model = self._tokenizer, self._model
        n = int(params.get("n") or 1)
        prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in batch]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        gen_kwargs = generate_kwargs(tok, params, num_return_sequences=n)
        with self._gen_lock, torch.inference_mode():
            if params.get("seed") is not None:
                torch.manual_seed(int(params["seed"]))
            out = model.generate(**enc, **gen_kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        eos_ids = _eos_ids(model, tok)
        stops = params.get("stop") or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        results = []
        for i in range(len(batch)):
            texts, reasons, completion = [], [], 0
            for j in range(n):
                ids = new[i * n + j].tolist()
                end = next((k for k, t in enumerate(ids) if t in eos_ids), None)
                reason = "stop" if end is not None else "length"
                ids = ids if end is None else ids[:end]
                completion += len(ids)
                text = tok.decode(ids, skip_special_tokens=True)
                for s in stops:
                    if s and s in text:
                        text, reason = text[: text.index(s)], "stop"
                texts.append(text.strip())
                reasons.append(reason)
            results.append(
                Generation(
                    texts=texts,
                    finish_reasons=reasons,
                    model=self.model,
                    prompt_tokens=int(prompt_lens[i]),
                    completion_tokens=completion,
                )
            )
        return results

    # -- streaming -----------------------------------------------------------------------
    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        """Stream one answer as it is generated; concurrent streams are batched together.

        See :mod:`falsereject.llm.transformers_streaming` (used by the Space).
        """
        from falsereject.llm.transformers_streaming import StreamBatcher

        if self._stream_batcher is None:
            self._stream_batcher = StreamBatcher(self)
        async for piece in self._stream_batcher.stream(messages, params):
            yield piece


def generate_kwargs(tok, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``model.generate`` keyword arguments for OpenAI-style params (0 temperature = greedy)."""
    temperature = float(params.get("temperature") or 0.0)
    kwargs: dict[str, Any] = {
        "max_new_tokens": int(params.get("max_tokens") or DEFAULT_MAX_TOKENS),
        "pad_token_id": tok.pad_token_id,
        **extra,
    }
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=float(params.get("top_p") or 1.0))
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def _eos_ids(model, tok) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    return ids


@register("transformers")
def _factory(config: BackendConfig) -> Backend:
    return TransformersBackend(config)
