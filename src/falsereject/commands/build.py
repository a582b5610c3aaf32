"""``falsereject build``: build (or resume) the FalseReject dataset from a builder config.

Same as ``python builders/falsereject.py``. Examples::

    falsereject build --config builders/configs/offline.yaml --output-dir build/fr-offline
    falsereject build --config builders/configs/full.yaml --set validation.min_refusals=2 \\
        --push-to-hub my-org/falsereject
"""

from __future__ import annotations

import argparse
import logging
import sys

from falsereject.errors import UserError
from falsereject.files import is_hub_id


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", required=True, help="builder YAML (builders/configs/offline.yaml, full.yaml, ...)"
    )
    p.add_argument(
        "--output-dir", default=None, help="where the dataset folder is written (overrides output_dir)"
    )
    p.add_argument("--work-dir", default=None, help="stage records folder (default: <output-dir>.work)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key, YAML value (repeatable): --set adversarial.max_rounds=2",
    )  # fmt: skip
    p.add_argument("--max-concurrency", type=int, default=None, help="LLM calls in flight across all roles")
    p.add_argument("--limit", type=int, default=None, help="use at most this many seeds (seeds.limit)")
    p.add_argument(
        "--push-to-hub", default=None, metavar="ORG/NAME", help="upload the folder (token from HF_TOKEN)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def config_from_arguments(args: argparse.Namespace):
    from falsereject.builder import load_builder_config

    overrides = list(args.overrides)
    if args.max_concurrency is not None:
        overrides.append(f"max_concurrency={args.max_concurrency}")
    if args.limit is not None:
        overrides.append(f"seeds.limit={args.limit}")
    config = load_builder_config(args.config, overrides)
    if args.output_dir:
        config.output_dir = args.output_dir
    if args.work_dir:
        config.work_dir = args.work_dir
    if args.push_to_hub:
        if not is_hub_id(args.push_to_hub):
            raise UserError(f"--push-to-hub {args.push_to_hub!r}: expected ORG/NAME")
        config.release.push_to_hub = args.push_to_hub
    if args.no_progress:
        config.progress = False
    return config


def register(sub) -> None:
    p = sub.add_parser(
        "build",
        help="build the FalseReject dataset (graph-informed multi-agent pipeline)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from falsereject.builder import build

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config = config_from_arguments(args)
    print(
        f"building {config.release.name} v{config.release.version} -> {config.output_dir} (work: {config.work_path})",
        file=sys.stderr,
    )
    result = build(config)
    print(result.report_text)
    counts = ", ".join(f"{c}/{s}: {n}" for c, sp in result.counts.items() for s, n in sp.items())
    print(f"\nwrote {result.output_dir} ({counts}) in {result.seconds:.1f}s")
    print(
        f"annotation sheet: {result.manifest['annotation'].get('sheet') or result.manifest['annotation'].get('labels')}"
    )
    if result.manifest.get("pushed_to"):
        print(f"pushed to {result.manifest['pushed_to']}")
    if not result.manifest["complete"]:
        print(
            "some rows failed and are still pending (see build.log); rerun the same command to finish",
            file=sys.stderr,
        )
        return 1
    return 0
