"""Small file helpers shared by the builder and the eval harness (stdlib only: cheap to import).

* :func:`json_sha256`: the SHA-256 of data as canonical JSON (sorted keys, UTF-8, anything
  not JSON as ``str``), the one hash of configs, fingerprints and identities;
* :func:`write_atomic`: write a text file so that a reader (or a killed writer) sees the old
  content or the new, never half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def json_sha256(data: Any) -> str:
    """Hex SHA-256 of ``data`` as JSON with sorted keys: equal data, equal hash, in any key order."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through ``.<name>.tmp`` beside it, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
