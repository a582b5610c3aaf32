"""``transformers``: a local model (Hub id or folder, optional ``gguf_file``).

Batching without a batching API: concurrent ``agenerate`` calls go into a
:class:`~falsereject.llm.batching.MicroBatcher`, which runs them through ``model.generate``
in batches of up to ``batch_size`` (left padding, the tokenizer's chat template or the one
in the config), grouped by identical generation params. So the eval harness, the builders
and the Space, which only ever call ``agenerate`` concurrently, all get batched generation.
Generation runs in a worker thread, so the event loop stays free to queue the next batch
meanwhile. ``astream`` streams token by token, batched the same way
(:mod:`~falsereject.llm.transformers_streaming`); both use one
:class:`~falsereject.llm.local_model.LocalModel`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.batching import MicroBatcher
from falsereject.llm.config import BackendConfig
from falsereject.llm.local_model import LocalModel
from falsereject.llm.registry import register
from falsereject.llm.transformers_streaming import StreamBatcher


class TransformersBackend(Backend):
    provider = "transformers"

    def __init__(self, config: BackendConfig):
        super().__init__(config.model, max_concurrency=max(config.max_concurrency, config.batch_size))
        self.config = config
        self.batch_size = config.batch_size
        self.local = LocalModel(config)
        self._batcher = MicroBatcher(self._generate_batch, max_batch=config.batch_size)
        self._streams = StreamBatcher(self.local, self.usage, max_batch=config.batch_size)

    def load(self) -> None:
        """Load model and tokenizer (first call only; thread-safe)."""
        self.local.load()

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        return await self._batcher.submit(messages, params)

    async def astream(self, messages: Messages, **params: Any) -> AsyncIterator[str]:
        """Stream one answer as it is generated; concurrent streams are batched together.

        See :mod:`falsereject.llm.transformers_streaming` (used by the Space).
        """
        async for piece in self._streams.stream(messages, params):
            yield piece

    # -- in the generating thread ------------------------------------------------------------
    def _generate_batch(self, batch: list[Messages], params: dict[str, Any]) -> list[Generation]:
        local = self.local
        enc = local.encode(batch)
        n = int(params.get("n") or 1)
        out = local.generate(enc, params, num_return_sequences=n)
        new = out[:, enc["input_ids"].shape[1] :]
        stops = params.get("stop") or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        results = []
        for i in range(len(batch)):
            texts, reasons, completion = [], [], 0
            for j in range(n):
                ids = new[i * n + j].tolist()
                end = next((k for k, t in enumerate(ids) if t in local.eos_ids), None)
                reason = "stop" if end is not None else "length"
                ids = ids if end is None else ids[:end]
                completion += len(ids)
                text = local.tokenizer.decode(ids, skip_special_tokens=True)
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


@register("transformers")
def _factory(config: BackendConfig) -> Backend:
    return TransformersBackend(config)
