"""Backend throughput: concurrency against a real server, batching in the local provider.

    python benchmarks/bench_backends.py [--n 64] [--max-tokens 32] [--concurrency 8]

1. ``openai`` provider against a real ``transformers serve`` of the tiny model on loopback:
   N chat requests with max_concurrency 1 (sequential) vs 8, against the default server
   (one request at a time) and against ``--continuous-batching`` (batches concurrent ones).
2. ``transformers`` provider on the same tiny model: one prompt at a time vs batch 8.
Prints wall times, responses/s, completion tokens/s and the ratios (measured in one run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from falsereject.llm import BackendConfig, build_backend
from falsereject.testing import LocalServer, build_tiny_chat_model


def _run(config: BackendConfig, prompts: list[str], max_tokens: int) -> dict:
    backend = build_backend(config)
    messages = [[{"role": "user", "content": p}] for p in prompts]
    backend.generate(messages[:2], max_tokens=max_tokens)  # warm-up (load, first request)
    start = time.perf_counter()
    gens = backend.generate(messages, max_tokens=max_tokens)
    wall = time.perf_counter() - start
    backend.close()
    tokens = sum(g.completion_tokens for g in gens)
    return {
        "wall_s": round(wall, 3),
        "resp_per_s": round(len(gens) / wall, 2),
        "tok_per_s": round(tokens / wall, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    prompts = [f"Question {i}: how do I safely stop a runaway process number {i}?" for i in range(args.n)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_tiny_chat_model(tmp))
        for mode, extra in (("server", []), ("server_cb", ["--continuous-batching"])):
            with LocalServer(model, extra_args=extra) as server:
                base = dict(provider="openai", model=model, base_url=server.base_url, cache_dir="off")
                results[f"{mode}_sequential"] = _run(
                    BackendConfig(**base, max_concurrency=1), prompts, args.max_tokens
                )
                results[f"{mode}_concurrent"] = _run(
                    BackendConfig(**base, max_concurrency=args.concurrency), prompts, args.max_tokens
                )
            results[f"ratio_concurrency_{mode}"] = round(
                results[f"{mode}_sequential"]["wall_s"] / results[f"{mode}_concurrent"]["wall_s"], 2
            )
        local = dict(provider="transformers", model=model, cache_dir="off")
        results["local_one_at_a_time"] = _run(
            BackendConfig(**local, batch_size=1, max_concurrency=1), prompts, args.max_tokens
        )
        results["local_batched"] = _run(
            BackendConfig(**local, batch_size=args.concurrency, max_concurrency=args.concurrency),
            prompts,
            args.max_tokens,
        )
    results["ratio_batching"] = round(
        results["local_one_at_a_time"]["wall_s"] / results["local_batched"]["wall_s"], 2
    )
    results["setup"] = {
        "n": args.n,
        "max_tokens": args.max_tokens,
        "concurrency/batch": args.concurrency,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
