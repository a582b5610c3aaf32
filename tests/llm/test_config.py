"""Backend configs: YAML keys are fields; unknown keys and bad values are clear errors."""

from __future__ import annotations

import argparse

import pytest

from falsereject.config import load_config
from falsereject.errors import UserError
from falsereject.llm import BackendConfig, add_backend_arguments, backend_config_from_arguments, providers


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(
        "provider: openai\nmodel: m\nbase_url: http://h/v1\nmax_concurrency: 4\ngeneration:\n  max_tokens: 32\n"
    )
    config = load_config(BackendConfig, path, ["generation.temperature=0.5"])
    assert config.provider == "openai" and config.max_concurrency == 4
    assert config.generation == {"max_tokens": 32, "temperature": 0.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modle: x\n", "unknown key(s) modle"),
        ("max_concurrency: many\n", "max_concurrency: expected int"),
        ("generation:\n  max_new_tokens: 3\n", "unknown parameter"),
        ("- a\n", "expected a mapping"),
        ("provider: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_config(BackendConfig, path)
    assert message in str(info.value) and "bad.yaml" in str(info.value)


def test_cli_arguments_build_a_config():
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser, prefix="judge-")
    args = parser.parse_args(
        ["--judge-base-url", "http://x/v1", "--judge-model", "j", "--judge-max-tokens", "9"]
    )
    config = backend_config_from_arguments(args, prefix="judge_")
    assert config.provider == "openai"  # inferred from the URL
    assert config.model == "j" and config.generation == {"max_tokens": 9}
    assert set(providers()) >= {"openai", "transformers", "vllm", "scripted"}


def test_unknown_provider():
    from falsereject.llm import build_backend

    with pytest.raises(UserError, match="unknown provider 'nope'"):
        build_backend(BackendConfig(provider="nope"))
