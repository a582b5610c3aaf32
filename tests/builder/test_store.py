"""Append-only stage records: torn lines, duplicates and fingerprints."""

from __future__ import annotations

import pytest

from falsereject.builder.store import StageStore
from falsereject.errors import UserError


def test_append_and_reopen(tmp_path):
    s = StageStore(tmp_path, 2, "graph", {"a": 1})
    s.append({"key": "k1", "status": "ok"})
    s.append({"key": "k2", "status": "dropped"})
    s.append({"key": "k1", "status": "dropped"})  # ignored: k1 is done
    s.close()
    s2 = StageStore(tmp_path, 2, "graph", {"a": 1})
    assert s2.dir == s.dir and s2.dir.name == f"02-graph-{s.hash}"
    assert s2.done == {"k1", "k2"}
    assert [r["status"] for r in s2.records()] == ["ok", "dropped"]
    assert [r["key"] for r in s2.records({"k2"})] == ["k2"]
    assert (s2.dir / "fingerprint.json").is_file()


def test_torn_last_line_is_cut_before_appending(tmp_path):
    s = StageStore(tmp_path, 3, "adversarial", {})
    s.append({"key": "a", "status": "ok"})
    s.close()
    with open(s.path, "a") as fh:
        fh.write('{"key": "b", "status": "o')  # SIGKILL mid-write
    s2 = StageStore(tmp_path, 3, "adversarial", {})
    assert s2.torn_bytes > 0 and s2.done == {"a"}
    s2.append({"key": "b", "status": "ok"})
    s2.close()
    assert [r["key"] for r in StageStore(tmp_path, 3, "adversarial", {}).records()] == ["a", "b"]


def test_a_file_that_is_only_a_torn_line_is_emptied(tmp_path):
    s = StageStore(tmp_path, 3, "adversarial", {})
    s.path.write_text('{"key": "a", "sta')  # killed while writing the very first record
    s2 = StageStore(tmp_path, 3, "adversarial", {})
    assert s2.torn_bytes == 17 and s2.path.read_bytes() == b"" and s2.done == set()
    s2.append({"key": "a", "status": "ok"})
    s2.close()
    assert StageStore(tmp_path, 3, "adversarial", {}).torn_bytes == 0  # a whole last line is kept
    assert [r["key"] for r in StageStore(tmp_path, 3, "adversarial", {}).records()] == ["a"]


def test_first_record_of_a_key_wins(tmp_path):
    s = StageStore(tmp_path, 4, "validation", {})
    s.path.write_text('{"key": "x", "status": "ok"}\n{"key": "x", "status": "dropped"}\n')
    assert [r["status"] for r in StageStore(tmp_path, 4, "validation", {}).records()] == ["ok"]


def test_fingerprint_changes_the_folder(tmp_path):
    a = StageStore(tmp_path, 2, "graph", {"template": "sha-a"})
    b = StageStore(tmp_path, 2, "graph", {"template": "sha-b"})
    assert a.dir != b.dir


def test_damaged_middle_line_is_a_clear_error(tmp_path):
    s = StageStore(tmp_path, 5, "orchestrator", {})
    s.path.write_text('{"key": "x", "status": "ok"}\nGARBAGE\n{"key": "y", "status": "ok"}\n')
    with pytest.raises(UserError, match="Delete the folder"):
        StageStore(tmp_path, 5, "orchestrator", {})
