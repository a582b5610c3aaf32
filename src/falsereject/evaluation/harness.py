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
                        it was chosen by), ``selection`` (``evaluated``: the prompts scored,
                        of ``available``, before --limit), timings, usage
    report.md           the same as tables, with a per-category bar chart (chart.png)
    run.json            the run's identity (below) and the judge last used
    run.lock            while a run is in progress: its pid, host and start time

**Identity.** A run's generations are decided by its *identity*: the model (provider, model
id, base URL, GGUF file, chat template, dtype, a fingerprint of a local model folder's
files), every generation parameter actually sent (temperature defaults to 0 and is always
sent), the system prompt, and the prompts (dataset id, revision, configs, split, limit,
per-category K, and a SHA-256 of the requests actually evaluated). The API key, its env var
(and any ``user:password@`` in the base URL, which no file records), concurrency, batch size, timeouts, retries and the cache folder are not part of it. The
identity is written to ``run.json``; the default folder
``runs/<model>/<dataset>-<configs>-<split>-<hash>`` ends in a hash of it, so other settings
get another folder. A run into a folder whose ``run.json`` records another identity (or
which holds generations but no ``run.json``) stops with one message listing the fields that
differ: pass another ``--output-dir``, or ``--new-run`` (``EvalConfig.new_run``) to run
beside it in ``<output-dir>-<hash>``. The judge is *not* part of the identity: it reads
generations after they are made, so a rerun with another judge reuses the generations and
re-judges them (it says so, and ``run.json`` records the judge last used).

A rerun with the same identity resumes: prompts already in ``generations.jsonl`` (keyed by a
hash of the request: config, id, prompt and messages) are not sent again, a torn last line
left by a killed run is cut off first, and the backend's response cache answers any other
repeated request. Two runs into one folder at once are refused (``run.lock``, an ``flock``
released by the kernel when its process dies); a lock left by a dead process on this host is
taken over with a note.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tqdm.auto import tqdm

from falsereject import __version__
from falsereject.dataset import iter_jsonl_append, load_rows, read_jsonl, repair_jsonl_tail
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
    limit: int | None = None  # the first N prompts (N >= 1); None = all
    # keep the first K prompts (by id) of each category: one K for all configs, or per config
    per_category: int | dict[str, int] | None = None
    max_tokens: int = 256
    n_boot: int = 1000
    seed: int = 0
    # output_dir holds a run with another identity: run beside it (<output_dir>-<hash>)
    # instead of refusing
    new_run: bool = False

    def __post_init__(self) -> None:
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-60:] or "model"


def default_output_dir(config: EvalConfig, identity_hash: str) -> Path:
    """``runs/<model>/<dataset>-<configs>-<split>-<hash of the run's identity>``."""
    data = "sample" if config.dataset is None else _slug(config.dataset)
    name = f"{data}-{'+'.join(config.configs)}-{config.split}-{identity_hash[:8]}"
    return Path("runs") / _slug(config.model.model) / name


def select_rows(config: EvalConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The prompts to evaluate, and per config its dataset info (``rows``: how many of them)."""
    rows, infos = [], []
    for name in config.configs:
        part, info = load_rows(config.dataset, name, config.split, revision=config.revision)
        in_split = len(part)
        for row in part:
            row["config"] = name
        k = config.per_category.get(name) if isinstance(config.per_category, dict) else config.per_category
        if k is not None:
            by_cat: dict[Any, list[dict[str, Any]]] = {}
            for row in sorted(part, key=lambda r: str(r["id"])):
                by_cat.setdefault(row.get("category"), []).append(row)
            part = [r for cat in sorted(by_cat, key=str) for r in by_cat[cat][:k]]
        rows.extend(part)
        infos.append({**info, "rows_in_split": in_split, "selected": len(part)})
    if config.limit is not None:
        rows = rows[: config.limit]
    counts = Counter(r["config"] for r in rows)
    for info in infos:
        info["rows"] = counts[info["config"]]
    if not rows:
        raise UserError("no prompts selected: check --dataset/--config/--split/--limit")
    return rows, infos


# ---------------------------------------------------------------------------- identity


def request_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages sent for one prompt (the backend adds the system prompt)."""
    return [{"role": "user", "content": row["prompt"]}]


def gen_key(row: dict[str, Any]) -> str:
    """A row's key in ``generations.jsonl``: a hash of its request (config, id, prompt, messages).

    Two rows share a key only if they send the same request under the same config and id, so a
    reply can never be attached to another prompt.
    """
    request = {
        "config": row["config"],
        "id": row["id"],
        "prompt": row["prompt"],
        "messages": request_messages(row),
    }
    return _sha256(request)[:32]


def _sha256(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generation_params(config: EvalConfig) -> dict[str, Any]:
    """Every generation parameter sent with each request (temperature 0 unless set)."""
    params = {k: v for k, v in config.model.generation.items() if k != "sample_index"}
    return {"temperature": 0.0, **params, "max_tokens": config.max_tokens}


def run_identity(config: EvalConfig, rows: list[dict[str, Any]], available: int) -> dict[str, Any]:
    """What decides this run's generations (see the module docstring); never the API key."""
    from falsereject.llm import _folder_fingerprint

    m = config.model
    dataset = config.dataset
    if dataset is not None and Path(dataset).exists():
        dataset = str(Path(dataset).resolve())
    return {
        "model": {
            "provider": m.provider,
            "model": m.model,
            "base_url": _without_credentials(m.base_url),
            "gguf_file": m.gguf_file,
            "chat_template": m.chat_template,
            "dtype": m.dtype,
            "files": _folder_fingerprint(m.model).lstrip("@") or None,
            "system_prompt": m.system_prompt,
        },
        "generation": generation_params(config),
        "prompts": {
            "dataset": dataset or "sample",
            "revision": config.revision,
            "configs": list(config.configs),
            "split": config.split,
            "limit": config.limit if config.limit is not None and config.limit < available else None,
            "per_category": config.per_category,
            "count": len(rows),
            "sha256": _sha256([gen_key(r) for r in rows]),
        },
    }


def _without_credentials(url: str | None) -> str | None:
    """``url`` without a ``user:password@`` part or a trailing slash (a key is never recorded)."""
    if not url:
        return None
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value and key != "per_category":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _show(value: Any) -> str:
    text = "unset" if value is _UNSET else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_UNSET = object()


def _identity_problem(folder: Path, identity: dict[str, Any]) -> str | None:
    """Why ``folder``'s generations may not be reused for ``identity`` (None: they may)."""
    meta_path = folder / "run.json"
    if not meta_path.exists():
        gens = folder / "generations.jsonl"
        if gens.exists() and gens.stat().st_size > 0:
            return (
                f"run folder {folder} holds generations.jsonl but no run.json (an older falsereject "
                "made it, or it was copied): the settings its replies were made with are unknown"
            )
        return None
    try:
        recorded = json.loads(meta_path.read_text(encoding="utf-8"))["identity"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return f"{meta_path} is damaged (not JSON with an 'identity'): the settings of this run are unknown"
    old, new = _flatten(recorded), _flatten(json.loads(json.dumps(identity, default=str)))
    diffs = [
        f"{key}: {_show(old.get(key, _UNSET))} there, {_show(new.get(key, _UNSET))} now"
        for key in sorted(set(old) | set(new))
        if old.get(key, _UNSET) != new.get(key, _UNSET)
    ]
    if not diffs:
        return None
    return f"run folder {folder} was made with other settings ({'; '.join(diffs)}); its replies do not answer this run"


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--output-dir {folder} is a file, not a folder: pass a folder path for the run")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--output-dir {folder}: cannot create the folder ({exc.strerror})") from None


@contextmanager
def claim_run_folder(out: Path, identity: dict[str, Any], *, new_run: bool = False) -> Iterator[Path]:
    """Lock ``out`` and check that its generations (if any) belong to ``identity``; yields the folder.

    With ``new_run``, a folder holding another run is left alone and the run goes beside it,
    into ``<out>-<identity hash>``.
    """
    _make_folder(out)
    with RunLock(out):
        problem = _identity_problem(out, identity)
        if problem is None:
            yield out
            return
    beside = out.with_name(f"{out.name}-{_sha256(identity)[:8]}")
    if not new_run:
        raise UserError(
            f"{problem}. Pass another --output-dir, or add --new-run to start this run beside it in {beside}"
        )
    print(f"note: {out} holds a run made with other settings; this run goes beside it, in {beside}")
    _make_folder(beside)
    with RunLock(beside):
        problem = _identity_problem(beside, identity)
        if problem is not None:
            raise UserError(f"{problem}. Pass another --output-dir")
        yield beside


def _record_run(folder: Path, identity: dict[str, Any], judge: dict[str, Any]) -> None:
    """Write ``run.json`` (the identity, checked already, and the judge); note a judge change."""
    path = folder / "run.json"
    meta = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    before = (meta.get("judge") or {}).get("name")
    if before and before != judge["name"]:
        print(
            f"judge: {judge['name']} (the kept generations were judged by {before} before: "
            "they are reused and judged again, not regenerated)"
        )
    meta = {
        "falsereject_version": meta.get("falsereject_version", __version__),
        "created": meta.get("created", _now()),
        "identity_sha256": _sha256(identity),
        "identity": identity,
        "judge": judge,
    }
    tmp = folder / ".run.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- lock


class RunLock:
    """``<folder>/run.lock``: one run per folder at a time.

    The lock is an ``flock`` on the file, so the kernel drops it when its process dies, however
    it dies; the file says who holds it (pid, host, start time) for the message a second run
    prints. A lock file left by a dead process on this host is taken over with a note; one
    from another host is refused (this host cannot tell whether that run still goes on).
    """

    name = "run.lock"

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / self.name
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_lock(fd)
                os.close(fd)
                raise UserError(
                    f"run folder {self.folder} is in use by {_describe(holder)} (lock file {self.path}): "
                    "wait for that run to end, or pass another --output-dir"
                ) from None
            try:  # a finishing holder may have removed the file between our open and flock
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        old = _read_lock(fd)
        host = socket.gethostname()
        if old is not None and old.get("host") not in (None, host):
            os.close(fd)
            raise UserError(
                f"run folder {self.folder} is locked by {_describe(old)}, another host, which this host "
                f"cannot check: if that run has ended, delete {self.path}; or pass another --output-dir"
            )
        if old is not None:
            print(
                f"note: took over the stale lock {self.path} of {_describe(old)}, which is no longer running",
                file=sys.stderr,
            )
        me = {"pid": os.getpid(), "host": host, "started": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode("utf-8"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with suppress(FileNotFoundError):  # unlinked while still held: no half-released lock
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def _read_lock(fd: int) -> dict[str, Any] | None:
    """The holder recorded in a lock file (None: empty; ``{}``: unreadable)."""
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another falsereject process (not yet recorded)"
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started', '?')}"


# ---------------------------------------------------------------------------- generation


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
        iter_jsonl_append(path, [rec])
        done[rec["key"]] = rec
        bar.update(1)

    messages = [request_messages(r) for r in todo]
    try:
        backend.generate(messages, on_result=keep, sample_index=0, **params)
    except BackendError as exc:
        raise UserError(
            f"{exc}\n{len(done)} of {len(rows)} responses are kept in {path}; rerun the same command to resume"
        ) from None
    finally:
        bar.close()
    return done


def run_eval(config: EvalConfig) -> dict[str, Any]:
    """Run one evaluation; returns the report dict (also written to the run folder)."""
    rows, datasets = select_rows(config)
    available = sum(d["selected"] for d in datasets)
    identity = run_identity(config, rows, available)
    out = Path(config.output_dir) if config.output_dir else default_output_dir(config, _sha256(identity))
    with claim_run_folder(out, identity, new_run=config.new_run) as folder:
        return _run_in(folder, config, rows, datasets, identity, available)


def _run_in(
    out: Path,
    config: EvalConfig,
    rows: list[dict[str, Any]],
    datasets: list[dict[str, Any]],
    identity: dict[str, Any],
    available: int,
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
        judge_info["model"]["base_url"] = _without_credentials(config.judge_model.base_url)
    _record_run(out, identity, judge_info)
    backend = build_backend(config.model)
    embedded = config.model.provider == "transformers" and config.model.model == "embedded"
    print(f"model: {backend.label}" + (f"  [{EMBEDDED_NOTE}]" if embedded else ""))
    parts = ", ".join(f"{d['config']}={d['rows']}" for d in datasets)
    limited = (
        f"; the first {len(rows)} of {available} (limit {config.limit})" if len(rows) < available else ""
    )
    print(f"prompts: {len(rows)} ({parts}{limited}), judge: {judge.name}")
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
    with tqdm(total=len(rows), desc=f"judging ({judge.name})", unit="resp", dynamic_ncols=True) as bar:
        judgements = judge.judge([r["prompt"] for r in rows], responses, progress=bar.update)
    t_judge = time.perf_counter() - t1
    if judge_backend is not None:
        judge_backend.close()

    records = []
    for row, response, j in zip(rows, responses, judgements, strict=True):
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
        "run": {"identity_sha256": _sha256(identity)},
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
    report["model"]["backend"]["base_url"] = _without_credentials(config.model.base_url)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from falsereject.evaluation.report import write_markdown

    write_markdown(report, records, out)
    report["output_dir"] = str(out)
    return report
