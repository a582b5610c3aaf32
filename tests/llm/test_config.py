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


def test_default_timeouts_fail_a_silent_server_well_before_two_minutes():
    config = BackendConfig()
    assert 0 < config.connect_timeout <= 10
    assert 0 < config.timeout <= 60
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    help_text = " ".join(parser.format_help().split())
    assert "--timeout" in help_text and "--max-retries" in help_text
    assert f"default {config.timeout:g}" in help_text
    args = parser.parse_args(["--base-url", "http://x/v1", "--timeout", "7.5", "--max-retries", "2"])
    config = backend_config_from_arguments(args)
    assert config.timeout == 7.5 and config.max_retries == 2


BAD_VALUES = [
    ({"max_concurrency": 0}, "max_concurrency", ">= 1, got 0"),
    ({"batch_size": 0}, "batch_size", ">= 1, got 0"),
    ({"timeout": 0}, "timeout", "> 0, got 0"),
    ({"timeout": -5.0}, "timeout", "> 0, got -5.0"),
    ({"timeout": float("inf")}, "timeout", "> 0, got inf"),
    ({"connect_timeout": 0}, "connect_timeout", "> 0, got 0"),
    ({"max_retries": -1}, "max_retries", ">= 0, got -1"),
    ({"generation": {"temperature": -0.1}}, "generation.temperature", ">= 0"),
    ({"generation": {"max_tokens": 0}}, "generation.max_tokens", ">= 1, got 0"),
    ({"generation": {"max_tokens": "many"}}, "generation.max_tokens", "got 'many'"),
    ({"generation": {"top_p": 0}}, "generation.top_p", "(0, 1]"),
    ({"base_url": "http://[::1"}, "base_url", "not a valid URL"),
]


@pytest.mark.parametrize(("kwargs", "field", "problem"), BAD_VALUES)
def test_bad_values_are_one_clear_error_naming_the_field(kwargs, field, problem):
    with pytest.raises(UserError) as info:
        BackendConfig(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{field}: ") and problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_concurrency: 0\n", "max_concurrency: must be a whole number >= 1, got 0"),
        ("timeout: 0\n", "timeout: must be a number of seconds > 0"),
        ("base_url: not a url\n", "base_url: 'not a url' is not an http(s) URL"),
        ("generation:\n  max_tokens: -3\n", "generation.max_tokens: must be a whole number >= 1"),
    ],
)
def test_bad_yaml_values_name_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_config(BackendConfig, path)
    assert str(info.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--judge-max-concurrency", "0"], "--judge-max-concurrency: must be a whole number >= 1, got 0"),
        (["--judge-base-url", "http://[::1"], "--judge-base-url: 'http://[::1' is not a valid URL"),
        (["--judge-base-url", "http://h:99999/v1"], "--judge-base-url: 'http://h:99999/v1' is not a valid"),
        (["--judge-base-url", "not a url"], "--judge-base-url: 'not a url' is not an http(s) URL"),
        (["--judge-temperature", "-1"], "--judge-temperature: must be a number >= 0"),
        (["--judge-max-tokens", "0"], "--judge-max-tokens: must be a whole number >= 1"),
        (["--judge-timeout", "0"], "--judge-timeout: must be a number of seconds > 0"),
    ],
)
def test_bad_cli_values_name_the_flag(argv, message):
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser, prefix="judge-")
    with pytest.raises(UserError) as info:
        backend_config_from_arguments(parser.parse_args(argv), prefix="judge_")
    assert str(info.value).startswith(message)


def test_fields_changed_after_building_are_checked_by_build_backend():
    from falsereject.llm import build_backend
    from falsereject.llm.scripted import ScriptedBackend

    config = BackendConfig(provider="scripted", cache_dir="off")
    config.batch_size = -1  # e.g. a command overriding a field after parsing its flags
    with pytest.raises(UserError, match="batch_size: must be a whole number >= 1, got -1"):
        build_backend(config, provider=ScriptedBackend())
