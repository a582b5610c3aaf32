"""Kill -9 mid-stage, restart: the final rows equal an uninterrupted run's, none twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from builder import scripted_build

SCRIPT = Path(scripted_build.__file__)
ARGS = ["--seeds", "30", "--bound", "4"]


def _rows(out: Path) -> dict[str, list[dict]]:
    manifest = json.loads((out / "manifest.json").read_text())
    rows = {}
    for f in sorted((out / "data").glob("*/*.parquet")):
        rows[f.parent.name] = sorted(pq.read_table(f).to_pylist(), key=lambda r: r["id"])
    assert set(rows) == set(manifest["counts"])
    return rows


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_when(proc: subprocess.Popen, work: Path, stage: str, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = list(work.glob(f"{stage}-*/records.jsonl"))
        if files and _lines(files[0]) >= at_least:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"stage {stage} never reached {at_least} records")


def test_sigkill_and_restart_gives_the_rows_of_an_uninterrupted_run(tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    scripted_build.main([str(ref), *ARGS])  # uninterrupted, in-process, no latency
    cmd = [sys.executable, str(SCRIPT), str(killed), *ARGS, "--latency", "0.03"]
    work = killed / "out.work"

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(proc, work, "04-validation", 6)
    (validation,) = work.glob("04-validation-*/records.jsonl")
    with open(validation, "a") as fh:
        fh.write('{"key": "seed-torn-write", "status": "o')  # a line cut short by the kill
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(proc, work, "07-responses", 3)
    assert not (killed / "out" / "manifest.json").exists()
    subprocess.run(cmd, check=True, timeout=300, capture_output=True)

    assert _rows(killed / "out") == _rows(ref / "out")
    m_ref = json.loads((ref / "out" / "manifest.json").read_text())
    m_killed = json.loads((killed / "out" / "manifest.json").read_text())
    assert m_killed["content_hash"] == m_ref["content_hash"] and m_killed["complete"]
    for records in work.glob("*/records.jsonl"):
        keys = [json.loads(line)["key"] for line in records.read_text().splitlines()]
        assert len(keys) == len(set(keys)), f"{records.parent.name}: a row was processed twice"
        ref_file = next((ref / "out.work").glob(f"{records.parent.name}/records.jsonl"))
        assert sorted(keys) == sorted(json.loads(line)["key"] for line in ref_file.read_text().splitlines())
