"""Chat templates for assistant-only loss.

TRL's ``assistant_only_loss=True`` masks everything but the spans a chat template wraps in
``{% generation %}...{% endgeneration %}``. Most released templates (Qwen2.5 included) have
no such markers, so the recipe picks a training template before training
(:func:`plan_training_template`):

``keep``   the template already has the markers (nothing to do);
``given``  the recipe sets ``chat_template_path`` (TRL applies it);
``set``    the tokenizer knows ``<|im_start|>``/``<|im_end|>`` (Qwen and other ChatML models):
           use the ChatML template shipped here (``falsereject/templates/``); for Qwen2.5
           models its variant renders a text chat byte-for-byte like Qwen's own template,
           default system turn included. ``<|im_end|>`` becomes the eos token;
``trl``    TRL has a training version of the model's template (Gemma, Llama-3, ...):
           TRL swaps it in during training;
``clone``  otherwise (e.g. a base model with no template): ChatML with its two special
           tokens added; TRL's ``clone_chat_template`` resizes the embeddings (and, with
           LoRA, makes the new token rows and ``lm_head`` trainable).

After training, :func:`template_to_save` keeps the model's own template in the saved
tokenizer when the training template renders the same text for plain chats (so tool use
and the like keep working), and the training template otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

_PROBES = [
    [{"role": "user", "content": "Hi there."}, {"role": "assistant", "content": "Hello! How can I help?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "How do I kill a Python process?"},
        {"role": "assistant", "content": "Use `kill PID`."},
        {"role": "user", "content": "Thanks."},
        {"role": "assistant", "content": "You're welcome."},
    ],
]


def chatml_template() -> str:
    """ChatML with ``{% generation %}`` markers (no default system turn)."""
    return (TEMPLATES / "chatml_generation.jinja").read_text(encoding="utf-8")


def qwen_chatml_template() -> str:
    """ChatML with markers and Qwen2.5's default system turn: renders text chats like Qwen2.5."""
    return (TEMPLATES / "qwen2.5_chatml_generation.jinja").read_text(encoding="utf-8")


def _template_str(template) -> str | None:
    if isinstance(template, dict):
        return template.get("default")
    return template


def has_generation_markers(template) -> bool:
    from trl.chat_template_utils import has_generation_markers as _has

    template = _template_str(template)
    return bool(template) and _has(template)


@dataclass
class TemplatePlan:
    action: str  # keep | given | set | trl | clone
    reason: str
    template: str | None = None  # the template to set (set, clone)
    eos_token: str | None = None  # an eos token to use in training and generation (set, clone)


def plan_training_template(tokenizer, *, chat_template_path: str | None = None) -> TemplatePlan:
    """Decide how the assistant turns get their ``{% generation %}`` markers (see module doc)."""
    if chat_template_path:
        return TemplatePlan("given", f"chat_template_path={chat_template_path} (applied by TRL)")
    current = _template_str(tokenizer.chat_template)
    if current and has_generation_markers(current):
        return TemplatePlan("keep", "the model's chat template already has {% generation %} markers")
    vocab = tokenizer.get_vocab()
    eos = "<|im_end|>"
    if all(tok in vocab for tok in CHATML_TOKENS):
        qwen = bool(current) and QWEN_DEFAULT_SYSTEM in current
        template = qwen_chatml_template() if qwen else chatml_template()
        name = "qwen2.5_chatml_generation.jinja" if qwen else "chatml_generation.jinja"
        why = "has no {% generation %} markers" if current else "is missing"
        return TemplatePlan(
            "set",
            f"the model's chat template {why}; using falsereject/templates/{name}",
            template,
            eos if tokenizer.eos_token != eos else None,
        )
    if current:
        from trl.chat_template_utils import get_training_chat_template

        try:
            if get_training_chat_template(tokenizer):
                return TemplatePlan("trl", "TRL swaps in its training version of the model's chat template")
        except ValueError:
            pass
    return TemplatePlan(
        "clone",
        "no usable chat template: ChatML (chatml_generation.jinja) with <|im_start|>/<|im_end|> added to the vocabulary",
        chatml_template(),
        eos,
    )


def write_chatml_source(tokenizer, folder: str | Path) -> str:
    """A tokenizer folder with ChatML tokens + template, for TRL's ``chat_template_path`` (``clone``)."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    source = AutoTokenizer.from_pretrained(folder)
    new = [t for t in CHATML_TOKENS if t not in source.get_vocab()]
    if new:
        source.add_tokens(new, special_tokens=True)
    source.eos_token = "<|im_end|>"
    source.chat_template = chatml_template()
    source.save_pretrained(folder)
    return str(folder)


def renders_same(tokenizer, template_a: str, template_b: str) -> bool:
    """Whether two templates render the same text for plain chats (with and without a system turn)."""
    try:
        for messages in _PROBES:
            for gen in (False, True):
                msgs = messages[:-1] if gen else messages
                a = tokenizer.apply_chat_template(
                    msgs, chat_template=template_a, tokenize=False, add_generation_prompt=gen
                )
                b = tokenizer.apply_chat_template(
                    msgs, chat_template=template_b, tokenize=False, add_generation_prompt=gen
                )
                if a != b:
                    return False
    except Exception:  # noqa: BLE001 - a template that cannot render these is not the same
        return False
    return True


def template_to_save(tokenizer, original, training) -> str | None:
    """The template for the saved tokenizer: the model's own when it renders like the training one."""
    original, training = _template_str(original), _template_str(training)
    if original and training and original != training and renders_same(tokenizer, original, training):
        return original
    return training or original
