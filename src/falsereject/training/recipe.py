"""What ``recipes/sft.py`` needs besides TRL: its script arguments, model resolution, the card.

The recipe parses ``(SFTScriptArguments, trl.SFTConfig, trl.ModelConfig)`` with
``trl.TrlParser``: YAML keys are the fields of these three dataclasses (an unknown key is an
error), and command-line flags override the YAML. ``dataset_mixture`` is the mapping described
in :mod:`falsereject.training.mixture`.
"""

# No `from __future__ import annotations`: HfArgumentParser reads these annotations at runtime.

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trl
import yaml

from falsereject.config import read_yaml
from falsereject.embedded import UPSTREAM, embedded_model_dir
from falsereject.errors import UserError
from falsereject.training.mixture import Mixture, Source, parse_mixture

EMBEDDED = "embedded"


@dataclass
class SFTScriptArguments(trl.ScriptArguments):
    """Script arguments of ``recipes/sft.py`` (TRL's, plus the mixture and card options)."""

    dataset_mixture: dict[str, Any] | str | None = field(
        default=None,
        metadata={
            "help": "The data mixture: a mapping with `sources` (a list of datasets: path, config, split, revision, "
            "fraction or rows, column mapping), `seed` and `eval_rows`. In the YAML config, or as JSON on the command "
            "line. Without it, `dataset_name`/`dataset_config`/`dataset_train_split` name a single source."
        },
    )
    eval_results: str | None = field(
        default=None,
        metadata={"help": "A JSON or Markdown file of evaluation results to include in the model card."},
    )
    save_merged: bool = field(
        default=False,
        metadata={
            "help": "With LoRA: also save the adapter merged into the base model to `<output_dir>/merged`."
        },
    )

    def __post_init__(self) -> None:
        if isinstance(self.dataset_mixture, str):
            try:
                self.dataset_mixture = yaml.safe_load(self.dataset_mixture)
            except yaml.YAMLError as exc:
                raise UserError(f"dataset_mixture: not valid JSON/YAML ({exc})") from None
        if self.dataset_mixture is not None:
            self.mixture: Mixture = parse_mixture(self.dataset_mixture)
        elif self.dataset_name:
            self.mixture = Mixture(
                sources=[
                    Source(path=self.dataset_name, config=self.dataset_config, split=self.dataset_train_split)
                ]
            )
        else:
            raise UserError("no training data: set `dataset_mixture` (or `dataset_name`) in the config")


def check_config_keys(path: str | os.PathLike, classes) -> None:
    """Unknown YAML keys as one clear error (before any dataclass validation runs)."""
    import dataclasses
    import difflib

    data = read_yaml(path)
    known = {f.name for cls in classes for f in dataclasses.fields(cls)} | {"env"}
    unknown = sorted(set(data) - known)
    if unknown:
        hints = [
            f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, known, n=1)) else k
            for k in unknown
        ]
        names = ", ".join(cls.__name__ for cls in classes)
        raise UserError(f"{path}: unknown key(s) {', '.join(hints)}; keys are fields of {names}")


def resolve_model(name_or_path: str | None) -> tuple[str, str, str | None]:
    """(path to load, name for the card, a note): ``embedded`` is the package's built-in model."""
    if not name_or_path:
        raise UserError("model_name_or_path is not set: give a Hub id, a local folder, or `embedded`")
    if name_or_path == EMBEDDED:
        note = (
            f"the weights are {UPSTREAM}'s Q4_K_M GGUF, dequantised to float32 by transformers "
            "(the `embedded` model of the falsereject package), not the original bf16 release"
        )
        return str(embedded_model_dir()), UPSTREAM, note
    return name_or_path, name_or_path, None


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` folder in ``output_dir`` (a resumable run), if any."""
    from transformers.trainer_utils import get_last_checkpoint

    if not Path(output_dir).is_dir():
        return None
    return get_last_checkpoint(str(output_dir))


def model_init_kwargs(model_args, training_args, quantization_config) -> dict[str, Any]:
    """``from_pretrained`` kwargs from TRL's ``ModelConfig`` (what TRL's own sft script passes)."""
    kwargs: dict[str, Any] = {
        "revision": model_args.model_revision,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    if quantization_config is not None:
        import torch
        from accelerate import PartialState

        if torch.cuda.is_available():
            kwargs["device_map"] = {"": PartialState().local_process_index}
    kwargs.update(training_args.model_init_kwargs or {})
    return kwargs


def model_for_trainer(model_path: str, training_args):
    """What to hand ``SFTTrainer``: the path (TRL loads it), or the loaded model when TRL cannot.

    TRL picks the model class from ``config.architectures``; a folder saved without it (the
    embedded model, converted from GGUF) is loaded here as a causal LM with the same kwargs.
    """
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl.trainer.utils import create_model_from_path

    kwargs = dict(training_args.model_init_kwargs or {})
    config = AutoConfig.from_pretrained(
        model_path, revision=kwargs.get("revision"), trust_remote_code=training_args.trust_remote_code
    )
    if config.architectures:
        return model_path
    if training_args.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
        kwargs["device_map"] = None
    kwargs.setdefault("trust_remote_code", training_args.trust_remote_code)
    model = create_model_from_path(model_path, architecture=AutoModelForCausalLM, **kwargs)
    training_args.model_init_kwargs = None  # used up here
    return model


class FalseRejectSFTTrainer(trl.SFTTrainer):
    """``SFTTrainer`` whose model card (checkpoints, final save, Hub push) is the falsereject card."""

    card_builder = None  # a callable returning the card's Markdown; set by the recipe

    def create_model_card(
        self, model_name: str | None = None, dataset_name: str | None = None, tags=None, **kwargs
    ):
        if self.card_builder is None:
            return super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags)
        if not self.is_world_process_zero():
            return None
        Path(self.args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(self.args.output_dir) / "README.md").write_text(self.card_builder(), encoding="utf-8")
        return None


def save_merged(
    adapter_dir: str | os.PathLike, out_dir: str | os.PathLike, *, dtype: str | None = None
) -> Path:
    """Merge a saved LoRA adapter into its base model and save a plain transformers folder."""
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else torch.float32
    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype=torch_dtype)
    merged = model.merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out)
    return out


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    Path(path).write_text(
        json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
