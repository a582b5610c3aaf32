"""Eval generation throughput: one prompt at a time vs batched, tiny model and embedded model.

    python benchmarks/bench_eval.py [--models tiny,embedded] [--n 64] [--max-tokens 32]

The same N prompts of the shipped sample's `test` config go through the `transformers`
provider with batch_size 1, 8 and 16 (greedy, cache off). Prints responses/s and the
batched/sequential ratios, measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from falsereject.dataset import load_rows
from falsereject.llm import BackendConfig, build_backend
from falsereject.testing import build_tiny_chat_model


def _time(model: str, prompts: list[str], batch: int, max_tokens: int) -> dict:
    backend = build_backend(
        BackendConfig(model=model, cache_dir="off", batch_size=batch, max_concurrency=batch)
    )
    msgs = [[{"role": "user", "content": p}] for p in prompts]
    backend.generate(msgs[:1], max_tokens=2)  # load the model outside the timing
    start = time.perf_counter()
    gens = backend.generate(msgs, max_tokens=max_tokens)
    wall = time.perf_counter() - start
    tokens = sum(g.completion_tokens for g in gens)
    return {
        "batch": batch,
        "wall_s": round(wall, 2),
        "resp_per_s": round(len(gens) / wall, 3),
        "tok_per_s": round(tokens / wall, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,embedded")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    rows, _ = load_rows(None, "test", "test")
    prompts = [r["prompt"] for r in rows[: args.n]]
    out = {"n": len(prompts), "max_tokens": args.max_tokens, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model = str(build_tiny_chat_model(tmp)) if name == "tiny" else "embedded"
            runs = [_time(model, prompts, b, args.max_tokens) for b in (1, 8, 16)]
            seq = runs[0]["wall_s"]
            out[name] = {
                "runs": runs,
                "ratio_batch8": round(seq / runs[1]["wall_s"], 2),
                "ratio_batch16": round(seq / runs[2]["wall_s"], 2),
            }
            print(json.dumps({name: out[name]}), flush=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
