"""falsereject.files: row files in three formats, append-only JSONL logs, atomic writes, Hub ids."""

from __future__ import annotations

import json

import pytest

from falsereject.errors import UserError
from falsereject.files import (
    append_jsonl,
    atomic_folder,
    is_hub_id,
    read_jsonl,
    read_rows,
    repair_jsonl_tail,
    write_atomic,
    write_rows,
)

ROWS = [{"prompt": "How do I kill a Python process?", "n": 1}, {"prompt": "café ☕", "n": 2}]


@pytest.mark.parametrize(
    ("name", "hub"),
    [
        ("AmazonScience/FalseReject", True),
        ("allenai/tulu-3-sft-mixture", True),
        ("org/name.v2", True),
        ("./data", False),
        ("../x", False),
        ("/abs", False),
        ("a/b/c", False),
        ("falsereject", False),
        ("org/", False),
        ("my org/x", False),
    ],
)
def test_is_hub_id(name, hub):
    assert is_hub_id(name) is hub


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_rows_round_trip_in_every_format(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    write_rows(path, ROWS)
    back = read_rows(path)
    assert [r["prompt"] for r in back] == [r["prompt"] for r in ROWS]
    assert [str(r["n"]) for r in back] == ["1", "2"]  # CSV gives text back
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file is left"


def test_a_log_skips_only_a_torn_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    whole = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS)
    torn = json.dumps({"prompt": "☕☕"}, ensure_ascii=False).encode()[:14]  # cut inside a character
    path.write_bytes(whole.encode() + torn)
    assert read_jsonl(path) == ROWS
    with pytest.raises(UserError, match=r"log\.jsonl:3: not valid UTF-8"):
        read_rows(path)  # a row file given by a user is read strictly
    assert repair_jsonl_tail(path) == len(torn)
    append_jsonl(path, [{"prompt": "again"}])
    assert [r["prompt"] for r in read_jsonl(path)][-1] == "again"

    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"log\.jsonl:2: not valid JSON"):
        read_jsonl(path)  # a bad line with a line after it is not a torn write


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "meta.json"
    write_atomic(path, "old\n")

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("falsereject.files.os.replace", full_disk)
    with pytest.raises(UserError, match=r"cannot write report .*meta\.json: No space left on device"):
        write_atomic(path, b"new\n", "report")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_an_atomic_folder_replaces_the_old_one_only_when_complete(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.bin").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "half.bin").write_text("half")
        raise RuntimeError("killed half-way")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in out.iterdir()] == [
        "old.bin"
    ]
    with atomic_folder(out, keep=lambda: True) as tmp:  # another process finished first
        (tmp / "mine.bin").write_text("mine")
    assert [p.name for p in out.iterdir()] == ["old.bin"] and len(list(tmp_path.iterdir())) == 1
    with atomic_folder(out) as tmp:
        (tmp / "new.bin").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.bin"] and len(list(tmp_path.iterdir())) == 1
