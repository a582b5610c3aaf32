"""Training chat templates: assistant-only masks, Qwen2.5 parity, and the fallback for other vocabularies."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from falsereject.training.chat_template import (
    chatml_template,
    plan_training_template,
    qwen_chatml_template,
    renders_same,
    template_to_save,
    write_chatml_source,
)

CHAT = [
    {"role": "user", "content": "How do I kill a Python process?"},
    {"role": "assistant", "content": "Use kill PID."},
    {"role": "user", "content": "And on Windows?"},
    {"role": "assistant", "content": "Use taskkill."},
]


@pytest.fixture
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _qwen_template() -> str:
    from trl.chat_template_utils import qwen2_5_chat_template  # the released Qwen2.5 template, shipped by TRL

    return qwen2_5_chat_template


@pytest.mark.parametrize("template", [chatml_template, qwen_chatml_template])
def test_only_assistant_content_and_end_token_are_masked(tok, template):
    out = tok.apply_chat_template(
        CHAT, chat_template=template(), tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    text = tok.decode(masked)
    assert text == "Use kill PID.<|im_end|>Use taskkill.<|im_end|>"


def test_qwen_variant_renders_exactly_like_qwen25(tok):
    qwen = _qwen_template()
    assert renders_same(tok, qwen, qwen_chatml_template())
    assert not renders_same(tok, qwen, chatml_template()), "the generic ChatML has no default system turn"


def test_plan_for_a_qwen_tokenizer_sets_our_template_and_restores_qwens_on_save(tok):
    tok.chat_template = _qwen_template()
    tok.eos_token = "<|endoftext|>"  # like the Qwen2.5 *base* models
    plan = plan_training_template(tok)
    assert plan.action == "set" and plan.template == qwen_chatml_template() and plan.eos_token == "<|im_end|>"
    assert template_to_save(tok, _qwen_template(), plan.template) == _qwen_template()


def test_plan_keeps_marked_templates_and_respects_a_given_path(tok):
    assert plan_training_template(tok).action == "keep"
    assert plan_training_template(tok, chat_template_path="x.jinja").action == "given"
    tok.chat_template = None
    plan = plan_training_template(tok)
    assert plan.action == "set" and plan.template == chatml_template()
    assert template_to_save(tok, None, plan.template) == plan.template


def _foreign_tokenizer(tmp_path):
    """A word-level tokenizer without ChatML tokens and without a chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<pad>", "</s>", "how", "do", "i", "kill", "a", "process", "use", "user", "assistant"]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )


def test_foreign_vocab_is_cloned_to_chatml_with_new_tokens(tmp_path):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import clone_chat_template

    tok = _foreign_tokenizer(tmp_path)
    plan = plan_training_template(tok)
    assert plan.action == "clone"
    source = write_chatml_source(tok, tmp_path / "chatml")
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    )
    model, tok, added = clone_chat_template(
        model, tok, source
    )  # what SFTTrainer does with chat_template_path
    assert {"<|im_start|>", "<|im_end|>"} <= set(tok.convert_ids_to_tokens(added))
    assert tok.eos_token == "<|im_end|>" and model.get_input_embeddings().weight.shape[0] >= len(tok)
    out = tok.apply_chat_template(
        CHAT[:2], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    assert sum(out["assistant_masks"]) > 0
