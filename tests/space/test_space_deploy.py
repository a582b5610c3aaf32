"""spaces/deploy.py: staging, the version pin and --dry-run (no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from falsereject.dataset import REPO_ROOT
from falsereject.errors import UserError
from falsereject.space.deploy import package_version, pin_requirements, space_files, stage

DEPLOY = REPO_ROOT / "spaces" / "deploy.py"
TOKEN = "hf_deploy_test_SENTINEL_token_value"


def test_pin_replaces_adds_and_keeps_other_lines():
    text = "# deps\ntorch==2.13.0\nfalsereject[space]>=0.0.1  # old\n"
    assert pin_requirements(text, "1.2.3") == "# deps\ntorch==2.13.0\nfalsereject[space,embedded]==1.2.3\n"
    assert pin_requirements("torch\n", "1.2.3").splitlines() == [
        "torch",
        "falsereject[space,embedded]==1.2.3",
    ]
    assert pin_requirements("falsereject-extras==1\n", "2").splitlines()[0] == "falsereject-extras==1"


def test_stage_skips_caches_and_pins(tmp_path):
    src = tmp_path / "space"
    (src / "__pycache__").mkdir(parents=True)
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    (src / ".env").write_text("SECRET=1\n")
    (src / "app.py").write_text("print('hi')\n")
    (src / "README.md").write_text("---\nsdk: gradio\n---\n")
    assert [str(p) for p in space_files(src)] == ["README.md", "app.py"]
    out = tmp_path / "out"
    files = stage(src, "9.9.9", out)
    assert sorted(str(p) for p in files) == ["README.md", "app.py", "requirements.txt"]
    assert (out / "requirements.txt").read_text() == "falsereject[space,embedded]==9.9.9\n"
    assert not (src / "requirements.txt").exists()  # the source folder is left untouched


def _deploy(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    if token:
        env["HF_TOKEN"] = token
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, str(DEPLOY), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_dry_run_lists_the_space_and_never_prints_the_token():
    result = _deploy("--repo-id", "some-org/falsereject-demo", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "some-org/falsereject-demo" in out
    for name in ("README.md", "app.py", "config.yaml", "requirements.txt"):
        assert f"  {name}  (" in out
    assert f"falsereject[space,embedded]=={package_version()}" in out
    assert TOKEN not in out + result.stderr


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--repo-id", "some-org/demo"], None, "set HF_TOKEN"),
        (["--repo-id", "not a repo id", "--dry-run"], TOKEN, "expected ORG/NAME"),
    ],
)
def test_user_errors_are_one_line(args, token, message):
    result = _deploy(*args, token=token)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_tuned_model_on_the_hub_takes_the_right_column(tmp_path):
    from falsereject.space.config import load_space_config
    from falsereject.space.deploy import SPACE_DIR, cache_note

    out = tmp_path / "staged"
    stage(SPACE_DIR, "9.9.9", out, tuned_model="my-org/qwen-falsereject")
    right = load_space_config(out / "config.yaml").right
    assert right.backend.model == "my-org/qwen-falsereject" and right.fallback is None
    assert right.title.startswith("FalseReject-tuned") and right.model_url.endswith("my-org/qwen-falsereject")
    assert "my-org/qwen-falsereject" in (out / "README.md").read_text().split("---")[1]
    assert "right column" in cache_note(out)  # its examples are not cached yet, and it says so
    with pytest.raises(UserError, match="ORG/NAME"):
        stage(SPACE_DIR, "9.9.9", tmp_path / "bad", tuned_model="not an id")


def test_a_tuned_folder_is_shipped_inside_the_space(tmp_path):
    from falsereject.space.columns import resolve_column
    from falsereject.space.config import load_space_config
    from falsereject.space.deploy import SPACE_DIR

    tuned = tmp_path / "merged"
    tuned.mkdir()
    (tuned / "config.json").write_text("{}")
    (tuned / "model.safetensors").write_bytes(b"weights")
    (tuned / "checkpoint-10").mkdir()
    (tuned / "checkpoint-10" / "optimizer.pt").write_bytes(b"x")
    out = tmp_path / "staged"
    files = stage(SPACE_DIR, "9.9.9", out, tuned_folder=tuned)
    assert (
        Path("models/tuned/model.safetensors") in files and not (out / "models/tuned/checkpoint-10").exists()
    )
    right = resolve_column(load_space_config(out / "config.yaml").right, [out])
    assert right.backend.model == str((out / "models" / "tuned").resolve()) and "merged" in right.title
    with pytest.raises(UserError, match="config.json"):
        stage(SPACE_DIR, "9.9.9", tmp_path / "bad", tuned_folder=tmp_path / "staged" / "models")


def test_a_shipped_tuned_folder_keeps_its_cached_answers(tmp_path):
    """The cache key of a model folder follows its files, not its name or place, so answers
    cached from the local folder match the copy shipped in the Space."""
    from falsereject.llm import BackendConfig
    from falsereject.space.cached import column_key
    from falsereject.space.config import ColumnConfig
    from falsereject.space.deploy import SPACE_DIR

    tuned = tmp_path / "merged"
    tuned.mkdir()
    (tuned / "config.json").write_text("{}")
    (tuned / "model.safetensors").write_bytes(b"weights")
    stage(SPACE_DIR, "9.9.9", tmp_path / "staged", tuned_folder=tuned)
    here = ColumnConfig(backend=BackendConfig(provider="transformers", model=str(tuned)))
    there = ColumnConfig(
        backend=BackendConfig(provider="transformers", model=str(tmp_path / "staged/models/tuned"))
    )
    assert column_key(here) == column_key(there)
