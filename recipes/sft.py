"""Supervised fine-tuning (TRL SFTTrainer, full / LoRA / QLoRA) on a FalseReject data mixture.

One process or many, without code changes::

    python recipes/sft.py --config recipes/qwen2.5-coder-0.5b/sft/config_cpu_demo.yaml
    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml recipes/sft.py \\
        --config recipes/llama-3-8b/sft/config_falsereject_instruct.yaml

YAML keys are fields of ``SFTScriptArguments`` (falsereject.training.recipe), ``trl.SFTConfig``
and ``trl.ModelConfig``; unknown keys are errors; flags override the YAML
(``--learning_rate 1e-5 --output_dir outputs/x``). A rerun of the same command resumes from
the newest checkpoint in ``output_dir``. See recipes/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import transformers
from packaging.version import Version
from transformers import AutoTokenizer
from trl import ModelConfig, SFTConfig, TrlParser, get_peft_config, get_quantization_config

from falsereject.errors import UserError
from falsereject.training import card as cards
from falsereject.training import chat_template as templates
from falsereject.training import recipe
from falsereject.training.mixture import build_mixture


def parse_args(argv: list[str] | None = None):
    classes = (recipe.SFTScriptArguments, SFTConfig, ModelConfig)
    args = list(sys.argv[1:] if argv is None else argv)
    where = "command line"
    if "--config" in args and args.index("--config") + 1 < len(args):
        where = args[args.index("--config") + 1]
        recipe.check_config_keys(where, classes)
    try:
        return TrlParser(classes).parse_args_and_config(args=args)
    except UserError:
        raise
    except (ValueError, FileNotFoundError) as exc:  # a bad value, e.g. bf16 on a machine without a GPU
        hint = " (a GPU config: on a CPU add --use_cpu true --bf16 false)" if "bf16/gpu" in str(exc) else ""
        raise UserError(f"{where}: {exc}{hint}") from None


def main(argv: list[str] | None = None, callbacks: list | None = None) -> int:
    try:
        return train(*parse_args(argv), callbacks=callbacks)
    except UserError as exc:
        print(f"sft.py: error: {exc}", file=sys.stderr)
        return 2


def train(script_args, training_args, model_args, *, callbacks: list | None = None) -> int:
    model_path, base_model, base_note = recipe.resolve_model(model_args.model_name_or_path)
    output_dir = Path(training_args.output_dir)
    state = training_args.distributed_state
    say = print if state.is_main_process else (lambda *a, **k: None)

    # Tokenizer and a chat template with {% generation %} markers (assistant-only loss).
    tokenizer = AutoTokenizer.from_pretrained(
        model_path, revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
    )
    original_template = tokenizer.chat_template
    plan = templates.plan_training_template(tokenizer, chat_template_path=training_args.chat_template_path)
    if plan.action == "set":
        tokenizer.chat_template = plan.template
    elif plan.action == "clone":
        with training_args.main_process_first(desc="chat template"):
            source = templates.write_chatml_source(tokenizer, output_dir / "chat_template_source")
        training_args.chat_template_path = source
    if plan.eos_token and plan.action == "set" and training_args.eos_token is None:
        training_args.eos_token = plan.eos_token
    say(f"[sft] chat template: {plan.action}: {plan.reason}")

    # Data mixture, built on the main process first (downloads and caches once).
    with training_args.main_process_first(desc="dataset mixture"):
        mixture = build_mixture(script_args.mixture)
    for r in mixture.records:
        say(f"[sft] data: {r.name}: {r.used} rows used of {r.available} ({r.dropped} dropped)")
    say(
        f"[sft] data: {len(mixture.train)} train rows, {len(mixture.eval) if mixture.eval is not None else 0} eval rows"
    )

    quantization_config = get_quantization_config(model_args)
    training_args.model_init_kwargs = recipe.model_init_kwargs(model_args, training_args, quantization_config)
    peft_config = get_peft_config(model_args)
    trainer = recipe.FalseRejectSFTTrainer(
        model=recipe.model_for_trainer(model_path, training_args),
        args=training_args,
        train_dataset=mixture.train,
        eval_dataset=mixture.eval if training_args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        quantization_config=quantization_config,
        callbacks=callbacks,
    )
    is_adapter = peft_config is not None
    train_metrics: dict = {}
    hub_ref = training_args.hub_model_id or output_dir.name
    trainer.card_builder = lambda: cards.render_model_card(
        model_name=hub_ref.split("/")[-1],
        base_model=base_model,
        base_model_note=base_note,
        mixture=mixture.to_dict(),
        method=cards.describe_method(model_args),
        hyperparameters=cards.hyperparameters(training_args, state.num_processes),
        is_adapter=is_adapter,
        chat_template_note=plan.reason,
        model_ref=hub_ref if training_args.push_to_hub else str(output_dir),
        train_metrics=train_metrics,
        eval_results=cards.eval_results_markdown(script_args.eval_results),
    )

    # Train, resuming from the newest checkpoint of an interrupted run.
    checkpoint = training_args.resume_from_checkpoint or recipe.last_checkpoint(output_dir)
    if checkpoint:
        say(f"[sft] resuming from {checkpoint}")
    result = trainer.train(resume_from_checkpoint=checkpoint)
    logged = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    train_metrics.update(result.metrics, train_samples=len(mixture.train), global_step=result.global_step)
    if logged:
        train_metrics["last_logged_loss"] = logged[-1]
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", train_metrics)
    trainer.save_state()

    # Save: the model's own chat template when it renders like the training one.
    if plan.action == "set":
        trainer.processing_class.chat_template = templates.template_to_save(
            tokenizer, original_template, plan.template
        )
    trainer.save_model(str(output_dir))
    if state.is_main_process:
        recipe.write_json(output_dir / "mixture.json", mixture.to_dict())
        trainer.create_model_card()
        say(f"[sft] saved to {output_dir} (model card: {output_dir / 'README.md'})")
    if training_args.push_to_hub:
        trainer.push_to_hub()
        say(f"[sft] pushed to https://huggingface.co/{trainer.hub_model_id}")
    state.wait_for_everyone()
    if script_args.save_merged and is_adapter and state.is_main_process:
        merged = recipe.save_merged(output_dir, output_dir / "merged", dtype=model_args.dtype)
        say(f"[sft] merged model saved to {merged}")
    if Version(transformers.__version__) >= Version("5.18.0"):
        trainer.end()
    return 0


if __name__ == "__main__":
    sys.exit(main())
