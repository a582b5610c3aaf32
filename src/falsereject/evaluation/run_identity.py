"""A run's identity, the folder it goes into, and the lock that keeps it to one run at a time.

**run.json.** Every run folder holds ``run.json``: ``falsereject_version`` and ``created``
(kept from the first run into the folder), ``identity`` (below), ``identity_sha256`` (a
hash of it), ``judge`` (the judge last used: ``name``, ``kind`` and ``model``) and
``source`` (what the last run read: per config its path, the revision asked for, the Hub
commit actually read and a hash of its rows).

**Identity.** A run's generations are decided by its *identity*: the model (provider, model
id, base URL, GGUF file, chat template, dtype, a fingerprint of a local model folder's
files, the system prompt), every generation parameter actually sent (temperature defaults
to 0 and is always sent), and the prompts (dataset id, revision, configs, split, limit,
per-category K, their count and a SHA-256 of the requests actually evaluated; for a named
benchmark or a hand mapping also its name and a hash of its column mapping). The API key,
its env var (and any ``user:password@`` in the base URL, which no file records),
concurrency, batch size, timeouts, retries and the cache folder are not part of it. The
judge is not either: it reads generations after they are made, so a rerun with another
judge reuses the generations and re-judges them (it says so; ``run.json`` records the judge
last used).

**Folder name.** The default folder ``runs/<model>/<dataset>-<configs>-<split>-<hash>``
(``runs/<model>/<benchmark>-<hash>`` for a named benchmark) ends in the first 8 hex digits
of the identity's hash, so other settings get another folder. A
reply is kept in ``generations.jsonl`` under :func:`gen_key`, a hash of its request (config,
id, prompt and messages), so it can never be attached to another prompt.

**Another run in the folder.** A run into a folder whose ``run.json`` records another
identity (or which holds generations but no ``run.json``) stops with one message listing the
fields that differ: pass another ``--output-dir``, or ``--new-run`` (``EvalConfig.new_run``)
to run beside it, in ``<output-dir>-<hash>``.

**Lock.** Two runs into one folder at once are refused: ``run.lock`` is an ``flock`` the
kernel releases when its process dies, however it dies; the file records the holder's pid,
host and start time for the message. A lock file left by a dead process on this host is
taken over with a note; one from another host is refused (this host cannot tell whether
that run still goes on).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from falsereject import __version__
from falsereject.errors import UserError
from falsereject.files import json_sha256, write_atomic

if TYPE_CHECKING:
    from falsereject.evaluation.harness import EvalConfig


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
    return json_sha256(request)[:32]


def generation_params(config: EvalConfig) -> dict[str, Any]:
    """Every generation parameter sent with each request (temperature 0 unless set)."""
    params = {k: v for k, v in config.model.generation.items() if k != "sample_index"}
    return {"temperature": 0.0, **params, "max_tokens": config.max_tokens}


def run_identity(config: EvalConfig, rows: list[dict[str, Any]], available: int) -> dict[str, Any]:
    """What decides this run's generations (see the module docstring); never the API key."""
    from falsereject.llm import folder_fingerprint

    m = config.model
    dataset = config.dataset
    if dataset is not None and Path(dataset).exists():
        dataset = str(Path(dataset).resolve())
    prompts = {
        "dataset": dataset or "sample",
        "revision": config.revision,
        "configs": list(config.configs),
        "split": config.split,
        "limit": config.limit if config.limit is not None and config.limit < available else None,
        "per_category": config.per_category,
        "count": len(rows),
        "sha256": json_sha256([gen_key(r) for r in rows]),
    }
    bench = config.bench()
    if bench is not None:  # absent otherwise, so runs made before benchmarks keep their identity
        prompts["benchmark"] = bench.name
        prompts["mapping_sha256"] = json_sha256(bench.mapping())
    return {
        "model": {
            "provider": m.provider,
            "model": m.model,
            "base_url": without_credentials(m.base_url),
            "gguf_file": m.gguf_file,
            "chat_template": m.chat_template,
            "dtype": m.dtype,
            "files": folder_fingerprint(m.model).lstrip("@") or None,
            "system_prompt": m.system_prompt,
        },
        "generation": generation_params(config),
        "prompts": prompts,
    }


def without_credentials(url: str | None) -> str | None:
    """``url`` without a ``user:password@`` part or a trailing slash (a key is never recorded)."""
    if not url:
        return None
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-60:] or "model"


def default_output_dir(config: EvalConfig, identity_hash: str) -> Path:
    """``runs/<model>/<dataset>-<configs>-<split>-<hash of the run's identity>``, or
    ``runs/<model>/<benchmark>-<hash>`` for a named benchmark."""
    if config.benchmark is not None:
        return Path("runs") / _slug(config.model.model) / f"{config.benchmark}-{identity_hash[:8]}"
    data = "sample" if config.dataset is None else _slug(config.dataset)
    name = f"{data}-{'+'.join(config.configs)}-{config.split}-{identity_hash[:8]}"
    return Path("runs") / _slug(config.model.model) / name


# ---------------------------------------------------------------------------- folder claim


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
    beside = out.with_name(f"{out.name}-{json_sha256(identity)[:8]}")
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


def record_run(
    folder: Path, identity: dict[str, Any], judge: dict[str, Any], *, source: dict[str, Any] | None = None
) -> None:
    """Write ``run.json`` (the identity, checked already, the judge and the source read);
    note a judge change."""
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
        "identity_sha256": json_sha256(identity),
        "identity": identity,
        "judge": judge,
    }
    if source is not None:
        meta["source"] = source
    write_atomic(path, json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n")


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
