"""A backend, fully described by one small dataclass (one YAML block).

Every value is checked when the config is built (and again by ``build_backend``, since
callers may change fields afterwards): a bad one is a :class:`BackendConfigError`, a
:class:`~falsereject.errors.UserError` naming the field (or, from the command line, its
flag), never a traceback from deep inside a provider.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from falsereject.errors import UserError
from falsereject.llm.base import KNOWN_PARAMS

#: seconds to open a connection (a server that is down or unroutable fails this fast)
DEFAULT_CONNECT_TIMEOUT = 10.0
#: seconds for one whole reply (connect + send + wait + read): a server that accepts and
#: never answers costs this much per attempt
DEFAULT_TIMEOUT = 60.0

#: config field -> its command-line flag in :func:`falsereject.llm.add_backend_arguments`
#: (without ``--`` and the prefix, e.g. ``judge-``)
FLAGS = {
    "base_url": "base-url",
    "max_concurrency": "max-concurrency",
    "timeout": "timeout",
    "max_retries": "max-retries",
    "generation.max_tokens": "max-tokens",
    "generation.temperature": "temperature",
}


class BackendConfigError(UserError, ValueError):
    """A bad BackendConfig value. ``field`` names it (``generation.max_tokens``, ``base_url``).

    Also a ValueError, so :func:`falsereject.config.load_config` prefixes the YAML file's
    name; :func:`falsereject.llm.backend_config_from_arguments` names the flag instead.
    """

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    def for_flag(self, prefix: str = "") -> UserError:
        """The same problem, named by the command-line flag (``prefix`` like ``judge-``)."""
        flag = FLAGS.get(self.field)
        if flag is None:
            return UserError(str(self))
        return UserError(f"--{prefix}{flag}: {self.problem}")


def check_base_url(url: Any) -> str:
    """``url`` if it is a usable ``http(s)://host[:port]/path`` address, else a BackendConfigError.

    These errors cannot heal by retrying, so they are caught here, before any request.
    """
    example = "expected e.g. http://127.0.0.1:8000/v1"
    if not isinstance(url, str) or not url.strip():
        raise BackendConfigError("base_url", f"is empty or not text ({url!r}); {example}")
    try:
        parts = urlsplit(url)
        port = parts.port  # parses (and range-checks) the port
    except ValueError as exc:
        raise BackendConfigError("base_url", f"{url!r} is not a valid URL ({exc}); {example}") from None
    if parts.scheme not in ("http", "https"):
        if parts.scheme and not parts.netloc and parts.path[:1].isdigit():
            hint = f"; did you mean http://{url}?"  # localhost:8000/v1
        elif "://" in url:
            hint = f"; the scheme must be http or https, not {parts.scheme!r}"
        else:
            hint = f"; {example}"
        raise BackendConfigError("base_url", f"{url!r} is not an http(s) URL{hint}")
    if any(c.isspace() for c in url):
        raise BackendConfigError("base_url", f"{url!r} contains spaces; {example}")
    if not parts.hostname:
        raise BackendConfigError("base_url", f"{url!r} names no host; {example}")
    if port == 0:
        raise BackendConfigError("base_url", f"{url!r}: port 0 is not a server port (1-65535)")
    import httpx  # the client's own parser has the last word (imported only when a URL is set)

    try:
        httpx.Request("POST", url.rstrip("/") + "/chat/completions")
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise BackendConfigError("base_url", f"{url!r} is not a valid URL ({exc}); {example}") from None
    return url


def default_provider(model: str, base_url: str | None = None) -> str:
    """The provider a config that names none gets.

    ``openai`` with a ``base_url``; the embedded model runs on ``onnx`` (ONNX Runtime GenAI,
    about 4x faster for one answer on a CPU) where that is installed; everything else on
    ``transformers``.
    """
    if base_url:
        return "openai"
    if model == "embedded":
        from falsereject.llm.onnx_model import runtime_version

        if runtime_version() is not None:
            return "onnx"
    return "transformers"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class BackendConfig:
    """Where generations come from.

    ``model: embedded`` is the registry-installed default model (Qwen2.5-Coder-0.5B-Instruct
    GGUF, see :mod:`falsereject.embedded`), run by the ``onnx`` or ``transformers`` provider.
    ``provider`` left out (``None``) is :func:`default_provider`'s choice.
    ``generation`` holds default generation params (``max_tokens``, ``temperature``, ...).
    ``cache_dir``: ``None`` = the user cache (``~/.cache/falsereject/llm``); ``"off"`` = no cache.

    Server providers (``openai``): ``timeout`` is the most seconds one attempt may take,
    from connecting to the last byte of the reply (default 60; raise it for slow servers,
    long answers or deep queues); ``connect_timeout`` the most seconds to open the
    connection (default 10). A timed-out attempt is retried like a 5xx, up to
    ``max_retries`` times (so a server that never answers fails after about
    ``(max_retries + 1) * timeout`` seconds); a malformed ``base_url`` fails at once.
    """

    provider: str | None = None
    model: str = "embedded"
    base_url: str | None = None
    api_key_env: str | None = None
    gguf_file: str | None = None
    chat_template: str | None = None
    system_prompt: str | None = None
    max_concurrency: int = 8
    batch_size: int = 8
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    max_retries: int = 5
    dtype: str = "auto"
    device: str | None = None
    cache_dir: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.provider is None:
            self.provider = default_provider(self.model, self.base_url)
        self.validate()

    def validate(self) -> None:
        """Raise a :class:`BackendConfigError` naming the first bad field."""
        if not isinstance(self.provider, str) or not self.provider:
            raise BackendConfigError("provider", f"must be a provider name, got {self.provider!r}")
        unknown = set(self.generation) - KNOWN_PARAMS
        if unknown:
            raise BackendConfigError(
                "generation", f"unknown parameter(s) {sorted(unknown)}; known: {sorted(KNOWN_PARAMS)}"
            )
        for name in ("max_concurrency", "batch_size"):
            value = getattr(self, name)
            if not _integer(value) or value < 1:
                raise BackendConfigError(name, f"must be a whole number >= 1, got {value!r}")
        if not _integer(self.max_retries) or self.max_retries < 0:
            raise BackendConfigError("max_retries", f"must be a whole number >= 0, got {self.max_retries!r}")
        for name in ("timeout", "connect_timeout"):
            value = getattr(self, name)
            if not _number(value) or value <= 0:
                raise BackendConfigError(name, f"must be a number of seconds > 0, got {value!r}")
        if self.base_url is not None:
            check_base_url(self.base_url)
        self._validate_generation()

    def _validate_generation(self) -> None:
        g = self.generation
        if g.get("max_tokens") is not None and (not _integer(g["max_tokens"]) or g["max_tokens"] < 1):
            raise BackendConfigError(
                "generation.max_tokens", f"must be a whole number >= 1, got {g['max_tokens']!r}"
            )
        if g.get("temperature") is not None and (not _number(g["temperature"]) or g["temperature"] < 0):
            raise BackendConfigError(
                "generation.temperature", f"must be a number >= 0 (0 = greedy), got {g['temperature']!r}"
            )
        if g.get("top_p") is not None and (not _number(g["top_p"]) or not 0 < g["top_p"] <= 1):
            raise BackendConfigError("generation.top_p", f"must be in (0, 1], got {g['top_p']!r}")
        if g.get("n") is not None and (not _integer(g["n"]) or g["n"] < 1):
            raise BackendConfigError("generation.n", f"must be a whole number >= 1, got {g['n']!r}")

    #: the fields that decide which client or loaded model serves a config (two configs with the
    #: same key can share one: e.g. two builder roles on one server, two Space columns on one model)
    PROVIDER_FIELDS = (
        "provider",
        "model",
        "base_url",
        "api_key_env",
        "gguf_file",
        "chat_template",
        "dtype",
        "device",
        "batch_size",
        "timeout",
        "connect_timeout",
    )

    def provider_key(self) -> str:
        """A string naming the client/loaded model this config needs (see PROVIDER_FIELDS)."""
        return json.dumps({k: getattr(self, k) for k in self.PROVIDER_FIELDS}, sort_keys=True)
