"""The model card of a fine-tuned model, rendered from ``dataset_cards/model_card.md.j2``.

It names the base model, the data mixture with versions and exact counts, the method and
hyperparameters, the training results and, when given, evaluation results (a JSON or
Markdown file, e.g. the output of ``falsereject compare``).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from falsereject.dataset import render_card
from falsereject.errors import UserError
from falsereject.files import is_hub_id

HYPERPARAMETERS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "packing",
    "assistant_only_loss",
    "weight_decay",
    "optim",
    "bf16",
    "gradient_checkpointing",
    "seed",
)
VERSIONED = ("falsereject", "trl", "transformers", "peft", "accelerate", "datasets", "torch")


def describe_method(model_args) -> str:
    """``full fine-tuning`` or ``LoRA (r=.., alpha=.., ...)`` / ``QLoRA`` from TRL's ``ModelConfig``."""
    if not getattr(model_args, "use_peft", False):
        return "full fine-tuning"
    kind = (
        "QLoRA (4-bit base)"
        if model_args.load_in_4bit
        else "LoRA (8-bit base)"
        if model_args.load_in_8bit
        else "LoRA"
    )
    targets = model_args.lora_target_modules or "PEFT defaults for the architecture"
    if isinstance(targets, (list, tuple)):
        targets = ", ".join(targets)
    return f"{kind}: r={model_args.lora_r}, alpha={model_args.lora_alpha}, dropout={model_args.lora_dropout}, target modules: `{targets}`"


def hyperparameters(training_args, world_size: int = 1) -> dict[str, Any]:
    out = {}
    for key in HYPERPARAMETERS:
        if hasattr(training_args, key):
            value = getattr(training_args, key)
            out[key] = getattr(value, "value", value)  # enums -> their value
    out["effective batch size"] = (
        training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * max(world_size, 1)
    )
    out["devices"] = max(world_size, 1)
    return out


def versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def eval_results_markdown(path: str | Path | None) -> str:
    """Markdown for the card's *Evaluation* section from a ``.md`` (verbatim) or ``.json`` file."""
    if not path:
        return ""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"eval_results file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() != ".json":
        return text.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"eval_results file {path}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        columns = sorted({k for v in data.values() for k in v})
        return _table([{"run": k, **v} for k, v in data.items()], ["run", *columns])
    if isinstance(data, dict):
        return _table([{"metric": k, "value": v} for k, v in data.items()], ["metric", "value"])
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        columns = list(dict.fromkeys(k for v in data for k in v))
        return _table(data, columns)
    return "```json\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n```"


def front_matter(*, base_model: str | None, is_adapter: bool, datasets: list[str]) -> str:
    import yaml

    data: dict[str, Any] = {}
    if base_model:
        data["base_model"] = base_model
    data["library_name"] = "peft" if is_adapter else "transformers"
    data["pipeline_tag"] = "text-generation"
    data["tags"] = ["falsereject", "over-refusal", "safety", "trl", "sft"] + (["lora"] if is_adapter else [])
    if datasets:
        data["datasets"] = datasets
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _on_hub(path: str) -> bool:
    """A Hub id with no local folder of that name (a local path wins)."""
    return is_hub_id(path) and not Path(path).exists()


def render_model_card(
    *,
    model_name: str,
    base_model: str,
    mixture: dict[str, Any],
    method: str,
    hyperparameters: dict[str, Any],
    is_adapter: bool,
    chat_template_note: str,
    model_ref: str | None = None,
    base_model_note: str | None = None,
    train_metrics: dict[str, Any] | None = None,
    eval_results: str = "",
) -> str:
    """The card's Markdown (with YAML front matter). ``mixture`` is ``BuiltMixture.to_dict()``."""
    sources = mixture["sources"]
    hub_datasets = list(dict.fromkeys(s["path"] for s in sources if _on_hub(s["path"])))
    return render_card(
        "model_card.md.j2",
        front_matter=front_matter(
            base_model=base_model if _on_hub(base_model) else None,
            is_adapter=is_adapter,
            datasets=hub_datasets,
        ),
        model_name=model_name,
        base_model=base_model,
        base_model_note=base_model_note or "",
        is_adapter=is_adapter,
        method=method,
        sources=sources,
        seed=mixture["seed"],
        train_rows=mixture["train_rows"],
        eval_rows=mixture["eval_rows"],
        chat_template_note=chat_template_note,
        hyperparameters=hyperparameters,
        train_metrics={k: _fmt(v) for k, v in (train_metrics or {}).items()},
        eval_results=eval_results,
        model_ref=model_ref or model_name,
        versions=versions(),
    )
