"""``onnx``: a local model on ONNX Runtime GenAI, quantised (int8 by default), for CPUs.

``pip install 'falsereject[onnx]'`` (included in ``falsereject[embedded]``). The model is
converted once and cached (:mod:`~falsereject.llm.onnx_model`); ``dtype`` chooses the weight
precision (``auto`` = ``int8``, or ``int4``, ``fp32``; see :mod:`~falsereject.llm.onnx_model` for
why int8 is the default). Where the runtime is installed, a
config that names no provider runs the embedded model here
(:func:`falsereject.llm.config.default_provider`); ``provider: transformers`` still chooses
``transformers``.

One conversation per ONNX Runtime generator, never a padded batch: in onnxruntime-genai 0.18
a left-padded row of a batch does not get the answer it gets alone (measured on the embedded
model: 3 of 4 greedy answers changed), and batching does not raise throughput on a 2-core CPU
anyway. Instead worker threads (by default one per core, :mod:`~falsereject.llm.onnx_stepping`)
step up to ``batch_size`` live generators in turn, a token each, admitting new requests as
others finish. So concurrent requests (the eval harness, the
Space's two columns) all progress at once, each with exactly its single-stream answer, and the
model's total speed is shared among them. ``astream`` streams token by token, released a word
at a time (:func:`~falsereject.llm.text_stream.release_text`).

Prompts go through the model's own ``transformers`` tokenizer and chat template (or the
config's ``chat_template``), so the prompt tokens are those the ``transformers`` provider uses.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.config import BackendConfig
from falsereject.llm.local_model import DEFAULT_MAX_TOKENS, set_chat_template
from falsereject.llm.onnx_stepping import Request, Stepper, threads_and_workers
from falsereject.llm.registry import register
from falsereject.llm.text_stream import cut_at_stop, release_text, stop_strings


class OnnxModel:
    """The converted model, its tokenizer and eos ids; loaded once (thread-safe)."""

    def __init__(self, config: BackendConfig):
        self.config = config
        self.precision = None
        self.model: Any = None
        self.tokenizer: Any = None
        self.eos_ids: frozenset[int] = frozenset()
        self.context_length = 0
        self.top_k = 50
        self._lock = threading.Lock()

    def load(self) -> OnnxModel:
        if self.model is not None:
            return self
        with self._lock:
            if self.model is None:
                self._load()
        return self

    def _load(self) -> None:
        from falsereject.llm import onnx_model

        onnx_model.require_runtime()
        import onnxruntime_genai as og

        precision = onnx_model.precision_for(self.config.dtype)
        folder = onnx_model.onnx_model_dir(
            self.config.model, gguf_file=self.config.gguf_file, precision=precision
        )
        threads, _ = threads_and_workers(self.config.batch_size)
        try:
            if threads:
                runtime_config = og.Config(str(folder))
                runtime_config.overlay(
                    json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}})
                )
                model = og.Model(runtime_config)
            else:
                model = og.Model(str(folder))
        except Exception as exc:  # noqa: BLE001 - the runtime raises plain RuntimeErrors
            onnx_model.discard(folder)  # intact files that still do not load: convert again next time
            raise UserError(
                f"ONNX Runtime GenAI cannot load {folder} ({exc}); run again to reconvert it"
            ) from None
        self.tokenizer = self._tokenizer(folder)
        self.eos_ids = _eos_ids(folder, self.tokenizer)
        self.context_length, self.top_k = _search_limits(folder)
        self.precision = precision
        self.model = model  # last: a set model means a fully loaded one

    def _tokenizer(self, folder: Path):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        set_chat_template(tokenizer, self.config.chat_template, self.config.model)
        return tokenizer

    def encode(self, messages: Messages) -> list[int]:
        tok = self.load().tokenizer
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(tok(text, add_special_tokens=False)["input_ids"])

    def start(self, request: Request) -> Any:
        """A generator for ``request`` with its prompt appended (the prompt is run now)."""
        import numpy as np
        import onnxruntime_genai as og

        params = request.params
        budget = int(params.get("max_tokens") or DEFAULT_MAX_TOKENS)
        room = self.context_length - len(request.prompt)
        if room < 1:
            raise ValueError(
                f"the prompt has {len(request.prompt)} tokens; the model's context holds {self.context_length}"
            )
        options: dict[str, Any] = {"max_length": len(request.prompt) + min(budget, room), "batch_size": 1}
        temperature = float(params.get("temperature") or 0.0)
        if temperature > 0:
            options |= {
                "do_sample": True,
                "temperature": temperature,
                "top_p": float(params.get("top_p") or 1.0),
            }
            options["top_k"] = self.top_k
            if request.seed is not None:
                options["random_seed"] = int(request.seed)
        else:
            options["do_sample"] = False
        search = og.GeneratorParams(self.model)
        search.set_search_options(**options)
        generator = og.Generator(self.model, search)
        generator.append_tokens(np.asarray([request.prompt], dtype=np.int32))
        return generator


class OnnxBackend(Backend):
    provider = "onnx"

    def __init__(self, config: BackendConfig):
        super().__init__(config.model, max_concurrency=max(config.max_concurrency, config.batch_size))
        self.config = config
        self.onnx = OnnxModel(config)
        self._stepper = Stepper(
            self.onnx, max_active=config.batch_size, workers=threads_and_workers(config.batch_size)[1]
        )

    def load(self) -> None:
        """Convert (first use only) and load the model."""
        self.onnx.load()

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (loads the model on first use)."""
        return len(self.onnx.load().tokenizer(text, add_special_tokens=False)["input_ids"])

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        prompt = await asyncio.to_thread(self.onnx.encode, messages)
        n = int(params.get("n") or 1)
        seed = params.get("seed")
        runs = [self._sequence(prompt, params, None if seed is None else int(seed) + j) for j in range(n)]
        outcomes = await asyncio.gather(*runs)
        stops = stop_strings(params)
        texts, reasons, completion = [], [], 0
        for ids, reason in outcomes:
            text, stopped = cut_at_stop(self.onnx.tokenizer.decode(ids, skip_special_tokens=True), stops)
            texts.append(text.strip())
            reasons.append("stop" if stopped else reason)
            completion += len(ids)
        return Generation(
            texts=texts,
            finish_reasons=reasons,
            model=self.model,
            prompt_tokens=len(prompt),
            completion_tokens=completion,
        )

    async def _sequence(
        self, prompt: list[int], params: dict[str, Any], seed: int | None
    ) -> tuple[list[int], str]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        ids: list[int] = []

        def on_token(token: int) -> bool:
            ids.append(token)
            return True

        def on_end(outcome: str | BaseException) -> None:
            def settle() -> None:
                if done.done():
                    return
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)

            loop.call_soon_threadsafe(settle)

        request = Request(prompt, params, seed, on_token, on_end)
        self._stepper.submit(request)
        try:
            reason = await done
        finally:
            request.cancelled.set()  # a caller that stopped waiting frees its generator
        return ids, reason

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        """Yield the answer a word at a time as it is generated (first choice only)."""
        check_messages(messages)
        prompt = await asyncio.to_thread(self.onnx.encode, messages)
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        stops = stop_strings(params)
        ids: list[int] = []
        state = {"sent": 0}
        end = object()

        def emit(final: bool) -> bool:
            text = self.onnx.tokenizer.decode(ids, skip_special_tokens=True)
            piece, state["sent"], stopped = release_text(text, state["sent"], stops, final=final)
            if piece:
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
            return not stopped

        def on_token(token: int) -> bool:
            ids.append(token)
            return emit(final=False)

        def on_end(outcome: str | BaseException) -> None:
            if isinstance(outcome, BaseException):
                loop.call_soon_threadsafe(pieces.put_nowait, outcome)
            elif outcome != "cancelled":
                emit(final=True)
            loop.call_soon_threadsafe(pieces.put_nowait, end)

        seed = params.get("seed")
        request = Request(prompt, params, None if seed is None else int(seed), on_token, on_end)
        self.usage.calls += 1
        self._stepper.submit(request)
        try:
            while (item := await pieces.get()) is not end:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.cancelled.set()
            self.usage.prompt_tokens += len(prompt)
            self.usage.completion_tokens += len(ids)


def _eos_ids(folder: Path, tokenizer) -> frozenset[int]:
    """End-of-answer ids: the generation config's and the tokenizer's eos."""
    ids: set[int] = set()
    for name in ("generation_config.json", "config.json"):
        path = folder / name
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
            ids.update(value if isinstance(value, list) else [value] if value is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(int(i) for i in ids)


def _search_limits(folder: Path) -> tuple[int, int]:
    """(context length, top_k for sampling) from the converted model's genai_config.json."""
    genai = json.loads((folder / "genai_config.json").read_text(encoding="utf-8"))
    top_k = 50
    gen_config = folder / "generation_config.json"
    if gen_config.is_file():
        top_k = int(json.loads(gen_config.read_text(encoding="utf-8")).get("top_k") or top_k)
    return int(genai["model"]["context_length"]), top_k


@register("onnx")
def _factory(config: BackendConfig) -> Backend:
    return OnnxBackend(config)
