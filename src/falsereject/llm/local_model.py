"""A local ``transformers`` model: loaded once, shared by batched and streamed generation.

:class:`LocalModel` is the small public interface the ``transformers`` provider's two paths
(:mod:`~falsereject.llm.transformers_provider` answers whole, and
:mod:`~falsereject.llm.transformers_streaming` streams token by token) both use: the
tokenizer, the model, its device and end-of-sequence ids, the generation lock, and
:meth:`LocalModel.encode` / :meth:`LocalModel.generate` for the steps they share.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from falsereject.embedded import embedded_model_dir
from falsereject.errors import UserError
from falsereject.llm.base import Messages
from falsereject.llm.config import BackendConfig

DEFAULT_MAX_TOKENS = 256
# One model load at a time in the whole process: two `from_pretrained` calls running in
# different threads leave meta tensors behind (transformers 5), breaking every later load.
_LOAD_ALL = threading.Lock()


def set_chat_template(tokenizer, chat_template: str | None, model: str) -> None:
    """Give ``tokenizer`` the config's ``chat_template`` (Jinja, or a file path), if any.

    A model that ends up with no chat template is a UserError: a chat model's answers
    depend on its template, and a guessed one would measure something else.
    """
    if chat_template:
        if "{%" not in chat_template and "{{" not in chat_template:  # a file path, not Jinja
            if not Path(chat_template).is_file():
                raise UserError(f"chat_template file {chat_template} does not exist")
            chat_template = Path(chat_template).read_text(encoding="utf-8")
        tokenizer.chat_template = chat_template
    if not tokenizer.chat_template:
        raise UserError(
            f"model {model!r} has no chat template: set chat_template in the backend config "
            "(a Jinja string or a file path)"
        )


class LocalModel:
    """Tokenizer + model for a :class:`BackendConfig` (Hub id or folder, optional ``gguf_file``).

    Nothing is loaded until :meth:`load` (thread-safe, first call only). ``lock`` is held while
    the model generates (one batch at a time); it is reentrant, so a caller may hold it to
    check something just before :meth:`generate`.
    """

    def __init__(self, config: BackendConfig):
        self.config = config
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"
        self.eos_ids: frozenset[int] = frozenset()
        self.lock = threading.RLock()
        self._load_lock = threading.Lock()

    def _resolve(self) -> tuple[str, str | None]:
        if self.config.model == "embedded":
            return str(embedded_model_dir()), None
        return self.config.model, self.config.gguf_file

    def load(self) -> LocalModel:
        """Load model and tokenizer (first call only; thread-safe); returns ``self``."""
        if self.model is not None:  # loaded: no need to wait for another model's load
            return self
        with self._load_lock, _LOAD_ALL:
            if self.model is not None:
                return self
            import torch  # heavy: imported when a model is first loaded
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
            self._prepare_tokenizer(tokenizer, path)
            model.to(device).eval()
            self.tokenizer, self.device, self.eos_ids = tokenizer, device, _eos_ids(model, tokenizer)
            self.model = model  # last: a set model means a fully loaded one
        return self

    def _prepare_tokenizer(self, tokenizer, path: str) -> None:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        set_chat_template(tokenizer, self.config.chat_template, path)

    def encode(self, conversations: list[Messages]):
        """The chat-templated, left-padded batch of ``conversations`` on the model's device."""
        tok = self.load().tokenizer
        prompts = [
            tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in conversations
        ]
        return tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    def generate(self, enc, params: dict[str, Any], **extra: Any):
        """``model.generate`` on ``enc`` with OpenAI-style ``params``, under :attr:`lock`.

        ``extra`` goes to ``model.generate`` as is (``num_return_sequences``, ``streamer``...).
        """
        import torch  # heavy: imported once a model generates

        kwargs = generate_kwargs(self.tokenizer, params, **extra)
        with self.lock, torch.inference_mode():
            if params.get("seed") is not None:
                torch.manual_seed(int(params["seed"]))
            return self.model.generate(**enc, **kwargs)


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


def _eos_ids(model, tok) -> frozenset[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    return frozenset(ids)
