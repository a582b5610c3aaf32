"""Same answers? Judge labels of two runtimes' greedy replies on the shipped sample.

    python benchmarks/bench_agreement.py [--configs test,harmful] [--max-tokens 64] [--limit N]
        [--runtimes onnx,transformers] [--dtype auto] [--cache-dir DIR] [--out FILE] [--torch-threads N]

Every prompt of the shipped sample's configs goes to the embedded model on each runtime
(greedy, ``--max-tokens`` new tokens, default 64 like the demo); the default judge labels
every reply. Prints the share of prompts whose two labels agree (overall, per config, with a
95% Wilson interval), the share of identical texts, the label confusion table, the
disagreeing prompts, and each runtime's wall time and tokens/s. Replies go through a response
cache (``--cache-dir``, default ``<cache root>/bench-agreement``), so an interrupted run
resumes; ``--cache-dir off`` measures every reply again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from falsereject.dataset import load_rows
from falsereject.embedded import cache_root
from falsereject.judge import DEFAULT_JUDGE, get_judge
from falsereject.llm import BackendConfig, build_backend


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 3), round(centre + half, 3))


def generate(runtime: str, dtype: str, prompts: list[str], max_tokens: int, cache_dir: str) -> dict:
    batch = 16 if runtime == "transformers" else 8
    config = BackendConfig(
        provider=runtime,
        model="embedded",
        dtype=dtype if runtime == "onnx" else "auto",
        cache_dir=cache_dir,
        batch_size=batch,
        max_concurrency=batch,
        generation={"temperature": 0.0, "max_tokens": max_tokens},
    )
    backend = build_backend(config)
    messages = [[{"role": "user", "content": p}] for p in prompts]
    backend.generate([[{"role": "user", "content": "Hello"}]], max_tokens=1)  # load outside the timing
    start = time.perf_counter()
    gens = backend.generate(messages)
    wall = time.perf_counter() - start
    backend.close()
    fresh = [g for g in gens if not g.cached]
    tokens = sum(g.completion_tokens for g in fresh)
    return {
        "texts": [g.text for g in gens],
        "wall_s": round(wall, 1),
        "generated": len(fresh),
        "tok_per_s": round(tokens / wall, 2) if fresh and wall > 0 else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="test,harmful")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None, help="the first N prompts of each config")
    ap.add_argument("--runtimes", default="onnx,transformers", help="candidate,reference")
    ap.add_argument("--dtype", default="auto", help="the onnx provider's weight precision (auto = int4)")
    ap.add_argument("--cache-dir", default=str(cache_root() / "bench-agreement"))
    ap.add_argument("--out", default=None, help="also write every prompt's replies and labels (JSONL)")
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="threads for transformers (on a shared 2-core machine 1 is several times faster than 2)",
    )
    args = ap.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    runtimes = args.runtimes.split(",")
    if len(runtimes) != 2:
        ap.error("--runtimes takes two names: candidate,reference")
    prompts, configs = [], []
    for config in args.configs.split(","):
        rows, _ = load_rows(None, config, "test")
        rows = rows[: args.limit] if args.limit else rows
        prompts += [r["prompt"] for r in rows]
        configs += [config] * len(rows)
    judge = get_judge(DEFAULT_JUDGE)
    runs, labels = {}, {}
    for runtime in runtimes:
        runs[runtime] = generate(runtime, args.dtype, prompts, args.max_tokens, args.cache_dir)
        labels[runtime] = [j.label for j in judge.judge(prompts, runs[runtime]["texts"])]
        print(f"{runtime}: {runs[runtime]['wall_s']} s, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    a, b = runtimes
    agree = [x == y for x, y in zip(labels[a], labels[b], strict=True)]
    same = [x == y for x, y in zip(runs[a]["texts"], runs[b]["texts"], strict=True)]
    result = {
        "n": len(prompts),
        "label_agreement": round(sum(agree) / len(agree), 4),
        "label_agreement_ci95": wilson(sum(agree), len(agree)),
        "identical_text": round(sum(same) / len(same), 4),
        "per_config": {},
        "confusion": {
            f"{x} -> {y}": c for (x, y), c in sorted(Counter(zip(labels[b], labels[a], strict=True)).items())
        },
        "runtimes": {r: {k: v for k, v in runs[r].items() if k != "texts"} for r in runtimes},
        "setup": {
            "candidate": a,
            "reference": b,
            "dtype": args.dtype,
            "max_tokens": args.max_tokens,
            "judge": DEFAULT_JUDGE,
            "configs": args.configs,
            "torch_threads": args.torch_threads,
            "onnx_threads": os.environ.get("FALSEREJECT_ONNX_THREADS", "0 (runtime default)"),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        },
    }
    for config in dict.fromkeys(configs):
        idx = [i for i, c in enumerate(configs) if c == config]
        k = sum(agree[i] for i in idx)
        result["per_config"][config] = {
            "n": len(idx),
            "agreement": round(k / len(idx), 4),
            "ci95": wilson(k, len(idx)),
        }
    result["disagreements"] = [
        {"prompt": prompts[i][:120], b: labels[b][i], a: labels[a][i]} for i, ok in enumerate(agree) if not ok
    ]
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for i, p in enumerate(prompts):
                row = {"config": configs[i], "prompt": p}
                for r in runtimes:
                    row[r] = {"text": runs[r]["texts"][i], "label": labels[r][i]}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
