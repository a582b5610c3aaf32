"""``openai``: any OpenAI-compatible chat server.

vLLM (``vllm serve``), ``transformers serve``, TGI, Ollama, OpenAI and Hugging Face Inference
Providers all speak ``POST {base_url}/chat/completions``. The API key is read from the
environment variable named by ``api_key_env`` (never from a config file, never logged).
429/5xx/timeouts/connection errors raise :class:`TransientError` (the retry wrapper
retries them, honouring Retry-After); other HTTP errors, and errors no retry can heal (a
malformed URL, an unsupported scheme), are final :class:`BackendError`s.

Timeouts (see :class:`~falsereject.llm.config.BackendConfig`): ``connect_timeout`` bounds
opening the connection; ``timeout`` bounds the whole attempt, from connecting to the last
byte of the reply, so neither a silent server nor one that trickles bytes holds a call longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import httpx

from falsereject.errors import BackendError, TransientError, UserError
from falsereject.llm.base import Backend, Generation, Messages, check_messages
from falsereject.llm.config import BackendConfig, BackendConfigError, check_base_url
from falsereject.llm.registry import register

_RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class OpenAIBackend(Backend):
    provider = "openai"

    def __init__(self, config: BackendConfig):
        super().__init__(config.model, max_concurrency=config.max_concurrency)
        if not config.base_url:
            raise UserError(
                "provider 'openai' needs base_url (e.g. http://127.0.0.1:8000/v1 for `vllm serve` "
                "or `transformers serve`, https://api.openai.com/v1 for OpenAI)"
            )
        try:
            check_base_url(config.base_url)  # also when the config was changed after it was built
        except BackendConfigError as exc:
            raise UserError(str(exc)) from None
        self.base_url = config.base_url.rstrip("/")
        self.timeout = float(config.timeout)
        self.connect_timeout = min(float(config.connect_timeout), self.timeout)
        self._headers = {"Content-Type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise UserError(
                    f"api_key_env names {config.api_key_env}, but that environment variable is not set"
                )
            self._headers["Authorization"] = f"Bearer {key}"
        self._clients: dict[int, httpx.AsyncClient] = {}

    @property
    def label(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def _client(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None or client.is_closed:
            limits = httpx.Limits(
                max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
            )
            timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
            client = httpx.AsyncClient(timeout=timeout, headers=self._headers, limits=limits)
            self._clients = {loop_id: client}  # clients of finished loops are unusable
        return client

    async def agenerate(self, messages: Messages, **params: Any) -> Generation:
        check_messages(messages)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": False}
        for name in ("max_tokens", "temperature", "top_p", "n", "seed", "stop"):
            if params.get(name) is not None:
                body[name] = params[name]
        url = f"{self.base_url}/chat/completions"
        try:
            # httpx's read timeout restarts with every byte: the whole reply gets one deadline
            response = await asyncio.wait_for(self._client().post(url, json=body), self.timeout)
        except httpx.ConnectTimeout as exc:
            raise TransientError(
                f"cannot reach {url}: no connection within {self.connect_timeout:g} s (connect_timeout)"
            ) from exc
        except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
            raise TransientError(
                f"{url} sent no complete reply within {self.timeout:g} s "
                "(raise timeout / --timeout if the server is just slow)"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError, UnicodeError) as exc:
            # no retry heals these: the URL or the request itself is wrong
            raise BackendError(f"cannot send to {url}: {type(exc).__name__}: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _RETRYABLE:
            raise TransientError(
                f"{url} answered HTTP {response.status_code}", retry_after=_retry_after(response)
            )
        if response.status_code >= 400:
            raise BackendError(f"{url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            data = response.json()
            choices = data["choices"]
            texts = [c["message"].get("content") or "" for c in choices]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # a proxy cut the body short, or an HTML error page: worth another try
            raise TransientError(f"{url} sent an unreadable response ({exc})") from exc
        usage = data.get("usage") or {}
        return Generation(
            texts=texts,
            finish_reasons=[c.get("finish_reason") or "stop" for c in choices],
            model=data.get("model") or self.model,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            if not client.is_closed:
                with contextlib.suppress(RuntimeError):  # its loop is already gone
                    await client.aclose()
        self._clients = {}


@register("openai")
def _factory(config: BackendConfig) -> Backend:
    return OpenAIBackend(config)
