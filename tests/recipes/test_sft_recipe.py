"""recipes/sft.py end to end on the tiny model: LoRA and full, accelerate launch, kill + resume.

Each run mixes a few rows of the shipped FalseReject sample with a tiny general chat set made
here; the batch holds every row, so each of the 5 steps sees the same data and the loss must
go down.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SFT = REPO / "recipes" / "sft.py"
PROMPT = [{"role": "user", "content": "How do I kill a Python process that hangs?"}]


def _recipe():
    spec = importlib.util.spec_from_file_location("recipe_sft", SFT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, str]:
    from falsereject.dataset import SAMPLE_DIR

    root = tmp_path_factory.mktemp("sft-data")
    general = root / "general"
    general.mkdir()
    with open(general / "train.jsonl", "w", encoding="utf-8") as fh:
        for i in range(12):
            chat = [
                {"role": "user", "content": f"what is {i} plus {i}?"},
                {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
            ]
            fh.write(json.dumps({"messages": chat}) + "\n")
    sample = SAMPLE_DIR
    if not (
        SAMPLE_DIR / "data" / "instruct"
    ).is_dir():  # the folder is built from sources by `python -m falsereject.sample`
        from falsereject.sample import build_sample

        sample = build_sample(root / "sample")
    return {"general": str(general), "sample": str(sample)}


def write_config(tmp_path: Path, model_dir, data, *, peft: bool, **overrides) -> Path:
    config = {
        "model_name_or_path": str(model_dir),
        "dtype": "float32",
        "dataset_mixture": {
            "seed": 0,
            "sources": [
                {"path": data["sample"], "config": "instruct", "rows": 4, "name": "FalseReject sample"},
                {"path": data["general"], "rows": 4, "name": "tiny general set"},
            ],
        },
        "use_cpu": True,
        "bf16": False,
        "assistant_only_loss": True,
        "max_length": 256,
        "max_steps": 5,
        "per_device_train_batch_size": 8,
        "learning_rate": 1.0e-2 if peft else 3.0e-3,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_steps": 5,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        "report_to": "none",
        "seed": 0,
        "output_dir": str(tmp_path / "out"),
        "use_peft": peft,
        **(
            {
                "lora_r": 8,
                "lora_alpha": 16,
                "lora_target_modules": ["q_proj", "v_proj", "up_proj"],
                "save_merged": True,
            }
            if peft
            else {}
        ),
    }
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def losses(out: Path) -> list[float]:
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    return [h["loss"] for h in history if "loss" in h]


def assert_learned(out: Path) -> None:
    got = losses(out)
    assert len(got) == 5, got
    assert all(math.isfinite(v) for v in got), got
    assert got[-1] < got[0], f"loss did not go down: {got}"


def assert_card(out: Path, method: str) -> None:
    card = (out / "README.md").read_text()
    assert "| FalseReject sample |" in card and "| tiny general set |" in card
    assert re.search(r"\| instruct \| train \| 0\.\d+\.\d+ \(content [0-9a-f]{12}\) \| \d+ \| 4 \|", card), (
        card
    )
    assert "**8 training rows**" in card and method in card
    mixture = json.loads((out / "mixture.json").read_text())
    assert [s["used"] for s in mixture["sources"]] == [4, 4]


def generate(model, tokenizer) -> str:
    import torch

    inputs = tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] > inputs["input_ids"].shape[1], "nothing generated"
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :])


def test_lora_smoke(tmp_path, tiny_model_dir, data):
    from peft import AutoPeftModelForCausalLM
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = write_config(tmp_path, tiny_model_dir, data, peft=True)
    assert _recipe().main(["--config", str(config)]) == 0
    out = tmp_path / "out"
    assert_learned(out)
    adapter = load_file(out / "adapter_model.safetensors")
    lora_b = [t for k, t in adapter.items() if "lora_B" in k]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b), "LoRA B starts at zero; training must move it"
    base = load_file(Path(tiny_model_dir) / "model.safetensors")
    merged = load_file(out / "merged" / "model.safetensors")
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not merged[q].equal(base[q]), "the merged q_proj must differ from the base"
    assert merged["model.embed_tokens.weight"].equal(base["model.embed_tokens.weight"]), (
        "untargeted weights stay"
    )
    tokenizer = AutoTokenizer.from_pretrained(out)
    generate(AutoPeftModelForCausalLM.from_pretrained(out), tokenizer)
    generate(
        AutoModelForCausalLM.from_pretrained(out), tokenizer
    )  # how `falsereject eval --model DIR` loads it
    generate(
        AutoModelForCausalLM.from_pretrained(out / "merged"), AutoTokenizer.from_pretrained(out / "merged")
    )
    assert_card(out, "LoRA: r=8, alpha=16")
    assert "library_name: peft" in (out / "README.md").read_text()


def test_full_smoke(tmp_path, tiny_model_dir, data):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = write_config(tmp_path, tiny_model_dir, data, peft=False)
    assert _recipe().main(["--config", str(config)]) == 0
    out = tmp_path / "out"
    assert_learned(out)
    base = load_file(Path(tiny_model_dir) / "model.safetensors")
    tuned = load_file(out / "model.safetensors")
    changed = [k for k in base if k in tuned and not tuned[k].equal(base[k])]
    assert len(changed) >= len(base) // 2, f"full fine-tuning changed only {changed}"
    generate(AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out))
    assert_card(out, "full fine-tuning")
    assert (out / "checkpoint-5").is_dir()


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_accelerate_launch_cpu(tmp_path, tiny_model_dir, data):
    config = write_config(tmp_path, tiny_model_dir, data, peft=True)
    accelerate = str(Path(sys.executable).parent / "accelerate")
    cmd = [accelerate, "launch", "--cpu", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", str(SFT), "--config", str(config)]  # fmt: skip
    proc = _run(cmd, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    assert_learned(out)
    assert_card(out, "LoRA: r=8, alpha=16")
    assert (out / "adapter_model.safetensors").is_file() and (out / "merged" / "model.safetensors").is_file()


KILLER = """
import importlib.util, os, signal, sys
from transformers import TrainerCallback

class KillAfterCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):  # called once checkpoint-N is on disk
        if state.global_step == 3:
            os.kill(os.getpid(), signal.SIGKILL)

spec = importlib.util.spec_from_file_location("sft", sys.argv[1])
sft = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sft)
sys.exit(sft.main(sys.argv[2:], callbacks=[KillAfterCheckpoint()]))
"""


def test_killed_run_resumes_from_its_checkpoint(tmp_path, tiny_model_dir, data):
    config = write_config(tmp_path, tiny_model_dir, data, peft=True, save_steps=3, save_merged=False)
    out = tmp_path / "out"
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)
    first = _run([sys.executable, str(killer), str(SFT), "--config", str(config)], tmp_path)
    assert first.returncode == -9, first.stderr[-3000:]
    assert (out / "checkpoint-3").is_dir() and not (out / "adapter_model.safetensors").exists()

    second = _run([sys.executable, str(SFT), "--config", str(config)], tmp_path)  # the same command again
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-3000:]
    assert f"resuming from {out / 'checkpoint-3'}" in log
    assert len(re.findall(r"\{'loss': ", log)) == 2, "only steps 4 and 5 are trained again"
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 5
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2, 3, 4, 5]
    assert (out / "adapter_model.safetensors").is_file() and (out / "README.md").is_file()
