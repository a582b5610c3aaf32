"""Resumable per-stage outputs: append-only JSONL keyed by stable row keys.

Each stage writes ``<work_dir>/<NN>-<stage>-<hash>/records.jsonl`` where ``hash`` is a
digest of everything that decides the stage's output (its config, prompt template hashes,
model identities and the upstream stage's hash), also saved as ``fingerprint.json``.
One line per finished row (``ok`` or ``dropped`` with a reason), written and flushed as the
row finishes. After a kill (even SIGKILL mid-write) a restart:

* cuts a torn last line off (so the next append starts on a clean line; the same
  :func:`falsereject.files.repair_jsonl_tail` that eval's ``generations.jsonl`` uses),
* keeps the *first* record of any key (a key is never processed twice),
* processes only the keys with no record.

Change a template or a model and the stage gets a new folder: nothing stale is reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from falsereject.errors import UserError
from falsereject.files import json_sha256, repair_jsonl_tail


def fingerprint_hash(fingerprint: dict[str, Any]) -> str:
    """The 12 hex digits that name a stage's folder."""
    return json_sha256(fingerprint)[:12]


class StageStore:
    def __init__(self, work_dir: str | Path, number: int, name: str, fingerprint: dict[str, Any]):
        self.name = name
        self.hash = fingerprint_hash(fingerprint)
        self.dir = Path(work_dir) / f"{number:02d}-{name}-{self.hash}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "records.jsonl"
        fp = self.dir / "fingerprint.json"
        if not fp.exists():
            fp.write_text(
                json.dumps(fingerprint, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
            )
        self.torn_bytes = repair_jsonl_tail(self.path)
        self.done: set[str] = set()
        for rec in self._iter_raw():
            self.done.add(rec["key"])
        self._fh = None

    def _iter_raw(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise UserError(
                        f"{self.path}:{n}: not valid JSON; this stage's records are damaged. "
                        f"Delete the folder {self.dir} to redo the stage"
                    ) from None

    def records(self, keys: set[str] | None = None) -> Iterator[dict[str, Any]]:
        """Each key's first record (optionally only ``keys``), in file order."""
        seen: set[str] = set()
        for rec in self._iter_raw():
            key = rec["key"]
            if key in seen or (keys is not None and key not in keys):
                continue
            seen.add(key)
            yield rec

    def append(self, record: dict[str, Any]) -> None:
        key = record["key"]
        if key in self.done:
            return
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open across appends; closed by close()
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()
        self.done.add(key)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
