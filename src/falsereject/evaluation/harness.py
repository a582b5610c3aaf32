"""``falsereject eval``: how much does a model over-refuse, where, and is it still safe?

One run = prompts of one or more dataset configs (``test`` = benign-but-scary, ``harmful`` =
contrast set), or of one named benchmark (``benchmark``: an entry of the registry, see
:mod:`falsereject.evaluation.benchmarks`; ``dataset`` is then a local copy of it, if given)
-> responses from any backend -> judge labels -> scores with CIs -> a run folder::

    generations.jsonl   appended as each response arrives (a killed run keeps them)
    responses.jsonl     prompt, category, response (the raw reply), label, rationale,
                        degenerate (one row per prompt; degenerate: a loop, empty after
                        <think>, only a verdict), reasoning_stripped
    report.json         scores (benign and harmful sides, per category, 95% CIs, degenerate
                        rates), model, dataset version, generation params, judge (``name``:
                        the judge with its version, e.g. ``keyword-v3``; ``kind``: the name
                        it was chosen by), ``selection`` (``evaluated``: the prompts scored,
                        of ``available``, before --limit), timings, usage
                        and, for a named benchmark, ``benchmark`` (source, requested and
                        resolved Hub revision, license, citation, notes)
    report.md           the same as tables, with a per-category bar chart (chart.png)
    run.json            the run's identity, the judge last used, the source read
    run.lock            while a run is in progress: its pid, host and start time

What decides a run's generations (its *identity*), the folder it goes into, ``--new-run``
and the lock are :mod:`falsereject.evaluation.run_identity`. A rerun with the same identity
resumes: prompts already in ``generations.jsonl`` (keyed by a hash of the request) are not
sent again, a torn last line left by a killed run is cut off first, and the backend's
response cache answers any other repeated request. While generating (and judging with an
LLM), the progress bar counts the backend's retries (``retries: N``); the first retry is
also written out with its reason.

Every judge reads the final answer: a closed ``<think>...</think>`` trace is removed before
judging (``reasoning_stripped`` in responses.jsonl); a reply with nothing after its trace, or
an unclosed ``<think>``, is passed whole so the degenerate check labels it (an empty answer).
``response`` always keeps the raw reply.

A run with no harmful prompts warns that it measures over-refusal only (for a dataset laid
out like a registered benchmark, it names the ``--benchmark`` that reads its labels).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from falsereject import __version__
from falsereject.dataset import SAMPLE_DIR
from falsereject.embedded import MODEL_NAME, UPSTREAM
from falsereject.errors import BackendError, UserError
from falsereject.evaluation.benchmarks import Benchmark, custom_benchmark, get_benchmark
from falsereject.evaluation.run_identity import (
    claim_run_folder,
    default_output_dir,
    gen_key,
    generation_params,
    record_run,
    request_messages,
    run_identity,
    without_credentials,
)
from falsereject.files import append_jsonl, json_sha256, read_jsonl, repair_jsonl_tail
from falsereject.judge import DEFAULT_JUDGE
from falsereject.judge.degenerate import final_answer
from falsereject.llm import Backend, BackendConfig, RetryEvent, build_backend

EMBEDDED_NOTE = (
    f"embedded default: {MODEL_NAME}, a SMALL 0.5B model "
    "used so the demo runs offline on a CPU; its numbers say nothing about larger models"
)
EMBEDDED_TITLE = f"{UPSTREAM.rsplit('/', 1)[-1]} (embedded)"  # the report's model name


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
    limit: int | None = None  # the first N prompts (N >= 1); None = all
    # keep the first K prompts (by id) of each category: one K for all configs, or per config
    per_category: int | dict[str, int] | None = None
    max_tokens: int = 256
    n_boot: int = 1000
    seed: int = 0
    # output_dir holds a run with another identity: run beside it (<output_dir>-<hash>)
    # instead of refusing
    new_run: bool = False
    # a named benchmark (falsereject.evaluation.benchmarks); ``dataset`` is then a local copy
    # of its repository (None: its source), and ``configs`` are its parts
    benchmark: str | None = None
    # a dataset without a registry entry, mapped by hand (None: the standard columns)
    prompt_column: str | None = None
    label_column: str | None = None
    harmful_values: list[str] | None = None
    category_column: str | None = None

    @property
    def mapped(self) -> bool:
        """Whether the prompts are read through a benchmark entry (named or mapped by hand)."""
        hand = (self.prompt_column, self.label_column, self.harmful_values, self.category_column)
        return self.benchmark is not None or any(x is not None for x in hand)

    def bench(self) -> Benchmark | None:
        """The benchmark entry the prompts are read through (None: the standard columns)."""
        if self.benchmark is not None:
            return get_benchmark(self.benchmark)
        if not self.mapped:
            return None
        return custom_benchmark(
            self.dataset or str(SAMPLE_DIR),
            self.configs,
            self.split,
            prompt_column=self.prompt_column,
            label_column=self.label_column,
            harmful_values=self.harmful_values,
            category_column=self.category_column,
        )

    def __post_init__(self) -> None:
        if self.benchmark is not None:
            hand = [
                flag
                for flag, value in (
                    ("--prompt-column", self.prompt_column),
                    ("--label-column", self.label_column),
                    ("--harmful-values", self.harmful_values),
                    ("--category-column", self.category_column),
                )
                if value is not None
            ]
            if hand:
                raise UserError(
                    f"benchmark {self.benchmark!r} maps its own columns; {', '.join(hand)} map a --dataset "
                    "without a registry entry: leave out --benchmark or the mapping flags"
                )
            self.configs = [p.name for p in get_benchmark(self.benchmark).parts]
        _whole("limit", self.limit, optional=True)
        _whole("max_tokens", self.max_tokens)
        _whole("n_boot", self.n_boot)
        if not self.configs:
            raise UserError("eval config: configs is empty; name at least one (test, harmful)")
        twice = sorted({c for c in self.configs if self.configs.count(c) > 1})
        if twice:
            raise UserError(
                f"eval config: config(s) {', '.join(map(repr, twice))} listed more than once in --config "
                "(configs); each is evaluated once, so list it once"
            )
        if isinstance(self.per_category, dict):
            for name, k in self.per_category.items():
                _whole(f"per_category {name}", k)
            unknown = sorted(set(self.per_category) - set(self.configs))
            if unknown:
                raise UserError(
                    f"eval config: per_category names config(s) {unknown} that are not evaluated "
                    f"(configs: {self.configs})"
                )
        else:
            _whole("per_category", self.per_category, optional=True)


def _whole(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        hint = " (leave it out to use all)" if optional else ""
        raise UserError(f"eval config: {name} must be a whole number >= 1{hint}; got {value!r}")


def judged_text(reply: str) -> str:
    """What the judge reads: the reply without a closed reasoning trace; a reply whose answer
    is empty once the trace is removed (nothing after it, or an unclosed ``<think>``) is passed
    whole, so that the degenerate check names it."""
    answer = final_answer(reply or "")
    return answer.strip() if answer is not reply and answer.strip() else reply


# ---------------------------------------------------------------------------- generation


@contextmanager
def show_retries(backend: Backend | None, bar: tqdm) -> Iterator[None]:
    """While inside, each retry of ``backend`` sets ``bar``'s postfix to ``retries: N``.

    ``N`` is ``backend.usage.retries``, the running count; the first retry is also written
    above the bar (on stderr) with its reason, so a struggling server is noticed at once.
    ``backend=None`` (a judge without an LLM) shows nothing.
    """
    if backend is None:
        yield
        return
    first = True

    def show(event: RetryEvent) -> None:
        nonlocal first
        bar.set_postfix_str(f"retries: {backend.usage.retries}")
        if first:
            first = False
            tqdm.write(f"retrying: {event}", file=sys.stderr)

    backend.add_retry_listener(show)
    try:
        yield
    finally:
        backend.remove_retry_listener(show)


def _generate(backend, rows, out: Path, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = out / "generations.jsonl"
    torn = repair_jsonl_tail(path)
    if torn:
        print(f"note: cut a torn last line ({torn} bytes, left by a killed run) off {path}")
    done = {r["key"]: r for r in read_jsonl(path)} if path.exists() else {}
    todo = [r for r in rows if gen_key(r) not in done]
    if done:
        print(f"resuming: {len(rows) - len(todo)} of {len(rows)} responses already generated")
    bar = tqdm(
        total=len(rows), initial=len(rows) - len(todo), desc="generating", unit="resp", dynamic_ncols=True
    )

    def keep(i: int, gen) -> None:
        row = todo[i]
        rec = {
            "key": gen_key(row),
            "config": row["config"],
            "id": row["id"],
            "response": gen.text,
            "finish_reason": gen.finish_reasons[0],
            "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens,
        }
        append_jsonl(path, [rec])
        done[rec["key"]] = rec
        bar.update(1)

    messages = [request_messages(r) for r in todo]
    try:
        with show_retries(backend, bar):
            backend.generate(messages, on_result=keep, sample_index=0, **params)
    except BackendError as exc:
        raise UserError(
            f"{exc}\n{len(done)} of {len(rows)} responses are kept in {path}; rerun the same command to resume"
        ) from None
    finally:
        bar.close()
    return done


def _source(datasets: list[dict[str, Any]], benchmark: dict[str, Any] | None) -> dict[str, Any]:
    """What was read, for run.json: per config its path, revision asked for and commit read."""
    keys = ("path", "config", "split", "revision", "resolved_revision", "rows_sha256", "content_hash")
    out: dict[str, Any] = {
        "datasets": [{k: d.get(k) for k in keys if d.get(k) is not None} for d in datasets]
    }
    if benchmark:
        out["benchmark"] = benchmark["name"]
        out["resolved_revision"] = benchmark["resolved_revision"]
    return out


def run_eval(config: EvalConfig, selected: tuple | None = None) -> dict[str, Any]:
    """Run one evaluation; returns the report dict (also written to the run folder).
    ``selected``: what :func:`~falsereject.evaluation.selection.select` gave for ``config``, when
    the caller read the prompts already (several benchmarks are all read before any runs)."""
    from falsereject.evaluation.selection import select, warn_one_sided

    rows, datasets, meta = selected if selected is not None else select(config)
    warning = warn_one_sided(config, rows, meta)
    if warning:
        print(warning, file=sys.stderr)
    available = sum(d["selected"] for d in datasets)
    identity = run_identity(config, rows, available)
    out = Path(config.output_dir) if config.output_dir else default_output_dir(config, json_sha256(identity))
    with claim_run_folder(out, identity, new_run=config.new_run) as folder:
        return _run_in(folder, config, rows, datasets, identity, available, meta["record"])


def _run_in(
    out: Path,
    config: EvalConfig,
    rows: list[dict[str, Any]],
    datasets: list[dict[str, Any]],
    identity: dict[str, Any],
    available: int,
    benchmark: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from falsereject.judge import get_judge
    from falsereject.scoring import score

    judge_backend = build_backend(config.judge_model) if config.judge_model else None
    judge = get_judge(config.judge, backend=judge_backend)
    judge_info = {
        "name": judge.name,
        "kind": config.judge,
        "model": asdict(config.judge_model) if config.judge_model else None,
    }
    if judge_info["model"]:
        judge_info["model"].pop("api_key_env", None)
        judge_info["model"]["base_url"] = without_credentials(config.judge_model.base_url)
    record_run(out, identity, judge_info, source=_source(datasets, benchmark))
    backend = build_backend(config.model)
    embedded = config.model.provider == "transformers" and config.model.model == "embedded"
    print(f"model: {backend.label}" + (f"  [{EMBEDDED_NOTE}]" if embedded else ""))
    parts = ", ".join(f"{d['config']}={d['rows']}" for d in datasets)
    limited = (
        f"; the first {len(rows)} of {available} (limit {config.limit})" if len(rows) < available else ""
    )
    title = f"{benchmark['name']}: " if benchmark and config.benchmark else ""
    print(f"prompts: {title}{len(rows)} ({parts}{limited}), judge: {judge.name}")
    for d in datasets:
        if d["rows"] == 0:
            print(f"note: the limit of {config.limit} prompts leaves none of config {d['config']!r}")
    params = generation_params(config)

    t0 = time.perf_counter()
    try:
        gens = _generate(backend, rows, out, params)
    finally:
        backend.close()
    t_gen = time.perf_counter() - t0

    t1 = time.perf_counter()
    responses = [gens[gen_key(r)]["response"] for r in rows]
    judged = [judged_text(text) for text in responses]
    with (
        tqdm(total=len(rows), desc=f"judging ({judge.name})", unit="resp", dynamic_ncols=True) as bar,
        show_retries(judge_backend, bar),
    ):
        judgements = judge.judge([r["prompt"] for r in rows], judged, progress=bar.update)
    t_judge = time.perf_counter() - t1
    if judge_backend is not None:
        judge_backend.close()

    records = []
    for row, response, shown, j in zip(rows, responses, judged, judgements, strict=True):
        g = gens[gen_key(row)]
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
                "reasoning_stripped": shown != response,
                "finish_reason": g["finish_reason"],
                "completion_tokens": g["completion_tokens"],
            }
        )
    with open(out / "responses.jsonl", "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    kind = (benchmark or {}).get("categories") or "taxonomy"
    scores = score(records, n_boot=config.n_boot, seed=config.seed, categories=kind)
    completion = sum(r["completion_tokens"] for r in records)
    report = {
        "falsereject_version": __version__,
        "model": {
            "name": EMBEDDED_TITLE if embedded else config.model.model,
            "note": EMBEDDED_NOTE if embedded else None,
            "backend": asdict(config.model),
        },
        "datasets": datasets,
        "benchmark": benchmark,
        "generation": params,
        "judge": judge_info,
        "n": len(records),
        # how many prompts were evaluated, of how many selected (--limit cuts the selection)
        "selection": {
            "evaluated": len(records),
            "available": available,
            "limit": config.limit,
            "per_category": config.per_category,
        },
        "run": {"identity_sha256": json_sha256(identity)},
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
    report["model"]["backend"]["base_url"] = without_credentials(config.model.base_url)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from falsereject.evaluation.report import write_markdown

    write_markdown(report, records, out)
    report["output_dir"] = str(out)
    return report
