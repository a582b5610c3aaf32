"""``falsereject embedded``: assemble, verify and prepare the embedded default model.

Prepares what the default runtime loads: the dequantised transformers folder, and where ONNX
Runtime GenAI is installed (``falsereject[embedded]``) its ONNX conversion (``--dtype``, default int8) too, so that
the first ``falsereject eval`` or Space start does not wait for them.
"""

from __future__ import annotations

from falsereject import embedded
from falsereject.llm.config import default_provider


def register(sub) -> None:
    p = sub.add_parser(
        "embedded", help="prepare the embedded default model (assemble + verify + cache)", description=__doc__
    )
    p.add_argument(
        "--provider",
        choices=("onnx", "transformers"),
        default=None,
        help="the runtime to prepare for (default: onnx where installed, else transformers)",
    )
    p.add_argument("--dtype", default="auto", help="onnx weight precision: auto (int8), int4 or fp32")
    p.set_defaults(func=run)


def run(args) -> int:
    provider = args.provider or default_provider("embedded")
    path = embedded.embedded_model_dir()
    print(f"{embedded.MODEL_NAME} (from {embedded.UPSTREAM}, Apache-2.0)")
    print(f"GGUF sha256 {embedded.GGUF_SHA256} verified; transformers folder: {path}")
    if provider == "onnx":
        from falsereject.llm.onnx_model import onnx_model_dir, precision_for

        precision = precision_for(args.dtype)
        print(f"ONNX Runtime GenAI folder ({precision}): {onnx_model_dir('embedded', precision=precision)}")
    print(f"default runtime: {default_provider('embedded')}")
    return 0
