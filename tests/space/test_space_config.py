"""The Space's YAML, env overrides, column fallbacks and honest titles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from falsereject.dataset import REPO_ROOT
from falsereject.errors import UserError
from falsereject.llm import BackendConfig
from falsereject.space import (
    ColumnConfig,
    column_title,
    describe_backend,
    env_overrides,
    load_space_config,
    resolve_column,
)

SPACE_YAML = REPO_ROOT / "spaces" / "falsereject_demo" / "config.yaml"
DEMO_OUTPUT = "outputs/qwen2.5-coder-0.5b-sft-cpu-demo"


@pytest.fixture
def no_space_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("FALSEREJECT_SPACE_"):
            monkeypatch.delenv(name)


def test_shipped_config_falls_back_honestly_when_no_fine_tune_exists(tmp_path, no_space_env):
    config = load_space_config(SPACE_YAML)
    assert config.left.backend.model == "embedded" and config.judge == "keyword"
    right = resolve_column(config.right, [tmp_path])
    assert right.backend.model == "embedded" and right.backend.system_prompt
    assert "no fine-tuning" in column_title(right)
    assert describe_backend(right.backend).endswith("+ a system prompt")


def test_shipped_config_uses_the_lora_output_when_it_exists(tmp_path, no_space_env):
    config = load_space_config(SPACE_YAML)
    adapter = tmp_path / DEMO_OUTPUT
    adapter.mkdir(parents=True)  # a training run has started: nothing to load yet
    assert "no fine-tuning" in column_title(resolve_column(config.right, [tmp_path]))
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    right = resolve_column(config.right, [tmp_path])
    assert right.backend.model == str(adapter) and "adapter" in column_title(right)
    assert "LoRA adapter" in describe_backend(right.backend)
    (adapter / "merged").mkdir()  # being written: no config.json yet, so not used
    assert resolve_column(config.right, [tmp_path]).backend.model == str(adapter)
    (adapter / "merged" / "config.json").write_text("{}")
    right = resolve_column(config.right, [tmp_path])
    assert right.backend.model == str(adapter / "merged") and "merged" in column_title(right)
    described = describe_backend(right.backend)
    assert f"{Path(DEMO_OUTPUT).name}/merged" in described and "LoRA merged" in described


def test_env_repoints_a_column_and_its_title(no_space_env, monkeypatch):
    monkeypatch.setenv("FALSEREJECT_SPACE_RIGHT_BASE_URL", "http://10.0.0.7:8000/v1")
    monkeypatch.setenv("FALSEREJECT_SPACE_RIGHT_MODEL", "my-org/falsereject-sft")
    monkeypatch.setenv("FALSEREJECT_SPACE_MAX_PROMPT_CHARS", "300")
    config = load_space_config(SPACE_YAML)
    right = config.right
    assert right.backend.provider == "openai" and right.fallback is None
    assert column_title(right) == "falsereject-sft"  # the YAML's LoRA title no longer applies
    assert "10.0.0.7" not in describe_backend(right.backend)
    assert config.max_prompt_chars == 300
    monkeypatch.setenv("FALSEREJECT_SPACE_RIGHT_TITLE", "FalseReject SFT: my-org/falsereject-sft")
    assert load_space_config(SPACE_YAML).right.title == "FalseReject SFT: my-org/falsereject-sft"


def test_env_overrides_ignore_unset_variables():
    assert env_overrides({}) == []
    assert env_overrides({"FALSEREJECT_SPACE_JUDGE": "llm"}) == ['judge="llm"']


def test_unknown_keys_and_bad_values_are_user_errors(tmp_path, no_space_env):
    bad = tmp_path / "space.yaml"
    bad.write_text("left:\n  title: x\n  modle: embedded\n")
    with pytest.raises(UserError, match="modle"):
        load_space_config(bad)
    bad.write_text("request_timeout: 0\n")
    with pytest.raises(UserError, match="positive"):
        load_space_config(bad)


def test_fallback_only_for_missing_local_folders(tmp_path):
    remote = ColumnConfig(
        title="remote",
        backend=BackendConfig(provider="openai", model="m", base_url="http://127.0.0.1:1/v1"),
        fallback=ColumnConfig(title="never used"),
    )
    assert resolve_column(remote, [tmp_path]).title == "remote"
    missing = ColumnConfig(
        title="lora", backend=BackendConfig(model="nope/here"), fallback=ColumnConfig(title="fb")
    )
    assert resolve_column(missing, [tmp_path]).title == "fb"


def test_shipped_config_is_a_single_turn_budgeted_space(no_space_env):
    config = load_space_config(SPACE_YAML)
    assert config.concurrency_limit == 1 and config.time_budget > 0 and config.min_tokens > 0
    assert config.cached_examples and len(config.control_categories) >= 3
    baseline = config.right.fallback.fallback
    assert "prompting baseline" in baseline.description and "make" not in baseline.description
    assert config.left.model_url.startswith("https://huggingface.co/")


def test_max_history_turns_is_gone(tmp_path, no_space_env):
    old = tmp_path / "space.yaml"
    old.write_text("max_history_turns: 3\n")
    with pytest.raises(UserError, match="max_history_turns"):
        load_space_config(old)
