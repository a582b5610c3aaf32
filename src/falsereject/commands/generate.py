"""``falsereject generate``: answer prompts with any backend (a quick look at a model)."""

from __future__ import annotations

import json
import sys
import time

from falsereject.llm import add_backend_arguments, backend_config_from_arguments, build_backend


def register(sub) -> None:
    p = sub.add_parser("generate", help="answer one or more prompts with a backend", description=__doc__)
    p.add_argument("prompts", nargs="+", help="prompt text(s)")
    p.add_argument("--json", action="store_true", help="print one JSON object per prompt")
    add_backend_arguments(p, default_model="embedded")
    p.set_defaults(func=run)


def run(args) -> int:
    config = backend_config_from_arguments(args)
    backend = build_backend(config)
    start = time.perf_counter()
    try:
        gens = backend.generate([[{"role": "user", "content": p}] for p in args.prompts])
    finally:
        backend.close()
    for prompt, gen in zip(args.prompts, gens, strict=True):
        if args.json:
            print(
                json.dumps({"prompt": prompt, "response": gen.text, "model": gen.model}, ensure_ascii=False)
            )
        else:
            print(f"## {prompt}\n{gen.text}\n")
    print(
        f"[{backend.label}] {backend.usage.summary()} in {time.perf_counter() - start:.1f}s", file=sys.stderr
    )
    return 0
