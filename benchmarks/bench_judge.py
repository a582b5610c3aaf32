"""Judge cost: keyword judge throughput, LLM judge calls and tokens per 100 responses.

    python benchmarks/bench_judge.py [--n 100000] [--llm scripted|embedded] [--llm-rows 96]

Keyword: N responses built from the validation set (its responses cycled in a seeded random
order, each with a distinct suffix so nothing can be cached), judged with
``get_judge("keyword").judge(...)`` (degenerate check + rules) in this one process,
pinned to one CPU core where the OS allows; prints responses/s (wall and CPU time, best of
--repeats passes).

LLM: the judge prompt for each of --llm-rows validation responses (stratified by label).
``--llm scripted`` (default, instant) answers with a fixed verdict and counts calls and the
prompt tokens of the real prompts with the embedded model's tokenizer (completion tokens are
then the --max-tokens budget, an upper bound). ``--llm embedded`` really runs the embedded
model and reports measured calls, tokens and time. The ensemble's LLM calls per 100 are the
share of rows the keyword judge is unsure about.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_judges import DATA, load, stratified  # noqa: E402

from falsereject.judge import get_judge  # noqa: E402


def keyword_throughput(rows: list[dict], n: int, repeats: int, seed: int) -> dict:
    rng = random.Random(seed)
    base = [(r["prompt"], r["response"]) for r in rows]
    order = [rng.randrange(len(base)) for _ in range(n)]
    data = [(base[i][0], f"{base[i][1]}\n({k})") for k, i in enumerate(order)]
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        pinned = cpu
    judge = get_judge("keyword")
    prompts, responses = [p for p, _ in data], [r for _, r in data]
    judge.judge(prompts[:1], responses[:1])  # compile the patterns outside the timing
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        judge.judge(prompts, responses)  # the path users hit: degenerate check + rules
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    chars = sum(len(r) for _, r in data) / n
    return {
        "responses": n,
        "mean_chars": round(chars),
        "pinned_cpu": pinned,
        "responses_per_s_wall": round(n / best_wall),
        "responses_per_s_cpu": round(n / best_cpu),
    }


def llm_cost(rows: list[dict], mode: str, n_rows: int, max_tokens: int, seed: int) -> dict:
    from falsereject.llm import BackendConfig, build_backend
    from falsereject.llm.scripted import ScriptedBackend

    subset = stratified(rows, n_rows, seed)
    prompts, responses = [r["prompt"] for r in subset], [r["response"] for r in subset]
    if mode == "embedded":
        backend = build_backend(BackendConfig(model="embedded", batch_size=8, max_concurrency=8))
    else:
        backend = ScriptedBackend("The reply answers the request.\n[[Full Compliance]]")
    judge = get_judge("llm", backend=backend, max_tokens=max_tokens)
    start = time.perf_counter()
    judge.judge(prompts, responses)
    seconds = time.perf_counter() - start
    prompt_tokens, completion_tokens = judge.prompt_tokens, judge.completion_tokens
    counted = "measured"
    if mode != "embedded":
        try:
            from transformers import AutoTokenizer

            from falsereject.embedded import embedded_model_dir

            tok = AutoTokenizer.from_pretrained(str(embedded_model_dir()))
            prompt_tokens = 0
            for p, r in zip(prompts, responses, strict=True):
                text = tok.apply_chat_template(
                    judge.messages(p, r), add_generation_prompt=True, tokenize=False
                )
                prompt_tokens += len(tok(text)["input_ids"])
            counted = (
                "prompt tokens counted with the embedded model's tokenizer; completion = max_tokens budget"
            )
        except Exception as exc:  # noqa: BLE001 - the count falls back to words
            counted = f"whitespace words (tokenizer unavailable: {exc})"
        completion_tokens = max_tokens * len(subset)
    backend.close()
    ensemble = get_judge("ensemble", backend=ScriptedBackend("[[Full Compliance]]"))
    ensemble.judge([r["prompt"] for r in rows], [r["response"] for r in rows])
    per100 = 100 / len(subset)
    return {
        "backend": mode,
        "rows": len(subset),
        "llm_calls_per_100": round(judge.calls * per100, 1),
        "prompt_tokens_per_100": round(prompt_tokens * per100),
        "completion_tokens_per_100": round(completion_tokens * per100),
        "token_counts": counted,
        "seconds": round(seconds, 2),
        "ensemble_llm_calls_per_100": round(100 * ensemble.last_llm_rows / len(rows), 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--llm", default="scripted", choices=["scripted", "embedded", "none"])
    ap.add_argument("--llm-rows", type=int, default=96)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rows = load(Path(args.data))
    result = {"keyword": keyword_throughput(rows, args.n, args.repeats, args.seed)}
    kw = result["keyword"]
    print(
        f"keyword judge: {kw['responses_per_s_wall']:,} responses/s wall, {kw['responses_per_s_cpu']:,} /s CPU "
        f"({kw['responses']:,} responses, mean {kw['mean_chars']} chars, one process, cpu {kw['pinned_cpu']})"
    )
    if args.llm != "none":
        result["llm"] = cost = llm_cost(rows, args.llm, args.llm_rows, args.max_tokens, args.seed)
        print(
            f"llm judge ({cost['backend']}, {cost['rows']} rows): {cost['llm_calls_per_100']} calls, "
            f"{cost['prompt_tokens_per_100']:,} prompt + {cost['completion_tokens_per_100']:,} completion tokens "
            f"per 100 responses [{cost['token_counts']}]; ensemble: {cost['ensemble_llm_calls_per_100']} LLM calls per 100"
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
