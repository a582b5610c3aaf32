"""A local model converted once to ONNX for ONNX Runtime GenAI, cached in the user cache.

The ``onnx`` provider (:mod:`~falsereject.llm.onnx_provider`) runs a model from a folder made
here. :func:`onnx_model_dir` converts on first use with ONNX Runtime GenAI's model builder
(``python -m onnxruntime_genai.models.builder``, run in a subprocess so its memory goes back
when it ends), from:

* ``embedded``: the embedded default's dequantised transformers folder
  (:func:`falsereject.embedded.embedded_model_dir`);
* a transformers folder (``config.json`` + safetensors + tokenizer);
* a GGUF file in a folder (``gguf_file``): ``transformers`` dequantises it first.

Weights are quantised to ``precision``: ``int8`` (the default), ``int4`` (4-bit blocks of 32,
the fastest) or ``fp32`` (no quantisation); int4 and int8 run with int8 compute. Why int8 is the
default (measured with ``benchmarks/bench_agreement.py`` and ``benchmarks/bench_backends.py``
on the embedded model, greedy, 2-core CPU): the embedded model is a Q4_K_M GGUF, and
re-quantising its weights to plain 4-bit blocks changes what the model says. On the shipped
sample the int4 conversion's replies got the ``transformers`` replies' judge label on only 80%
of prompts (it answered harmful prompts the original refuses), int8's on 99% of the 80 prompts
tried; int4 is about 2x faster for one answer. Choose ``int4`` where speed matters more than fidelity (the
Space does, and says so).

Cache: ``<models dir>/onnx/<name>-<precision>-<key>/``. The key hashes what the result depends
on: the source's content (the embedded GGUF's sha256; for a folder, its files' names, sizes
and modification times, as :func:`falsereject.llm.folder_fingerprint` does), the precision,
the onnxruntime-genai version and :data:`CONVERSION_VERSION`. A folder is written under a
temporary name and renamed when complete; its marker (:data:`MARKER`) lists every file with
its size and sha256. :func:`check_cache` verifies them on every load (about 1 s for the
embedded model), so a partial or corrupt folder (a killed conversion, a truncated or deleted
file, changed bytes) is found and converted again, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from falsereject.errors import UserError
from falsereject.files import atomic_folder

log = logging.getLogger(__name__)

PRECISIONS = ("int4", "int8", "fp32")
DEFAULT_PRECISION = "int8"
#: bumped when the conversion changes in a way that changes the converted files
CONVERSION_VERSION = 1
MARKER = ".falsereject-complete"
INSTALL_HINT = "pip install 'falsereject[onnx]'"
_CONFIG_FILES = ("config.json", "generation_config.json")
_SOURCE_SUFFIXES = {".safetensors", ".bin", ".json", ".gguf", ".jinja", ".model", ".txt"}


def runtime_version() -> str | None:
    """The installed onnxruntime-genai version, or ``None`` when it is not installed."""
    try:
        return metadata.version("onnxruntime-genai")
    except metadata.PackageNotFoundError:
        return None


def require_runtime() -> str:
    version = runtime_version()
    if version is None:
        raise UserError(f"provider 'onnx' needs ONNX Runtime GenAI: run `{INSTALL_HINT}`")
    return version


def precision_for(dtype: str | None) -> str:
    """The ONNX weight precision for a BackendConfig ``dtype`` (``auto`` -> ``int8``)."""
    aliases = {"auto": DEFAULT_PRECISION, None: DEFAULT_PRECISION, "float32": "fp32"}
    precision = aliases.get(dtype, dtype)
    if precision not in PRECISIONS:
        raise UserError(
            f"dtype {dtype!r} is not an ONNX weight precision: use auto ({DEFAULT_PRECISION}), {', '.join(PRECISIONS)}"
        )
    return precision


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _source(model: str, gguf_file: str | None) -> tuple[str, str]:
    """(a short name for the cache folder, the identity of the source's content)."""
    from falsereject import embedded

    if model == "embedded":
        return "qwen2.5-coder-0.5b-instruct", f"gguf-sha256:{embedded.GGUF_SHA256}"
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise UserError(
            f"provider 'onnx' converts a local model folder, and {model!r} is not one: give a folder "
            "with config.json and weights (download a Hub model first), or `embedded`"
        )
    if (folder / "adapter_config.json").is_file():
        raise UserError(
            f"{folder} is a LoRA adapter: merge it into its base model first (the recipes write "
            "a `merged` folder), or use provider 'transformers'"
        )
    if gguf_file and not (folder / gguf_file).is_file():
        raise UserError(f"gguf_file {gguf_file!r} is not in {folder}")
    if not gguf_file and not (folder / "config.json").is_file():
        raise UserError(f"{folder} has no config.json: it is not a transformers model folder")
    parts = []
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in _SOURCE_SUFFIXES and (not gguf_file or f.suffix != ".gguf"):
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    if gguf_file:
        st = (folder / gguf_file).stat()
        parts.append(f"gguf:{gguf_file}:{st.st_size}:{st.st_mtime_ns}")
    return folder.resolve().name or "model", "files:" + "|".join(parts)


def cache_key(model: str, gguf_file: str | None, precision: str) -> tuple[str, str]:
    """(the cache folder's name, the key recorded in its marker) for a conversion."""
    name, identity = _source(model, gguf_file)
    key = json.dumps(
        {
            "source": identity,
            "gguf_file": gguf_file,
            "precision": precision,
            "runtime": runtime_version(),
            "conversion": CONVERSION_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{name}-{precision}-{digest}", key


def check_cache(folder: Path, key: str) -> str | None:
    """Why ``folder`` is not a complete conversion for ``key``, or ``None`` when it is."""
    marker = folder / MARKER
    if not marker.is_file():
        return "no completion marker (a conversion that did not finish)"
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its completion marker is unreadable"
    if manifest.get("key") != key:
        return "it was made from another source or with other settings"
    for name, (size, sha256) in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, expected {size}"
        if _file_sha256(path) != sha256:
            return f"{name} does not match its recorded sha256"
    return None


def onnx_model_dir(model: str, *, gguf_file: str | None = None, precision: str = DEFAULT_PRECISION) -> Path:
    """The converted ONNX folder for ``model`` (converted now when missing, partial or corrupt)."""
    require_runtime()
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    from falsereject.embedded import models_dir

    name, key = cache_key(model, gguf_file, precision)
    out = models_dir() / "onnx" / name
    problem = check_cache(out, key) if out.exists() else "not converted yet"
    if problem is None:
        return out
    if out.exists():
        log.warning("ONNX model cache %s is unusable (%s): converting again", out, problem)
    # kept: another process finished the same conversion first
    with atomic_folder(out, keep=lambda: check_cache(out, key) is None) as tmp:
        _convert(model, gguf_file, precision, tmp)
        _write_marker(tmp, key)
    return out


def discard(folder: Path) -> None:
    """Remove a converted folder that failed to load, so the next call converts it again."""
    marker = folder / MARKER
    marker.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _write_marker(folder: Path, key: str) -> None:
    files = {
        f.name: [f.stat().st_size, _file_sha256(f)]
        for f in sorted(folder.iterdir())
        if f.is_file() and f.name != MARKER
    }
    (folder / MARKER).write_text(json.dumps({"key": key, "files": files}, indent=1) + "\n", encoding="utf-8")


def _source_folder(model: str, gguf_file: str | None, work: Path) -> Path:
    """A transformers folder to convert: the model's own, or one dequantised from a GGUF."""
    from falsereject import embedded

    if model == "embedded":
        return embedded.embedded_model_dir()
    folder = Path(model).expanduser()
    if not gguf_file:
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = work / "dequantised"
    out.mkdir()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype="float32")
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read GGUF {folder / gguf_file}: {exc}") from None
    embedded.save_dequantised(loaded, out)
    tokenizer.save_pretrained(out)
    return out


def _staged(source: Path, work: Path) -> Path:
    """``source`` as the builder needs it: links to its files, ``config.json`` naming its class.

    A config saved from a GGUF load names no ``architectures``; the builder picks its model
    class from that list, so it is filled in from the model type.
    """
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    if not config.get("architectures"):
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        arch = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.get("model_type", ""))
        if arch is None:
            raise UserError(
                f"{source}/config.json: model_type {config.get('model_type')!r} is not a causal LM"
            )
        config["architectures"] = [arch]
    staged = work / "source"
    staged.mkdir()
    for f in source.iterdir():
        if f.is_file() and f.name != "config.json":
            (staged / f.name).symlink_to(f.resolve())
    (staged / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return staged


def _convert(model: str, gguf_file: str | None, precision: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".work-") as tmp:
        work = Path(tmp)
        source = _staged(_source_folder(model, gguf_file, work), work)
        print(
            f"converting {model} to ONNX ({precision}) for ONNX Runtime GenAI, once: {out.parent}",
            file=sys.stderr,
        )
        cmd = [
            sys.executable,
            "-m",
            "onnxruntime_genai.models.builder",
            *("-m", str(source), "-i", str(source), "-o", str(out)),
            *("-p", precision, "-e", "cpu", "-c", str(work / "hf-cache")),
            *("--extra_options", "hf_token=false"),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        logfile = work / "builder.log"
        with open(logfile, "w", encoding="utf-8") as fh:
            done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
        if done.returncode != 0 or not (out / "genai_config.json").is_file():
            tail = logfile.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise UserError(
                f"converting {model} to ONNX failed (exit {done.returncode}); the builder said:\n  "
                + "\n  ".join(tail)
                + "\nuse provider 'transformers' for this model"
            )
        for name in _CONFIG_FILES:  # the provider reads eos ids and defaults from these
            if (source / name).is_file() and not (out / name).exists():
                shutil.copyfile(source / name, out / name)
