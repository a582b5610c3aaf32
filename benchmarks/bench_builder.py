"""Benchmark the dataset builder on a simulated 16k-row run (scripted backends, no model).

Two runs, each in its own process (so peak memory is measured per run):

1. ``latency``: every LLM call answers after ``--latency`` seconds (default 0.2). Reports wall
   time, calls, peak RSS, and how close the run gets to the ideal
   ``calls x latency / max_concurrency`` (throughput ratio = ideal / wall; achieved
   concurrency = mean calls in flight / bound).
2. ``overhead``: the same run with zero-latency backends: the pipeline's own cost.

    python benchmarks/bench_builder.py                 # the full 16k-row benchmark (~4 min)
    python benchmarks/bench_builder.py --rows 1000     # a quick check

Targets (issue 5): throughput >= 80% of ideal, peak RSS < 2 GB, overhead < 60 s at 16k rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CANDIDATES_PER_SEED = 4
POOL = ("tiny-0.5b", "small-1b", "mid-7b", "large-70b")
#: expected final rows per seed in the scripted world: discriminator accepts within 3 rounds
#: (1 - 0.2^3), >= 1 of 4 targets refuses (1 - 0.5^4), orchestrator keeps 95%
ROWS_PER_SEED = CANDIDATES_PER_SEED * (1 - 0.2**3) * (1 - 0.5**4) * 0.95


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(rows: int, latency: float, bound: int, work: Path, progress: bool) -> dict:
    from falsereject.builder import Pipeline, load_builder_config
    from falsereject.builder.simulate import scripted_providers, synthetic_seeds

    seeds = math.ceil(rows / ROWS_PER_SEED)
    seed_file = work / "seeds.jsonl"
    seed_file.write_text("".join(json.dumps(s) + "\n" for s in synthetic_seeds(seeds)))
    sim = "{provider: scripted, model: sim-%s, cache_dir: 'off', max_concurrency: %d}"
    pool = ", ".join(f"{{name: {n}, backend: {sim % (n, bound)}}}" for n in POOL)
    config = load_builder_config(
        None,
        [
            f"output_dir={work / 'out'}",
            f"progress={'true' if progress else 'false'}",
            f"max_concurrency={bound}",
            f"seeds.sources=[{{path: '{seed_file}'}}]",
            *[
                f"models.{r}={sim % (r, bound)}"
                for r in ("generator", "discriminator", "orchestrator", "responder")
            ],
            f"adversarial.candidates_per_seed={CANDIDATES_PER_SEED}",
            f"validation.pool=[{pool}]",
            "validation.judge=keyword",
            "max_errors=0",
        ],
    )
    pipeline = Pipeline(config, providers=scripted_providers(config, latency=latency, bad_json=0.02))
    start, cpu0 = time.perf_counter(), _cpu()
    result = pipeline.run()
    wall, cpu = time.perf_counter() - start, _cpu() - cpu0
    bound_ = pipeline.bound
    ideal = bound_.calls * latency / bound
    final_rows = sum(n for c, sp in result.counts.items() if c in ("instruct", "test") for n in sp.values())
    return {
        "latency_s": latency,
        "bound": bound,
        "seeds": seeds,
        "rows": final_rows,
        "train_rows": result.counts.get("instruct", {}).get("train", 0),
        "test_rows": result.counts.get("test", {}).get("test", 0),
        "calls": bound_.calls,
        "peak_in_flight": bound_.peak,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "ideal_s": round(ideal, 1),
        "throughput_vs_ideal": round(ideal / wall, 3) if latency else None,
        "achieved_concurrency": round(bound_.busy_s / wall, 1),
        "achieved_vs_bound": round(bound_.busy_s / wall / bound, 3) if latency else None,
        "stage_seconds": {k: v["seconds_this_run"] for k, v in result.report["stages"].items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_share": round(cpu / wall, 2),  # of one core: < 1 on a machine shared with other jobs
        "load_avg_1m_after": round(os.getloadavg()[0], 1),
        "complete": result.manifest["complete"],
    }


def spawn(kind: str, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-builder-{kind}-"))
    latency = args.latency if kind == "latency" else 0.0
    cmd = [
        sys.executable,
        __file__,
        "--_one",
        str(work),
        "--rows",
        str(args.rows),
        "--latency",
        str(latency),
        "--bound",
        str(args.bound),
    ]
    if args.progress:
        cmd.append("--progress")
    try:
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=16000, help="target final rows (train + test)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per simulated LLM call")
    parser.add_argument("--bound", type=int, default=256, help="max_concurrency: LLM calls in flight")
    parser.add_argument("--skip-overhead", action="store_true", help="only the run with latency")
    parser.add_argument("--progress", action="store_true", help="show the per-stage progress bars")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--_one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        os.environ.setdefault("FALSEREJECT_CACHE", str(Path(args._one) / "cache"))
        print(json.dumps(one_run(args.rows, args.latency, args.bound, Path(args._one), args.progress)))
        return 0

    report = {"latency": spawn("latency", args)}
    lat = report["latency"]
    print(
        f"latency run: {lat['rows']} rows ({lat['train_rows']} train + {lat['test_rows']} test) from {lat['seeds']} seeds, "
        f"{lat['calls']} calls x {lat['latency_s']}s / bound {lat['bound']}: wall {lat['wall_s']}s vs ideal {lat['ideal_s']}s "
        f"-> throughput {lat['throughput_vs_ideal']:.1%} of ideal; mean in flight {lat['achieved_concurrency']} "
        f"({lat['achieved_vs_bound']:.1%} of the bound, peak {lat['peak_in_flight']}); peak RSS {lat['peak_rss_mb']} MB; "
        f"CPU {lat['cpu_s']}s, load average {lat['load_avg_1m_after']} on {os.cpu_count()} cores"
    )
    ok = lat["throughput_vs_ideal"] >= 0.8 and lat["peak_rss_mb"] < 2048
    if not args.skip_overhead:
        report["overhead"] = over = spawn("overhead", args)
        print(
            f"overhead run (zero latency): {over['rows']} rows, {over['calls']} calls in {over['wall_s']}s "
            f"(CPU {over['cpu_s']}s = {over['cpu_s'] / max(over['calls'], 1) * 1e6:.0f} us per call; this process got "
            f"{over['cpu_share']:.0%} of a core, load average {over['load_avg_1m_after']}); peak RSS {over['peak_rss_mb']} MB"
        )
        ok = ok and over["wall_s"] < 60 * max(1.0, args.rows / 16000) and over["peak_rss_mb"] < 2048
    print(f"stage seconds (latency run): {lat['stage_seconds']}")
    print("targets (>= 80% of ideal, RSS < 2 GB, overhead < 60 s per 16k rows):", "MET" if ok else "NOT MET")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
