"""The human-labels log, ``labels.jsonl``: labels appended with their provenance, replayed.

Human labels are the most expensive data of the project, so the log never loses one.

* **One line per imported label.** ``{"id", "annotator", "label", "import", "imported_at",
  "imported_by", "sheet", "sheet_sha256", "row", "column"}`` (+ ``"supersedes"``: the
  ``label``, ``import``, ``imported_at``, ``sheet`` and ``row`` it replaced); ``label`` is one
  of :data:`LABELS`. Lines of the earlier format ``{"id", "labels": {annotator: label}}`` are
  still read.
* **Append-only.** An import only adds lines; the file is rewritten as old bytes + new lines
  in a temporary file and swapped in, so a killed import leaves the old file. One import at
  a time per file: a second one is refused, not interleaved.
* **Conflicts are refused, never resolved silently.** A label that differs from one
  imported earlier is an error, naming both sources, unless the import is run with
  ``supersede=True`` (``--supersede``): then the new label wins and its record says which
  label (from which sheet, which import) it superseded. The same label given again is no
  change. The current labels are the log folded in order (a superseding line replaces; any
  other disagreement in the file is an error), and the agreement is computed from them.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.files import parse_jsonl, write_atomic

LABELS = ("benign", "harmful", "unclear")
_ALIASES = {
    "b": "benign",
    "h": "harmful",
    "u": "unclear",
    "safe": "benign",
    "unsafe": "harmful",
    "?": "unclear",
}


def norm_label(value: Any, where: str) -> str | None:
    """The label ``value`` stands for (an alias allowed), None when blank; an unknown value raises."""
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return None
    text = _ALIASES.get(text, text)
    if text not in LABELS:
        raise UserError(f"{where}: label {value!r} is not one of {', '.join(LABELS)}")
    return text


_MAX_LISTED = 20


def refuse(problems: list[str], tail: str = "fix the sheet(s) and run again; nothing was changed") -> None:
    """Raise one UserError listing ``problems`` (the first 20)."""
    if len(problems) == 1:
        raise UserError(f"{problems[0]}; {tail}")
    listed = "\n  ".join(problems[:_MAX_LISTED])
    more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    raise UserError(f"{len(problems)} problems; {tail}:\n  {listed}{more}")


@dataclass(frozen=True)
class Cell:
    """One filled label cell of a sheet, and where it came from."""

    id: str
    annotator: str
    label: str
    shown: str  # the sheet as the user named it (for messages)
    row: int | None = None
    column: str | None = None
    sheet: str | None = None  # resolved path (for the labels log)
    sheet_sha256: str | None = None

    @property
    def where(self) -> str:
        return f"{self.shown}:{self.row} column {self.column}" if self.row else self.shown


# --- reading and replaying the log ---------------------------------------------------


def _log(path: Path, data: bytes) -> list[dict[str, Any]]:
    """The log's label records in order, each with its ``line``; earlier-format lines expanded."""
    events: list[dict[str, Any]] = []
    # a torn last line is skipped (an import never leaves one: it swaps the whole file)
    for n, obj in parse_jsonl(data, path, torn_ok=True):
        where = f"{path}:{n}"
        if not isinstance(obj.get("id"), str):
            raise UserError(f"{where}: expected a JSON object with a string 'id'")
        if isinstance(obj.get("labels"), dict):  # the earlier format: one line per id
            for annotator, value in obj["labels"].items():
                label = norm_label(value, f"{where} annotator {annotator}")
                if label is not None:
                    events.append({"id": obj["id"], "annotator": str(annotator), "label": label,
                                   "sheet": f"{path} (earlier format)", "line": n})  # fmt: skip
        elif isinstance(obj.get("annotator"), str) and "label" in obj:
            label = norm_label(obj["label"], where)
            if label is None:
                raise UserError(f"{where}: empty label")
            events.append({**obj, "label": label, "line": n})
        else:
            raise UserError(f"{where}: expected 'annotator' and 'label' (or 'labels') fields")
    return events


def _current(path: Path, events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(id, annotator) -> the record of its current label; an unmarked disagreement raises."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for ev in events:
        key = (ev["id"], ev["annotator"])
        old = state.get(key)
        if old is not None and old["label"] != ev["label"] and not ev.get("supersedes"):
            raise UserError(
                f"{path}:{ev['line']}: annotator {ev['annotator']!r} labels {ev['id']} {ev['label']!r}, "
                f"but line {old['line']} says {old['label']!r} and this line does not supersede it; "
                "delete the wrong line"
            )
        state[key] = ev
    return state


def _labels_of(state: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {}
    for (rid, annotator), ev in sorted(state.items()):
        labels.setdefault(rid, {})[annotator] = ev["label"]
    return labels


def _source(ev: dict[str, Any]) -> str:
    row = f" row {ev['row']}" if ev.get("row") else ""
    when = f" on {ev['imported_at']}" if ev.get("imported_at") else ""
    return f"from {ev.get('sheet') or 'an earlier import'}{row}{when}"


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return "unknown"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One import at a time per labels file: a second one is refused, not interleaved."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"another import is writing {path}; wait for it, then run again") from None
        yield


def _append(path: Path, old: bytes, records: list[dict[str, Any]]) -> None:
    """Old bytes + new lines into a temporary file, swapped in: never a half-written log."""
    if old and not old.endswith(b"\n"):
        try:
            json.loads(old.rsplit(b"\n", 1)[-1])
        except ValueError:
            raise UserError(
                f"{path}: its last line is incomplete; remove that line, then import again"
            ) from None
        old += b"\n"
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    write_atomic(path, old + text.encode("utf-8"), "labels log")


@dataclass
class ImportResult:
    path: Path
    added: int  # label records appended to the log
    unchanged: int  # labels already imported with the same value
    superseded: int  # labels replaced (only with supersede=True)
    replaced: list[str] = field(default_factory=list)  # one line per superseded label
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # all labels now: merged, conflict-free


def merge_cells(cells: list[Cell], labels_path: str | Path, *, supersede: bool = False) -> ImportResult:
    """Append ``cells`` to the labels log. A label that differs from the current one is refused
    (every conflict listed, nothing written) unless ``supersede``, which records what it replaced."""
    path = Path(labels_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        old = path.read_bytes() if path.is_file() else b""
        state = _current(path, _log(path, old))
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        common = {"import": f"{stamp}-{uuid.uuid4().hex[:8]}", "imported_at": stamp, "imported_by": _who()}
        new: list[dict[str, Any]] = []
        conflicts: list[str] = []
        replaced: list[str] = []
        unchanged = 0
        done: set[tuple[str, str]] = set()
        for c in cells:
            key = (c.id, c.annotator)
            if key in done:  # an identical repeat (read_cells refuses different ones)
                continue
            done.add(key)
            prev = state.get(key)
            if prev is not None and prev["label"] == c.label:
                unchanged += 1
                continue
            record = {"id": c.id, "annotator": c.annotator, "label": c.label, **common, "sheet": c.sheet or c.shown,
                      "sheet_sha256": c.sheet_sha256, "row": c.row, "column": c.column}  # fmt: skip
            if prev is not None:
                said = (
                    f"{c.where}: {c.annotator!r} labels {c.id} {c.label!r}, "
                    f"but {prev['label']!r} was imported {_source(prev)}"
                )
                if not supersede:
                    conflicts.append(said)
                    continue
                record["supersedes"] = {
                    k: prev.get(k) for k in ("label", "import", "imported_at", "sheet", "row")
                }
                replaced.append(said)
            new.append(record)
            state[key] = {**record, "line": None}
        if conflicts:
            refuse(
                conflicts,
                f"they conflict with labels already in {path}; nothing was imported. Fix the sheet, or run "
                "again with --supersede to let this import replace them (each replacement is recorded)",
            )
        if new:
            _append(path, old, new)
    return ImportResult(path, len(new), unchanged, len(replaced), replaced, _labels_of(state))


def save_labels(labels: dict[str, dict[str, str]], path: str | Path, *, supersede: bool = False) -> Path:
    """Merge ``{id: {annotator: label}}`` into the labels log at ``path`` (the rules of an import)."""
    problems: list[str] = []
    cells = []
    for rid, per in labels.items():
        for annotator, value in per.items():
            try:
                label = norm_label(value, f"save_labels: {rid} annotator {annotator}")
            except UserError as exc:
                problems.append(str(exc))
                continue
            if label is not None:
                cells.append(Cell(str(rid), str(annotator), label, "save_labels"))
    if problems:
        refuse(problems, "nothing was saved")
    return merge_cells(cells, path, supersede=supersede).path


def load_labels(path: str | Path) -> dict[str, dict[str, str]]:
    """The current ``{id: {annotator: label}}`` of a labels log (or of an earlier-format file)."""
    path = Path(path)
    return _labels_of(_current(path, _log(path, path.read_bytes())))
