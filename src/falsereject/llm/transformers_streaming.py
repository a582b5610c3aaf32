"""Token-by-token streaming for the ``transformers`` provider, batched.

Concurrent :meth:`TransformersBackend.astream` calls with the same generation params are cut
into one batch (up to ``batch_size``), like ``agenerate`` calls are, and generated together;
a streamer receives every step's new tokens and sends each row's new text to its own caller.
So the Space's two columns, when they run the same local model (e.g. with and without a
system prompt), stream side by side at the cost of about one generation, not two in turn.

Text is released a word at a time, holding back enough characters to cut a ``stop`` string
cleanly (:func:`~falsereject.llm.text_stream.release_text`). A caller that stops
reading (timeout, client gone) has its row stopped at the next token.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from falsereject.llm.base import Messages, UsageCounters, check_messages
from falsereject.llm.batching import MicroBatcher
from falsereject.llm.local_model import LocalModel
from falsereject.llm.text_stream import release_text, stop_strings

_END = object()


@dataclass(eq=False)
class _Stream:
    messages: Messages
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    # filled in by the generating thread
    ids: list[int] = field(default_factory=list)
    sent: int = 0
    done: bool = False
    ended: bool = False

    def send(self, item: Any) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def end(self) -> None:
        """Close this caller's stream now (its row is finished; the batch may go on)."""
        if not self.ended:
            self.ended = True
            self.send(_END)


class StreamBatcher:
    """Queues stream requests for one local model and generates them in batches.

    ``usage`` (the provider's counters) counts the calls and tokens of every stream.
    """

    def __init__(self, local: LocalModel, usage: UsageCounters, *, max_batch: int):
        self.local = local
        self.usage = usage
        self.batcher = MicroBatcher(self._generate, max_batch=max_batch)

    async def stream(self, messages: Messages, params: dict[str, Any]) -> AsyncIterator[str]:
        check_messages(messages)
        request = _Stream(messages, asyncio.get_running_loop())
        queued = self.batcher.submit(request, dict(params))
        try:
            while (item := await request.queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.cancelled.set()
            queued.cancel()  # still queued: left out of its batch

    # -- in the generating thread ------------------------------------------------------
    def _generate(self, batch: list[_Stream], params: dict[str, Any]) -> list[None]:
        try:
            self._generate_batch(batch, params)
        except BaseException as exc:  # noqa: BLE001 - handed to every caller still reading
            for r in batch:
                if not r.ended:
                    r.send(exc)
        finally:
            for r in batch:
                r.end()
        return [None] * len(batch)

    def _generate_batch(self, batch: list[_Stream], params: dict[str, Any]) -> None:
        import torch  # heavy: only once a stream runs
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        local = self.local
        enc = local.encode([r.messages for r in batch])
        tok, eos = local.tokenizer, local.eos_ids
        stops = stop_strings(params)

        def release(r: _Stream, final: bool) -> None:
            piece, r.sent, stopped = release_text(
                tok.decode(r.ids, skip_special_tokens=True), r.sent, stops, final=final
            )
            if piece:
                r.send(piece)
            if stopped:
                r.done = True
            if final or stopped:
                r.end()

        class RowStreamer(BaseStreamer):
            prompt_seen = False

            def put(self, value) -> None:
                if not self.prompt_seen:  # generate() first hands over the prompt ids
                    self.prompt_seen = True
                    return
                for r, token in zip(batch, value.reshape(-1).tolist(), strict=True):
                    if r.done:
                        continue
                    if token in eos or r.cancelled.is_set():
                        r.done = True
                        release(r, final=True)
                        continue
                    r.ids.append(token)
                    release(r, final=False)

            def end(self) -> None:
                for r in batch:
                    if not r.done:
                        r.done = True
                        release(r, final=True)

        class RowsFinished(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                flags = [r.done or r.cancelled.is_set() for r in batch]
                return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

        with local.lock:  # reentrant: generate() takes it again
            if all(r.cancelled.is_set() for r in batch):
                return
            self.usage.calls += len(batch)
            local.generate(
                enc, params, streamer=RowStreamer(), stopping_criteria=StoppingCriteriaList([RowsFinished()])
            )
        self.usage.prompt_tokens += int(enc["attention_mask"].sum())
        self.usage.completion_tokens += sum(len(r.ids) for r in batch)
