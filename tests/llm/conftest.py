"""Fixtures for the llm tests: the tiny model converted to ONNX (once per session, per precision)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def onnx_models_dir(tmp_path_factory) -> Path:
    """A models dir holding the tiny model's ONNX conversions (use :func:`tiny_onnx`)."""
    return tmp_path_factory.mktemp("onnx-models")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model_dir, onnx_models_dir):
    """``tiny_onnx(precision)``: the tiny model's converted folder, converted on first request."""
    pytest.importorskip("onnxruntime_genai", reason="needs `pip install 'falsereject[onnx]'`")
    from falsereject.llm.onnx_model import onnx_model_dir

    made: dict[str, Path] = {}

    def get(precision: str = "fp32") -> Path:
        if precision not in made:
            old = os.environ.get("FALSEREJECT_MODELS")
            os.environ["FALSEREJECT_MODELS"] = str(onnx_models_dir)
            try:
                made[precision] = onnx_model_dir(str(tiny_model_dir), precision=precision)
            finally:
                if old is None:
                    os.environ.pop("FALSEREJECT_MODELS", None)
                else:
                    os.environ["FALSEREJECT_MODELS"] = old
        return made[precision]

    return get
