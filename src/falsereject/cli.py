"""``falsereject`` console command.

Each subcommand lives in ``falsereject/commands/<name>.py`` with ``register(subparsers)``
that adds its parser and sets ``func(args) -> int``. Errors a user can cause
(:class:`UserError`) print as one line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from falsereject import __version__
from falsereject.errors import UserError

#: subcommand modules, in the order ``--help`` lists them
COMMANDS = [
    "falsereject.commands.eval",
    "falsereject.commands.benchmarks",
    "falsereject.commands.score",
    "falsereject.commands.leaderboard",
    "falsereject.commands.compare",
    "falsereject.commands.generate",
    "falsereject.commands.embedded",
    "falsereject.commands.build",
    "falsereject.commands.annotate",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="falsereject",
        description="Measure and fix LLM over-refusal (FalseReject, Think-Before-Refusal).",
    )
    parser.add_argument("--version", action="version", version=f"falsereject {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"falsereject {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"falsereject {args.command}: interrupted; finished work is kept and a rerun resumes",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
