"""Every YAML under recipes/ parses into its dataclasses, with no unknown key and sane types."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
YAMLS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "recipes").rglob("*.yaml"))


def _check_sft(path: Path) -> None:
    from trl import ModelConfig, SFTConfig, TrlParser

    from falsereject.training.recipe import SFTScriptArguments

    classes = (SFTScriptArguments, SFTConfig, ModelConfig)
    data = yaml.safe_load(path.read_text())
    fields = {f.name: (cls, f) for cls in classes for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    assert not unknown, f"unknown key(s) {unknown}"
    for key, value in data.items():  # YAML pitfalls: `2e-5` is a string, `no` a bool
        cls, f = fields[key]
        hint = typing.get_type_hints(cls)[key]
        kinds = set(typing.get_args(hint)) or {hint}
        if kinds <= {float, type(None)} or kinds <= {int, float, type(None)}:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (
                f"{key}: {value!r} is not a number"
            )
        if kinds <= {bool, type(None)}:
            assert isinstance(value, bool), f"{key}: {value!r} is not true/false"
    # The script's own path: TrlParser with --config fails on unknown keys; GPU configs say bf16,
    # which a CPU machine refuses unless use_cpu is set, so the test adds it.
    script_args, training_args, model_args = TrlParser(classes).parse_args_and_config(
        ["--config", str(path), "--use_cpu", "true"]
    )
    assert script_args.mixture.sources, "a recipe names its data"
    assert training_args.assistant_only_loss, "recipes train on assistant turns only"
    assert model_args.model_name_or_path
    assert training_args.output_dir.startswith("outputs/"), "outputs/ is git-ignored"


def _check_accelerate(path: Path) -> None:
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    config = ClusterConfig.from_yaml_file(str(path))  # raises on unknown top-level keys
    dests = {a.dest for a in launch_command_parser()._actions}
    prefixes = {"fsdp_config": "fsdp_", "deepspeed_config": ""}
    for block, prefix in prefixes.items():
        for key in getattr(config, block) or {}:
            name = key if key.startswith(prefix) else prefix + key
            assert name in dests, f"{block}.{key} is not an `accelerate launch` option"


@pytest.mark.parametrize("rel", YAMLS)
def test_recipe_yaml_parses(rel):
    path = REPO / rel
    if "accelerate_configs" in path.parts:
        _check_accelerate(path)
    else:
        assert path.parent.name == "sft" and path.name.startswith("config_"), (
            "recipes/<model>/sft/config_<variant>.yaml"
        )
        _check_sft(path)


def test_every_paper_model_has_every_variant():
    for model in ("qwen2.5-0.5b", "qwen2.5-7b", "llama-3.2-1b", "gemma-2-2b", "llama-3-8b"):
        for variant in ("general", "falsereject_instruct", "falsereject_cot", "tbr"):
            assert (REPO / "recipes" / model / "sft" / f"config_{variant}.yaml").is_file(), (model, variant)
    for name in ("ddp", "fsdp", "zero2", "zero3"):
        assert (REPO / "recipes" / "accelerate_configs" / f"{name}.yaml").is_file()


def test_unknown_key_is_a_one_line_error(tmp_path, capsys):
    import importlib.util

    bad = tmp_path / "bad.yaml"
    bad.write_text("model_name_or_path: x\nlearning_rat: 0.1\ndataset_mixture: {sources: [{path: x/y}]}\n")
    spec = importlib.util.spec_from_file_location("recipe_sft_cfg", REPO / "recipes" / "sft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "learning_rat" in err[0]
    bad.write_text("model_name_or_path: x\ndataset_mixture: {sources: [{path: x/y, weight: 2}]}\n")
    assert module.main(["--config", str(bad)]) == 2
    assert "dataset_mixture.sources[0]: unknown key(s) weight" in capsys.readouterr().err


def test_mixture_and_overrides_from_the_command_line():
    from trl import ModelConfig, SFTConfig, TrlParser

    from falsereject.errors import UserError
    from falsereject.training.recipe import SFTScriptArguments

    def parser():  # a TrlParser keeps the YAML as its defaults: one per parse
        return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))

    config = str(REPO / "recipes" / "qwen2.5-coder-0.5b" / "sft" / "config_cpu_demo.yaml")
    script_args, training_args, _ = parser().parse_args_and_config(
        [
            "--config",
            config,
            "--learning_rate",
            "1e-5",
            "--dataset_mixture",
            '{"seed": 3, "sources": [{"path": "org/data", "rows": 5}]}',
        ]
    )
    assert training_args.learning_rate == 1e-5, "flags override the YAML"
    assert script_args.mixture.seed == 3 and script_args.mixture.sources[0].rows == 5
    script_args, _, _ = parser().parse_args_and_config(
        ["--dataset_name", "org/data", "--use_cpu", "true", "--bf16", "false"]
    )
    assert script_args.mixture.sources[0].path == "org/data", "dataset_name alone is a one-source mixture"
    with pytest.raises(UserError, match="no training data"):
        parser().parse_args_and_config(["--use_cpu", "true", "--bf16", "false"])
