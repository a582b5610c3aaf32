"""``vllm``: vLLM's offline engine on a GPU (imported lazily; ``pip install 'falsereject[vllm]'``).

Concurrent ``agenerate`` calls are collected by a :class:`~falsereject.llm.batching.MicroBatcher`
(no batch size limit: every waiting request with the same params) and handed to ``LLM.chat``
as one list, which vLLM schedules with continuous batching.
"""

from __future__ import annotations

import threading
from typing import Any

from falsereject.errors import UserError
from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.batching import MicroBatcher
from falsereject.llm.config import BackendConfig
from falsereject.llm.registry import register


class VLLMBackend(Backend):
    provider = "vllm"

    def __init__(self, config: BackendConfig):
        super().__init__(config.model, max_concurrency=max(config.max_concurrency, 256))
        self.config = config
        self._llm = None
        self._lock = threading.Lock()
        self._batcher = MicroBatcher(self._run, max_batch=None)

    def load(self):
        with self._lock:
            if self._llm is None:
                try:
                    import torch
                    from vllm import LLM
                except ImportError:
                    raise UserError(
                        "provider 'vllm' needs `pip install 'falsereject[vllm]'` on a GPU machine"
                    ) from None
                if not torch.cuda.is_available():
                    raise UserError("provider 'vllm' needs a CUDA GPU; use provider 'transformers' on CPU")
                kwargs: dict[str, Any] = {"model": self.config.model, "trust_remote_code": False}
                if self.config.dtype != "auto":
                    kwargs["dtype"] = self.config.dtype
                self._llm = LLM(**kwargs)
        return self._llm

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        return await self._batcher.submit(messages, params)

    def _run(self, conversations: list[Messages], params: dict[str, Any]) -> list[Generation]:
        from vllm import SamplingParams

        llm = self.load()
        sp = SamplingParams(
            n=int(params.get("n") or 1),
            temperature=float(params.get("temperature") or 0.0),
            top_p=float(params.get("top_p") or 1.0),
            max_tokens=int(params.get("max_tokens") or 256),
            seed=params.get("seed"),
            stop=params.get("stop"),
        )
        kwargs = {"chat_template": self.config.chat_template} if self.config.chat_template else {}
        outputs = llm.chat(conversations, sp, use_tqdm=False, **kwargs)
        return [
            Generation(
                texts=[c.text.strip() for c in o.outputs],
                finish_reasons=[c.finish_reason or "stop" for c in o.outputs],
                model=self.model,
                prompt_tokens=len(o.prompt_token_ids or []),
                completion_tokens=sum(len(c.token_ids) for c in o.outputs),
            )
            for o in outputs
        ]


@register("vllm")
def _factory(config: BackendConfig) -> Backend:
    return VLLMBackend(config)
