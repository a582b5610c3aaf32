"""Shared by the builder tests: a scripted config, a deterministic judge, a subprocess entry.

``python tests/builder/scripted_build.py OUT_DIR [--latency S] [--seeds N]`` runs the
pipeline on the scripted world (:mod:`falsereject.builder.simulate`); the kill/restart test
starts it, SIGKILLs it mid-stage and starts it again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from falsereject.builder.config import BuilderConfig, load_builder_config
from falsereject.judge.base import FULL, REFUSAL, Judgement


class PrefixJudge:
    """A judge for unit tests: 'I'm sorry' / 'I can't' openings are refusals, nothing else."""

    name = "prefix"

    def __init__(self):
        self.calls = 0

    async def ajudge(self, prompts, responses, *, progress=None):
        self.calls += 1
        out = []
        for r in responses:
            refused = r.strip().lower().startswith(("i'm sorry", "i can't", "i cannot"))
            out.append(Judgement(REFUSAL if refused else FULL, "prefix rule", self.name))
        return out


def sim(role: str) -> str:
    return f"{{provider: scripted, model: sim-{role}, cache_dir: 'off'}}"


def scripted_config(tmp_path, *overrides: str, seeds: int | None = 6) -> BuilderConfig:
    """Defaults + scripted model names (no response cache), 2 targets, small numbers."""
    base = [
        f"output_dir={Path(tmp_path) / 'out'}",
        "progress=false",
        "max_concurrency=8",
        "adversarial.candidates_per_seed=2",
        *[
            f"models.{role}={sim(role)}"
            for role in ("generator", "discriminator", "orchestrator", "responder")
        ],
        f"validation.pool=[{{name: small, backend: {sim('small')}}}, {{name: large, backend: {sim('large')}}}]",
        "split.test_fraction=0.3",
        "release.version=0.0.1-test",
    ]
    if seeds is not None:
        base.append(f"seeds.limit={seeds}")
    return load_builder_config(None, [*base, *overrides])


SIM = "{provider: scripted, model: sim-%s, cache_dir: 'off'}"


def write_config(tmp_path, *extra: str) -> Path:
    """A small scripted build config (8 seeds, 2 pool targets, half test) written to tmp_path."""
    lines = [
        f"output_dir: {tmp_path / 'out'}",
        "progress: false",
        "seeds: {limit: 8}",
        "models:",
        *[f"  {r}: {SIM % r}" for r in ("generator", "discriminator", "orchestrator", "responder")],
        "adversarial: {candidates_per_seed: 2}",
        f"validation: {{pool: [{{name: small, backend: {SIM % 'small'}}}, {{name: large, backend: {SIM % 'large'}}}]}}",
        "split: {test_fraction: 0.5}",
        *extra,
    ]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    from falsereject.builder import build
    from falsereject.builder.simulate import scripted_providers

    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--bound", type=int, default=4)
    args = parser.parse_args(argv)
    config = scripted_config(args.out, f"max_concurrency={args.bound}", seeds=args.seeds)
    build(
        config, providers=scripted_providers(config, latency=args.latency, bad_json=0.1), judge=PrefixJudge()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
