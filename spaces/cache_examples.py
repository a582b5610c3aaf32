"""Precompute the Space's example answers: both columns, every example, judged.

    python spaces/cache_examples.py                   # appends what is missing; rerun to resume
    python spaces/cache_examples.py --limit 10        # only the first 10 examples

Writes ``spaces/falsereject_demo/cached_examples.jsonl`` (the config's ``cached_examples``).
The logic lives in ``falsereject.space.cached``.
"""

from falsereject.space.cached import main

if __name__ == "__main__":
    main()
