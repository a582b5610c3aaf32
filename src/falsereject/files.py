"""Every file of rows the package reads or writes goes through here (cheap to import: stdlib only).

* **Row files** (``.jsonl``, ``.csv``, ``.parquet``): :func:`read_rows` and
  :func:`read_located_rows` are strict: a line that is not UTF-8 or not a JSON object, a
  malformed CSV record (a stray character after a closing quote, a quote never closed, a row
  with more or fewer fields than the header, a repeated column name) or an unreadable parquet
  file is one :class:`UserError` naming the file and the line. :func:`write_rows` writes any of
  the three, atomically.
* **Append-only JSONL logs** (every resumable run): :func:`append_jsonl` adds records,
  :func:`read_jsonl` reads them back skipping a torn last line (a writer killed mid-line), and
  :func:`repair_jsonl_tail` cuts that line off before a resumed writer appends again.
* **Atomic writes**: :func:`atomic_path` / :func:`write_atomic` write beside the target and
  rename it into place, so a reader or a killed writer sees the old content or the new, never
  half of it; an OS error is one UserError naming the file.
* **Local or Hub**: a name that exists on disk is read from disk; otherwise :func:`is_hub_id`
  says whether it has the shape of a Hub repo id ``ORG/NAME``.
* :func:`json_sha256`: the one hash of configs, fingerprints and identities.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from falsereject.errors import UserError

FORMATS = (".jsonl", ".csv", ".parquet")
_BOM = b"\xef\xbb\xbf"
_HUB_ID = re.compile(r"[\w-][\w.-]*/[\w.-]+")


def json_sha256(data: Any) -> str:
    """Hex SHA-256 of ``data`` as JSON with sorted keys: equal data, equal hash, in any key order."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_hub_id(name: str) -> bool:
    """Whether ``name`` has the shape of a Hub repo id, ``ORG/NAME`` (not ``./x``, ``/x``, ``a/b/c``).

    Callers look on disk first: a local file or folder of that name wins.
    """
    return bool(_HUB_ID.fullmatch(str(name)))


# --- atomic writes -----------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | Path, what: str = "file") -> Iterator[Path]:
    """A temporary path (``.<name>.tmp`` beside ``path``) to write in the ``with`` block.

    When the block ends without an error, the file is synced to disk and renamed onto
    ``path`` (whose folder is made if missing). Whatever happens, no temporary file is left
    behind, and an OS error (permission, full disk, a folder in the way) is one UserError:
    ``cannot write <what> <path>: <reason>``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: str | Path, keep: Callable[[], bool] = lambda: False) -> Iterator[Path]:
    """A new temporary folder beside ``path`` to fill in the ``with`` block.

    When the block ends without an error, the folder replaces ``path`` in one rename (an old
    ``path`` is removed first), unless ``keep()`` says the ``path`` already there is to be kept
    (another process finished the same work first). Whatever happens, the temporary folder
    is gone afterwards, so a run killed half-way leaves ``path`` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        yield tmp
        if not keep():
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_atomic(path: str | Path, data: str | bytes, what: str = "file") -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, what) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


# --- JSONL -------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _decode(raw: bytes, path: Path | str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}:{number}: not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
            "re-save the file as UTF-8"
        ) from None


def _json_line(raw: bytes, path: Path | str, number: int) -> dict[str, Any] | None:
    """The JSON object on one line (None for a blank line); anything else is a UserError."""
    text = _decode(raw, path, number)
    if not text.strip():
        return None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise UserError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
    return row


def parse_jsonl(data: bytes, path: Path | str, *, torn_ok: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of JSONL ``data`` read from ``path``.

    A line that is not UTF-8, not JSON or not a JSON object is a UserError naming
    ``path:line``; with ``torn_ok`` a bad last line with no newline after it (a writer killed
    mid-line) is skipped instead.
    """
    lines = data.splitlines(keepends=True)
    for number, raw in enumerate(lines, start=1):
        try:
            row = _json_line(raw, path, number)
        except UserError:
            if torn_ok and number == len(lines) and not raw.endswith((b"\n", b"\r")):
                return
            raise
        if row is not None:
            yield number, row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of an append-only JSONL file; a torn last line is skipped (see :func:`parse_jsonl`)."""
    path = Path(path)
    return [row for _, row in parse_jsonl(_read_bytes(path), path, torn_ok=True)]


def append_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append ``rows`` to a JSONL file, one line each, flushed before returning (safe to kill).

    A writer resuming a file that a killed run may have torn calls :func:`repair_jsonl_tail`
    once first, so that the first append starts on a clean line.
    """
    with open(path, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        fh.flush()


def repair_jsonl_tail(path: str | Path) -> int:
    """Cut a torn (newline-less) last line off an append-only JSONL file; returns the bytes cut.

    A run killed mid-write leaves its last record without its newline; the next append would
    glue a whole record onto that fragment and leave a line no reader can parse. Every writer
    that resumes appending calls this first (eval's ``generations.jsonl``, the builder's stage
    records). A missing or empty file is left alone.
    """
    path = Path(path)
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        block = min(size, 1 << 20)
        while True:  # find the last newline, reading backwards
            fh.seek(size - block)
            chunk = fh.read(block)
            cut = chunk.rfind(b"\n")
            if cut != -1:
                keep = size - block + cut + 1
                break
            if block == size:
                keep = 0
                break
            block = min(size, block * 2)
        fh.truncate(keep)
        return size - keep


# --- row files: .jsonl, .csv, .parquet ---------------------------------------------------------
def row_format(path: str | Path, what: str = "input") -> str:
    """The suffix of a row file (one of :data:`FORMATS`); any other is a UserError naming ``what``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(
            f"{what} {path}: unsupported file type {suffix or '(none)'}; use {', '.join(FORMATS)}"
        )
    return suffix


def _jsonl_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path}:{n}", row) for n, row in parse_jsonl(_read_bytes(path), path, torn_ok=False)]


def _csv_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Strict CSV (a row is named by the line it starts on)."""
    lines = _read_bytes(path).splitlines(keepends=True)
    text = "".join(_decode(raw, path, number) for number, raw in enumerate(lines, start=1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows = []
    start = ended = 0  # the line the current record starts on; the last line read
    try:
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line, or only separators
            if header is None:
                header = record
                seen = set()
                for name in header:
                    if name and name in seen:
                        raise UserError(f"{path}:{start}: the header names column {name!r} twice; rename one")
                    seen.add(name)
                continue
            if len(record) != len(header):
                raise UserError(
                    f"{path}:{start}: {len(record)} field(s) but the header has {len(header)}; "
                    "quote any field that holds a comma, a quote or a line break"
                )
            rows.append((f"{path}:{start}", dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        if "end of data" in str(exc):
            raise UserError(
                f"{path}:{ended + 1}: a quoted field starting on this line is never closed "
                '(an unmatched "); double any quote inside a quoted field ("")'
            ) from None
        raise UserError(
            f"{path}:{reader.line_num}: not valid CSV ({exc}); a quoted field must end at its "
            'closing quote, and a quote inside it is written twice ("")'
        ) from None
    return rows


def _parquet_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    return [(f"{path}: row {i + 1}", row) for i, row in enumerate(table.to_pylist())]


def read_located_rows(path: str | Path, what: str = "input") -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for every row of a .jsonl/.csv/.parquet file; ``where`` names file and line
    (``in.jsonl:3``, ``in.parquet: row 3``) for the caller's own checks of each row."""
    path = Path(path)
    suffix = row_format(path, what)
    if not path.is_file():
        raise UserError(f"{what} {path} does not exist")
    return {".jsonl": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}[suffix](path)


def read_rows(path: str | Path, what: str = "input") -> list[dict[str, Any]]:
    """Every row of a .jsonl/.csv/.parquet file (see :func:`read_located_rows`)."""
    return [row for _, row in read_located_rows(path, what)]


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def _write_rows(tmp: Path, suffix: str, rows: list[dict[str, Any]]) -> None:
    if suffix == ".jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    elif suffix == ".csv":
        fields = list(dict.fromkeys(k for row in rows for k in row))
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                )
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowException, TypeError):
            table = pa.Table.from_pylist([{k: _jsonable(v) for k, v in row.items()} for row in rows])
        pq.write_table(table, tmp)


def write_rows(path: str | Path, rows: list[dict[str, Any]], what: str = "output") -> None:
    """Write ``rows`` as .jsonl/.csv/.parquet (by suffix), atomically; lists and objects go
    into a CSV cell as JSON."""
    suffix = row_format(path, what)
    with atomic_path(path, what) as tmp:
        _write_rows(tmp, suffix, rows)
