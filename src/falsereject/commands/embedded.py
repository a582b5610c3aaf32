"""``falsereject embedded``: assemble, verify and prepare the embedded default model."""

from __future__ import annotations

from falsereject import embedded


def register(sub) -> None:
    p = sub.add_parser(
        "embedded", help="prepare the embedded default model (assemble + verify + cache)", description=__doc__
    )
    p.set_defaults(func=run)


def run(args) -> int:
    path = embedded.embedded_model_dir()
    print(f"{embedded.MODEL_NAME} (from {embedded.UPSTREAM}, Apache-2.0)")
    print(f"GGUF sha256 {embedded.GGUF_SHA256} verified; transformers folder: {path}")
    return 0
