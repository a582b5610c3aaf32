"""Build the FalseReject dataset: ``python builders/falsereject.py --config builders/configs/offline.yaml``.

A thin entry point: the pipeline lives in ``falsereject.builder`` (same as ``falsereject build``).
Presets: ``builders/configs/offline.yaml`` (the embedded model, shipped seeds, a few rows; runs
offline on a CPU in minutes) and ``builders/configs/full.yaml`` (vLLM/OpenAI-compatible
endpoints, ~16k rows). Flags override YAML keys; ``--set key.sub=value`` overrides any key.
"""

from __future__ import annotations

import argparse
import os
import sys

# This file is named like the package: drop its folder from the import path so that
# `import falsereject` finds the package, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from falsereject.commands.build import add_build_arguments, run  # noqa: E402
from falsereject.errors import UserError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="builders/falsereject.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"builders/falsereject.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished rows are kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
