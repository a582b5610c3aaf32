"""The ONNX conversion cache: content-hash keys, a verified marker, partial/corrupt folders rebuilt."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from falsereject.errors import UserError
from falsereject.llm import onnx_model
from falsereject.llm.config import BackendConfig, default_provider


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("FALSEREJECT_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def _fake_conversion(tmp_path, key="k"):
    folder = tmp_path / "converted"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"graph" * 100)
    (folder / "model.onnx.data").write_bytes(bytes(range(256)) * 40)
    (folder / "genai_config.json").write_text("{}")
    onnx_model._write_marker(folder, key)
    return folder


def test_a_complete_folder_passes_and_every_kind_of_damage_is_named(tmp_path):
    folder = _fake_conversion(tmp_path)
    assert onnx_model.check_cache(folder, "k") is None
    assert "other settings" in onnx_model.check_cache(folder, "another key")

    data = folder / "model.onnx.data"
    original = data.read_bytes()
    data.write_bytes(original[:100])  # truncated
    assert "model.onnx.data has 100 bytes" in onnx_model.check_cache(folder, "k")
    data.write_bytes(bytes([original[0] ^ 1]) + original[1:])  # same size, one bit changed
    assert "sha256" in onnx_model.check_cache(folder, "k")
    data.unlink()
    assert "model.onnx.data is missing" in onnx_model.check_cache(folder, "k")
    data.write_bytes(original)
    assert onnx_model.check_cache(folder, "k") is None

    (folder / onnx_model.MARKER).write_text("{not json")
    assert "unreadable" in onnx_model.check_cache(folder, "k")
    (folder / onnx_model.MARKER).unlink()
    assert "did not finish" in onnx_model.check_cache(folder, "k")


def test_the_key_follows_the_source_content_and_the_settings(tiny_model_dir, tmp_path):
    name, key = onnx_model.cache_key(str(tiny_model_dir), None, "int4")
    assert name.startswith(tiny_model_dir.name + "-int4-")
    assert onnx_model.cache_key(str(tiny_model_dir), None, "int4") == (name, key)
    assert onnx_model.cache_key(str(tiny_model_dir), None, "int8")[0] != name
    emb_name, emb_key = onnx_model.cache_key("embedded", None, "int4")
    assert json.loads(emb_key)["source"].startswith("gguf-sha256:1d9614638d18")
    assert emb_name.startswith("qwen2.5-coder-0.5b-instruct-int4-")
    # a retrained folder (new weights) gets a new key
    copy = tmp_path / tiny_model_dir.name
    copy.mkdir()
    for f in tiny_model_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    before = onnx_model.cache_key(str(copy), None, "int4")[1]
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    assert onnx_model.cache_key(str(copy), None, "int4")[1] != before


def test_user_errors_for_what_cannot_be_converted(tmp_path, models):
    with pytest.raises(UserError, match="not one: give a folder"):
        onnx_model.onnx_model_dir("Qwen/Qwen2.5-0.5B-Instruct")
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(UserError, match="LoRA adapter: merge it"):
        onnx_model.onnx_model_dir(str(adapter))
    with pytest.raises(UserError, match="no config.json"):
        onnx_model.onnx_model_dir(str(tmp_path))
    with pytest.raises(UserError, match="gguf_file 'm.gguf' is not in"):
        onnx_model.onnx_model_dir(str(tmp_path), gguf_file="m.gguf")
    with pytest.raises(UserError, match="precision 'int3'"):
        onnx_model.onnx_model_dir(str(tmp_path), precision="int3")
    with pytest.raises(UserError, match="not an ONNX weight precision"):
        onnx_model.precision_for("bfloat16")
    assert onnx_model.precision_for("auto") == "int8" and onnx_model.precision_for("float32") == "fp32"


def test_a_failed_conversion_is_a_user_error_with_the_builders_words(tiny_model_dir, models, monkeypatch):
    def failing_builder(cmd, stdout, **kwargs):
        stdout.write("Traceback ...\nNotImplementedError: The llama2 architecture is not supported\n")
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(onnx_model.subprocess, "run", failing_builder)
    with pytest.raises(
        UserError, match=r"(?s)failed \(exit 1\).*architecture is not supported.*'transformers'"
    ):
        onnx_model.onnx_model_dir(str(tiny_model_dir))
    assert [p.name for p in (models / "onnx").iterdir()] == []  # nothing half-made left behind


def test_without_the_runtime_the_embedded_default_is_transformers(monkeypatch):
    monkeypatch.setattr(onnx_model, "runtime_version", lambda: None)
    assert default_provider("embedded") == "transformers"
    assert BackendConfig().provider == "transformers"
    with pytest.raises(UserError, match=r"falsereject\[onnx\]"):
        onnx_model.require_runtime()


def test_the_default_provider():
    assert default_provider("/some/folder") == "transformers"
    assert default_provider("embedded", "http://127.0.0.1:8000/v1") == "openai"
    assert BackendConfig(provider="transformers").provider == "transformers"  # an explicit choice stays
    if onnx_model.runtime_version() is not None:
        assert BackendConfig().provider == "onnx"


# -- real conversions of the tiny model (skipped without onnxruntime-genai) ----------------------------------------------------------


def test_converts_once_then_reuses_and_rebuilds_a_damaged_folder(
    tiny_model_dir, tiny_onnx, models, monkeypatch
):
    made = tiny_onnx("fp32")
    assert {"model.onnx", "genai_config.json", "tokenizer.json", "generation_config.json"} <= {
        f.name for f in made.iterdir()
    }
    out = models / "onnx" / made.name
    shutil.copytree(made, out)  # this test's own copy of the session's conversion
    runs = []
    real_run = subprocess.run
    monkeypatch.setattr(onnx_model.subprocess, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    assert onnx_model.onnx_model_dir(str(tiny_model_dir), precision="fp32") == out
    assert runs == []  # complete: reused as is

    data = out / "model.onnx.data"
    with open(data, "r+b") as fh:  # a torn write
        fh.truncate(data.stat().st_size // 2)
    (out / "genai_config.json").unlink()
    assert onnx_model.onnx_model_dir(str(tiny_model_dir), precision="fp32") == out
    assert runs == [1]
    assert onnx_model.check_cache(out, onnx_model.cache_key(str(tiny_model_dir), None, "fp32")[1]) is None
    assert not [p for p in (models / "onnx").iterdir() if p.name.startswith(".")]  # no temp folders left
