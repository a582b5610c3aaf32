"""``falsereject eval``: how much does a model over-refuse, where, and is it still safe?

One run = prompts of one or more dataset configs (``test`` = benign-but-scary, ``harmful`` =
contrast set) -> responses from any backend -> judge labels -> scores with CIs -> a run
folder::

    generations.jsonl   appended as each response arrives (a killed run keeps them)
    responses.jsonl     prompt, category, response, label, rationale, degenerate (one row
                        per prompt; degenerate: a loop, empty after <think>, only a verdict)
    report.json         scores (benign and harmful sides, per category, 95% CIs, degenerate
                        rates), model, dataset version, generation params, judge (``name``:
                        the judge with its version, e.g. ``keyword-v2``; ``kind``: the name
                        it was chosen by), timings, usage
    report.md           the same as tables, with a per-category bar chart (chart.png)

A rerun of the same command resumes: prompts already in ``generations.jsonl`` are not sent
again, and the backend's response cache answers any other repeated request.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from falsereject import __version__
from falsereject.dataset import iter_jsonl_append, load_rows, read_jsonl
from falsereject.errors import BackendError, UserError
from falsereject.judge import DEFAULT_JUDGE
from falsereject.llm import BackendConfig, build_backend

EMBEDDED_NOTE = (
    "embedded default: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, dequantised), a SMALL 0.5B model "
    "used so the demo runs offline on a CPU; its numbers say nothing about larger models"
)


@dataclass
class EvalConfig:
    model: BackendConfig = field(default_factory=BackendConfig)
    dataset: str | None = None  # folder or Hub id; None = the shipped sample
    configs: list[str] = field(default_factory=lambda: ["test"])
    split: str = "test"
    revision: str | None = None
    judge: str = DEFAULT_JUDGE  # a name from falsereject.judge.JUDGES
    judge_model: BackendConfig | None = None
    output_dir: str | None = None
    limit: int | None = None
    # keep the first K prompts (by id) of each category: one K for all configs, or per config
    per_category: int | dict[str, int] | None = None
    max_tokens: int = 256
    n_boot: int = 1000
    seed: int = 0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-60:] or "model"


def default_output_dir(config: EvalConfig) -> Path:
    data = "sample" if config.dataset is None else _slug(config.dataset)
    return Path("runs") / _slug(config.model.model) / f"{data}-{'+'.join(config.configs)}-{config.split}"


def select_rows(config: EvalConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, infos = [], []
    for name in config.configs:
        part, info = load_rows(config.dataset, name, config.split, revision=config.revision)
        for row in part:
            row["config"] = name
        k = config.per_category.get(name) if isinstance(config.per_category, dict) else config.per_category
        if k:
            by_cat: dict[Any, list[dict[str, Any]]] = {}
            for row in sorted(part, key=lambda r: r["id"]):
                by_cat.setdefault(row.get("category"), []).append(row)
            part = [r for cat in sorted(by_cat, key=str) for r in by_cat[cat][:k]]
        rows.extend(part)
        infos.append({**info, "rows": len(part)})
    if config.limit:
        rows = rows[: config.limit]
    if not rows:
        raise UserError("no prompts selected: check --dataset/--config/--split/--limit")
    return rows, infos


def _gen_key(row: dict[str, Any]) -> str:
    return f"{row['config']}:{row['id']}"


def _generate(backend, rows, out: Path, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = out / "generations.jsonl"
    done = {r["key"]: r for r in read_jsonl(path)} if path.exists() else {}
    todo = [r for r in rows if _gen_key(r) not in done]
    if done:
        print(f"resuming: {len(rows) - len(todo)} of {len(rows)} responses already generated")
    bar = tqdm(
        total=len(rows), initial=len(rows) - len(todo), desc="generating", unit="resp", dynamic_ncols=True
    )

    def keep(i: int, gen) -> None:
        row = todo[i]
        rec = {
            "key": _gen_key(row),
            "response": gen.text,
            "finish_reason": gen.finish_reasons[0],
            "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens,
        }
        iter_jsonl_append(path, [rec])
        done[rec["key"]] = rec
        bar.update(1)

    messages = [[{"role": "user", "content": r["prompt"]}] for r in todo]
    try:
        backend.generate(messages, on_result=keep, max_tokens=params["max_tokens"], sample_index=0)
    except BackendError as exc:
        raise UserError(
            f"{exc}\n{len(done)} of {len(rows)} responses are kept in {path}; rerun the same command to resume"
        ) from None
    finally:
        bar.close()
    return done


def run_eval(config: EvalConfig) -> dict[str, Any]:
    """Run one evaluation; returns the report dict (also written to the run folder)."""
    from falsereject.judge import get_judge
    from falsereject.scoring import score

    rows, datasets = select_rows(config)
    out = Path(config.output_dir) if config.output_dir else default_output_dir(config)
    out.mkdir(parents=True, exist_ok=True)
    judge_backend = build_backend(config.judge_model) if config.judge_model else None
    judge = get_judge(config.judge, backend=judge_backend)
    backend = build_backend(config.model)
    embedded = config.model.provider == "transformers" and config.model.model == "embedded"
    print(f"model: {backend.label}" + (f"  [{EMBEDDED_NOTE}]" if embedded else ""))
    parts = ", ".join(f"{d['config']}={d['rows']}" for d in datasets)
    print(f"prompts: {len(rows)} ({parts}), judge: {judge.name}")

    t0 = time.perf_counter()
    try:
        gens = _generate(backend, rows, out, {"max_tokens": config.max_tokens})
    finally:
        backend.close()
    t_gen = time.perf_counter() - t0

    t1 = time.perf_counter()
    responses = [gens[_gen_key(r)]["response"] for r in rows]
    with tqdm(total=len(rows), desc=f"judging ({judge.name})", unit="resp", dynamic_ncols=True) as bar:
        judgements = judge.judge([r["prompt"] for r in rows], responses, progress=bar.update)
    t_judge = time.perf_counter() - t1
    if judge_backend is not None:
        judge_backend.close()

    records = []
    for row, response, j in zip(rows, responses, judgements, strict=True):
        g = gens[_gen_key(row)]
        records.append(
            {
                "id": row["id"],
                "config": row["config"],
                "prompt": row["prompt"],
                "category": row.get("category"),
                "category_text": row.get("category_text", ""),
                "prompt_label": row.get("prompt_label", "benign"),
                "response": response,
                "label": j.label,
                "rationale": j.rationale,
                "degenerate": j.degenerate,
                "finish_reason": g["finish_reason"],
                "completion_tokens": g["completion_tokens"],
            }
        )
    with open(out / "responses.jsonl", "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    scores = score(records, n_boot=config.n_boot, seed=config.seed)
    completion = sum(r["completion_tokens"] for r in records)
    report = {
        "falsereject_version": __version__,
        "model": {
            "name": "Qwen2.5-Coder-0.5B-Instruct (embedded)" if embedded else config.model.model,
            "note": EMBEDDED_NOTE if embedded else None,
            "backend": asdict(config.model),
        },
        "datasets": datasets,
        "generation": {
            "max_tokens": config.max_tokens,
            "temperature": config.model.generation.get("temperature", 0.0),
        },
        "judge": {
            "name": judge.name,
            "kind": config.judge,
            "model": asdict(config.judge_model) if config.judge_model else None,
        },
        "n": len(records),
        "scores": scores,
        "timings": {
            "generation_s": round(t_gen, 2),
            "judge_s": round(t_judge, 2),
            "responses_per_s": round(len(records) / t_gen, 3) if t_gen > 0 else None,
            "completion_tokens": completion,
        },
        "usage": backend.usage.as_dict(),
        "responses_sha256": hashlib.sha256((out / "responses.jsonl").read_bytes()).hexdigest(),
    }
    report["model"]["backend"].pop("api_key_env", None)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from falsereject.evaluation.report import write_markdown

    write_markdown(report, records, out)
    report["output_dir"] = str(out)
    return report
