"""Backend throughput: server concurrency and batching (tiny model), CPU runtimes (embedded model).

    python benchmarks/bench_backends.py [--parts tiny,embedded] [--n 64] [--max-tokens 32]
        [--concurrency 8] [--runtimes transformers,onnx] [--rounds 2] [--batch 8]

``tiny`` (the tiny random model, no hub needed):

1. ``openai`` provider against a real ``transformers serve`` on loopback: N chat requests with
   max_concurrency 1 (sequential) vs 8, against the default server (one request at a time)
   and against ``--continuous-batching`` (batches concurrent ones).
2. ``transformers`` provider on the same tiny model: one prompt at a time vs batch 8.

``embedded`` (the embedded default model on each CPU runtime; ``onnx:int8`` names a precision,
``@T`` the threads: ``onnx@1`` one per generator (``FALSEREJECT_ONNX_THREADS``), ``transformers@1``
torch on one thread; on a 2-core machine shared with other jobs one thread is often faster):

* single stream: 128 greedy tokens of a long explanation, from the difference of a 144- and a
  16-token run, so that start-up cancels out;
* batched: ``--batch`` different prompts at once, 64 tokens each (total tokens / wall time);
* peak RSS of the process running the runtime (each runtime runs in its own process, so the
  figure is its own), and its load + first-use preparation time.

Runtimes take turns, round after round (``--rounds``), and the medians are reported with
each runtime's ratio to the first one; the load average is printed with them, since a shared
machine's load moves every figure (only ratios from one run compare).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from falsereject.llm import BackendConfig, build_backend
from falsereject.testing import LocalServer, build_tiny_chat_model

LONG = "Explain in detail, step by step, how a hash map works internally, including collisions and resizing."
TOPICS = [
    "hash map",
    "B-tree",
    "TCP handshake",
    "garbage collector",
    "mutex",
    "DNS lookup",
    "compiler",
    "page cache",
]


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


def tiny_part(args) -> dict:
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
    results["setup"] = {"n": args.n, "max_tokens": args.max_tokens, "concurrency/batch": args.concurrency}
    return results


# -- the embedded model on each runtime (one child process per runtime) ---------------------------


def _runtime_config(runtime: str, batch: int) -> BackendConfig:
    runtime, _, threads = runtime.partition("@")
    provider, _, precision = runtime.partition(":")
    if threads and provider == "onnx":  # onnx@1: one thread per generator, a generator per core
        os.environ["FALSEREJECT_ONNX_THREADS"] = threads
    elif threads:  # transformers@1: torch on one thread
        import torch

        torch.set_num_threads(int(threads))
    return BackendConfig(
        provider=provider,
        model="embedded",
        dtype=precision or "auto",
        cache_dir="off",
        batch_size=batch,
        max_concurrency=batch,
        generation={"temperature": 0.0},
    )


def _child(runtime: str, batch: int, rounds: int) -> None:
    """In the child: serve timing requests read from stdin, one JSON line each way."""
    start = time.perf_counter()
    backend = build_backend(_runtime_config(runtime, batch))
    backend.generate([[{"role": "user", "content": "Hello"}]], max_tokens=2)  # prepare + load
    print(json.dumps({"ready_s": round(time.perf_counter() - start, 1)}), flush=True)
    for line in sys.stdin:
        what = json.loads(line)["measure"]
        if what == "single":
            times, tokens = [], []
            for budget in (16, 144):
                t = time.perf_counter()
                gen = backend.generate([[{"role": "user", "content": LONG}]], max_tokens=budget)[0]
                times.append(time.perf_counter() - t)
                tokens.append(gen.completion_tokens)
            value = (tokens[1] - tokens[0]) / (times[1] - times[0])
            extra = {"tokens": tokens}
        else:
            prompts = [LONG.replace("hash map", t) for t in (TOPICS * 4)[:batch]]
            t = time.perf_counter()
            gens = backend.generate([[{"role": "user", "content": p}] for p in prompts], max_tokens=64)
            wall = time.perf_counter() - t
            value = sum(g.completion_tokens for g in gens) / wall
            extra = {"tokens": sum(g.completion_tokens for g in gens)}
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps({"tok_per_s": value, "peak_rss_mb": rss, **extra}), flush=True)


def embedded_part(args) -> dict:
    runtimes = args.runtimes.split(",")
    children, ready = {}, {}
    try:
        for runtime in runtimes:  # started one after another: a first use converts/loads
            proc = subprocess.Popen(
                [sys.executable, __file__, "--child", runtime, "--batch", str(args.batch)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            children[runtime] = proc
            ready[runtime] = json.loads(proc.stdout.readline())["ready_s"]
        samples = {r: {"single": [], "batched": [], "rss": 0} for r in runtimes}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for what in ("single", "batched"):
                for runtime, proc in children.items():
                    proc.stdin.write(json.dumps({"measure": what}) + "\n")
                    proc.stdin.flush()
                    got = json.loads(proc.stdout.readline())
                    samples[runtime][what].append(got["tok_per_s"])
                    samples[runtime]["rss"] = max(samples[runtime]["rss"], got["peak_rss_mb"])
            loads.append(os.getloadavg()[0])
    finally:
        for proc in children.values():
            proc.stdin.close()
            proc.wait(timeout=60)
    base = runtimes[0]
    out: dict = {}
    for runtime in runtimes:
        s = samples[runtime]
        single, batched = statistics.median(s["single"]), statistics.median(s["batched"])
        out[runtime] = {
            "single_tok_per_s": round(single, 2),
            f"batch{args.batch}_tok_per_s": round(batched, 2),
            "peak_rss_mb": s["rss"],
            "ready_s": ready[runtime],
            "single_samples": [round(x, 2) for x in s["single"]],
        }
    for runtime in runtimes:
        out[runtime]["ratio_single"] = round(
            out[runtime]["single_tok_per_s"] / out[base]["single_tok_per_s"], 2
        )
        key = f"batch{args.batch}_tok_per_s"
        out[runtime][f"ratio_batch{args.batch}"] = round(out[runtime][key] / out[base][key], 2)
    out["setup"] = {
        "rounds": args.rounds,
        "batch": args.batch,
        "baseline": base,
        "loadavg_1min_during": [round(x, 2) for x in loads],
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="tiny,embedded", help="tiny, embedded, or both")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--runtimes", default="transformers,onnx", help="the first is the ratios' baseline")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.batch, args.rounds)
        return 0
    results: dict = {"cpus": os.cpu_count()}
    parts = args.parts.split(",")
    if "tiny" in parts:
        results["tiny"] = tiny_part(args)
    if "embedded" in parts:
        results["embedded"] = embedded_part(args)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
