"""Train the learned over-refusal judge on the labelled rows this repository ships.

    python recipes/judge/train_judge.py                      # writes src/falsereject/data/judge_learned.npz
    python recipes/judge/train_judge.py --output /tmp/j.npz  # elsewhere

Training rows: the shipped judge sets (``src/falsereject/data/judge_*.jsonl``, each row with
``prompt``, ``response``, ``label``). Nothing else: no public labelled replies, so every set
used to *measure* judges (``benchmarks/eval_judges.py --extra``) stays unseen. The
regularisation is picked by 5-fold cross-validation on these rows; the artefact records the
files (with their SHA-256), the row counts and the cross-validated accuracy. Deterministic:
the same rows give the same bytes (``sha256sum`` the output twice to check).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from falsereject.judge.learned import ARTEFACT, save, train

DATA = Path(__file__).resolve().parents[2] / "src" / "falsereject" / "data"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", nargs="*", default=None, help="labelled JSONL files (default: data/judge_*.jsonl)"
    )
    ap.add_argument("--output", default=str(DATA.parent / ARTEFACT))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    files = [Path(f) for f in args.data] if args.data else sorted(DATA.glob("judge_*.jsonl"))
    rows, sources = [], {}
    for f in files:
        raw = f.read_bytes()
        part = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        missing = [i for i, r in enumerate(part, 1) if not {"prompt", "response", "label"} <= r.keys()]
        if missing:
            print(f"{f}: rows {missing[:5]} lack prompt/response/label", file=sys.stderr)
            return 1
        rows += part
        sources[f.name] = {"rows": len(part), "sha256": hashlib.sha256(raw).hexdigest()}
    arrays, meta = train(rows, seed=args.seed)
    meta["training_files"] = sources
    digest = save(Path(args.output), arrays, meta)
    print(json.dumps({k: v for k, v in meta.items() if k != "cv_grid"}, indent=2))
    print(f"wrote {args.output} (sha256 {digest}; judge name learned-{digest[:8]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
