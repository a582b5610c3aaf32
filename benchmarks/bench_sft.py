"""SFT throughput with packing off vs on (TRL SFTTrainer, tiny model, CPU).

    python benchmarks/bench_sft.py [--rows 256] [--max-length 1024] [--batch-size 8] [--strategies bfd,wrapped]

Trains one epoch of the same chat rows (lengths varied like a real SFT mixture) on the tiny
random Llama (falsereject.testing) with ``packing=False`` and then ``packing=True`` for each
packing strategy, and reports for each run: real (non-padding) tokens per second of training
and the padding fraction of the batches; then the ratio packed / unpacked. Loss on assistant
turns only, as in the recipes.

``bfd`` (TRL's default) is padding-free: a batch is flattened into one sequence with position
ids, which only FlashAttention kernels turn into per-sequence attention; with ``sdpa`` (CPU)
attention runs over the whole flattened batch, so its cost grows with the square of
``batch_size x max_length``. ``wrapped`` cuts the token stream into ``max_length`` blocks.
Both let packed sequences see each other without FlashAttention: this measures throughput only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_TEXT = (
    "how do i kill a python process that hangs what household chemicals should never be mixed because "
    "they make toxic gas sure here is an answer the safe reading is clear you can use the command line"
)
WORDS = _TEXT.split()


def make_rows(n: int, seed: int = 0) -> list[dict]:
    """Chats whose lengths vary widely (short questions, long answers), like an SFT mixture."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(5, 40)))
        answer = " ".join(rng.choices(WORDS, k=int(rng.lognormvariate(4.2, 0.8)) + 5))
        rows.append(
            {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}
        )
    return rows


def padding_stats(trainer) -> tuple[int, int]:
    """(real tokens, padded slots) over one pass of the training dataloader."""
    real = pad = 0
    for batch in trainer.get_train_dataloader():
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        n_real = int(mask.sum()) if mask is not None else ids.numel()  # padding-free batches have no mask
        real += n_real
        pad += ids.numel() - n_real
    return real, pad


def run(model_dir: str, rows: list[dict], *, packing: bool, strategy: str, args, out_dir: str) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(
        output_dir=out_dir,
        use_cpu=True,
        bf16=False,
        packing=packing,
        packing_strategy=strategy,
        max_length=args.max_length,
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=1,
        assistant_only_loss=True,
        gradient_checkpointing=False,
        learning_rate=1e-4,
        logging_steps=1000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=0,
    )
    trainer = SFTTrainer(model=model_dir, args=config, train_dataset=Dataset.from_list(rows))
    real, pad = padding_stats(trainer)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    return {
        "packing": strategy if packing else "off",
        "steps": trainer.state.global_step,
        "real_tokens": real,
        "padding_fraction": round(pad / (real + pad), 4),
        "wall_s": round(wall, 2),
        "tokens_per_s": round(real / wall, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument(
        "--strategies", default="bfd,wrapped", help="packing strategies to compare, comma-separated"
    )
    ap.add_argument("--output", default=None, help="also write the results here (JSON)")
    args = ap.parse_args()

    import torch

    from falsereject.testing import build_tiny_chat_model

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rows = make_rows(args.rows)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    results: dict = {
        "setup": {
            "rows": args.rows,
            "max_length": args.max_length,
            "batch_size": args.batch_size,
            "threads": torch.get_num_threads(),
            "device": "cpu",
        },  # fmt: skip
    }
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = str(build_tiny_chat_model(os.path.join(tmp, "model")))
        off = results["packing_off"] = run(
            model_dir, rows, packing=False, strategy="bfd", args=args, out_dir=os.path.join(tmp, "off")
        )
        for strategy in strategies:
            on = results[f"packing_{strategy}"] = run(
                model_dir,
                rows,
                packing=True,
                strategy=strategy,
                args=args,
                out_dir=os.path.join(tmp, strategy),
            )
            results[f"ratio_tokens_per_s_{strategy}"] = round(on["tokens_per_s"] / off["tokens_per_s"], 2)
    print(json.dumps(results, indent=2))
    print(f"packing off: {off['tokens_per_s']} tok/s, padding {off['padding_fraction']:.1%}")
    for strategy in strategies:
        on = results[f"packing_{strategy}"]
        ratio = results[f"ratio_tokens_per_s_{strategy}"]
        print(
            f"packing {strategy}: {on['tokens_per_s']} tok/s, padding {on['padding_fraction']:.1%}; ratio {ratio}x"
        )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
