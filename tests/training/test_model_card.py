"""The model card: base model, mixture with versions and counts, hyperparameters, eval results."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import yaml

from falsereject.errors import UserError
from falsereject.training.card import describe_method, eval_results_markdown, render_model_card

MIXTURE = {
    "seed": 7,
    "train_rows": 1234,
    "eval_rows": 0,
    "sources": [
        {
            "name": "tulu",
            "path": "allenai/tulu-3-sft-mixture",
            "config": None,
            "split": "train",
            "revision": "abc123",
            "version": "abc123",
            "available": 939343,
            "selected": 1000,
            "used": 1000,
            "dropped": 0,
            "columns": "messages",
        },
        {
            "name": "falsereject-sample (instruct)",
            "path": "/data/falsereject_sample",
            "config": "instruct",
            "split": "train",
            "revision": None,
            "version": "0.1.0 (content 6fddabd62758)",
            "available": 240,
            "selected": 240,
            "used": 234,
            "dropped": 6,
            "columns": "prompt, instruct_response",
        },
    ],
}


def _card(**kw):
    args = dict(
        model_name="qwen-fr",
        base_model="Qwen/Qwen2.5-0.5B",
        mixture=MIXTURE,
        method="LoRA: r=16",
        hyperparameters={"learning_rate": 2e-4, "effective batch size": 8},
        is_adapter=True,
        chat_template_note="falsereject/templates/qwen2.5_chatml_generation.jinja",
    )
    args.update(kw)
    return render_model_card(**args)


def test_card_names_base_model_mixture_counts_and_hyperparameters():
    card = _card()
    header = yaml.safe_load(card.split("---")[1])
    assert header["base_model"] == "Qwen/Qwen2.5-0.5B" and header["library_name"] == "peft"
    assert header["datasets"] == ["allenai/tulu-3-sft-mixture"], "only Hub ids go to the card's datasets list"
    assert "| tulu | `allenai/tulu-3-sft-mixture` | - | train | abc123 | 939343 | 1000 |" in card
    assert "0.1.0 (content 6fddabd62758) | 240 | 234 (6 dropped" in card
    assert "**1234 training rows**" in card and "seed 7" in card
    assert "| `learning_rate` | 0.0002 |" in card
    assert "AutoPeftModelForCausalLM" in card and "No evaluation results" in card


def test_full_model_card_and_eval_results(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps({"base": {"compliance": 0.71, "usr": 0.9}, "tuned": {"compliance": 0.85, "usr": 0.93}})
    )
    card = _card(is_adapter=False, eval_results=eval_results_markdown(results))
    assert "library_name: transformers" in card and "AutoModelForCausalLM.from_pretrained" in card
    assert "| run | compliance | usr |" in card and "| tuned | 0.85 | 0.93 |" in card
    md = tmp_path / "results.md"
    md.write_text("| model | compliance |\n|---|---|\n| tuned | 0.85 [0.80, 0.89] |\n")
    assert "0.85 [0.80, 0.89]" in _card(eval_results=eval_results_markdown(md))
    with pytest.raises(UserError, match="does not exist"):
        eval_results_markdown(tmp_path / "missing.json")


def test_describe_method():
    lora = SimpleNamespace(
        use_peft=True,
        load_in_4bit=True,
        load_in_8bit=False,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        lora_target_modules=["q_proj", "v_proj"],
    )
    assert (
        describe_method(lora)
        == "QLoRA (4-bit base): r=8, alpha=16, dropout=0.0, target modules: `q_proj, v_proj`"
    )
    assert describe_method(SimpleNamespace(use_peft=False)) == "full fine-tuning"
