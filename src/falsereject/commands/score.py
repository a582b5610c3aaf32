"""``falsereject score``: judge (prompt, response) rows from a file and score over-refusal.

    falsereject score --input IN.jsonl --output OUT.jsonl [--judge NAME]
                      [--report R.json] [--prompt-field prompt] [--response-field response]
                      [--judge-model M | --judge-base-url URL ...]

Every input row is copied to OUT with ``judge_label`` (full_compliance,
safe_partial_compliance, direct_refusal or unscored), ``judge_rationale`` and
``judge_degenerate`` added (true for a loop, an empty reply after ``<think>`` or a reply that
is only a verdict: labelled direct_refusal and counted in the scores' ``degenerate_rate``); the
scores (see :mod:`falsereject.scoring`) print as JSON and go to ``--report``. ``--judge``
names one of :data:`falsereject.judge.JUDGES` (default :data:`falsereject.judge.DEFAULT_JUDGE`). Inputs and
outputs may be ``.jsonl``, ``.csv`` or ``.parquet``. Optional ``category`` (id 1-44 or name)
and ``prompt_label`` (benign/harmful) columns give per-category and harmful-prompt scores.
A prompt may be a whole conversation, as a list of chat messages (``[{"role": "user",
"content": ...}, ...]``, in JSONL or parquet): the judge reads its last user turn as the request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from falsereject.errors import UserError
from falsereject.evaluation.harness import show_retries
from falsereject.files import read_located_rows, row_format, write_atomic, write_rows
from falsereject.judge import DEFAULT_JUDGE, JUDGES, get_judge, prompt_text
from falsereject.llm import add_backend_arguments, backend_config_from_arguments, build_backend
from falsereject.scoring import parse_category, parse_prompt_label, score


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="judge responses in a file and compute over-refusal scores",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", required=True, help="rows to judge: .jsonl, .csv or .parquet")
    p.add_argument("--output", required=True, help="judged rows (.jsonl, .csv or .parquet)")
    p.add_argument(
        "--judge",
        default=DEFAULT_JUDGE,
        choices=JUDGES,
        help=f"the judge: {', '.join(JUDGES)} (default: {DEFAULT_JUDGE}, the package's default judge)",
    )
    p.add_argument("--report", default=None, help="also write the scores JSON here")
    p.add_argument(
        "--prompt-field",
        default="prompt",
        help="column holding the prompt: text, or a conversation as a list of chat messages (default: prompt)",
    )
    p.add_argument(
        "--response-field", default="response", help="column holding the response (default: response)"
    )
    p.add_argument("--category-field", default="category", help="optional column with the category id/name")
    p.add_argument("--prompt-label-field", default="prompt_label", help="optional column: benign or harmful")
    p.add_argument("--ensemble-all", action="store_true", help="ensemble judge: ask the LLM about every row")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    add_backend_arguments(p, prefix="judge-")
    p.set_defaults(func=run)


# --- checking the rows ---------------------------------------------------------------------
def _kind(value: Any) -> str:
    """What a non-text value is, for an error message: ``a number (42)``, ``bytes``, ``a list``."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes (a binary column)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _text(row: dict[str, Any], field: str, where: str, flag: str) -> str:
    """The text in ``row[field]``; anything else (null, a number, a list, bytes...) is an error:
    its repr would be judged as if the model had written it."""
    if field not in row:
        cols = ", ".join(sorted(map(str, row))[:12])
        raise UserError(f"{where}: no '{field}' field (columns: {cols}); name the right one with {flag}")
    value = row[field]
    if value is None:
        raise UserError(f"{where}: '{field}' is empty (null); every row needs one")
    if not isinstance(value, str):
        raise UserError(
            f"{where}: '{field}' is {_kind(value)}, not text; every row needs the text itself "
            f"(or name the right column with {flag})"
        )
    return value


def _prompt(row: dict[str, Any], field: str, where: str) -> str:
    """The prompt: text, or a multi-turn conversation as a list of chat messages (read as a
    transcript; the judge takes its last user turn as the request)."""
    value = row.get(field)
    if isinstance(value, list):
        try:
            return prompt_text(value)
        except ValueError as exc:
            raise UserError(f"{where}: '{field}': {exc}") from None
    return _text(row, field, where, "--prompt-field")


def _check_optional(row: dict[str, Any], args, where: str) -> None:
    try:
        parse_category(row.get(args.category_field))
        parse_prompt_label(row.get(args.prompt_label_field))
    except UserError as exc:
        raise UserError(
            f"{where}: {exc} (column {args.category_field!r}/{args.prompt_label_field!r})"
        ) from None


# --- the output ------------------------------------------------------------------------------
def check_writable(path: str | Path, what: str, example: str) -> Path:
    """``path`` if a file can be written there (its folder may not exist yet); else a UserError
    naming it (``example``: a file name to suggest when ``path`` is a folder). Checked before
    the (slow) judging, so a typo costs nothing."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file name (e.g. {path / example})")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"cannot write {what} {path}: permission denied")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {what} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {what} {path}: permission denied in {folder}")
    return path


# --- the command -------------------------------------------------------------------------------
def run(args) -> int:
    check_writable(args.output, "output", "judged.jsonl")
    row_format(args.output, "output")
    if args.report:
        check_writable(args.report, "report", "report.json")
        for other, flag in ((args.output, "--output"), (args.input, "--input")):
            if Path(args.report).resolve() == Path(other).resolve():
                raise UserError(
                    f"--report {args.report} is also the {flag} file; give the report its own name"
                )
    rows = read_located_rows(args.input)
    if not rows:
        raise UserError(f"{args.input} is empty: no rows to score")
    prompts, responses = [], []
    for where, row in rows:
        responses.append(_text(row, args.response_field, where, "--response-field"))
        prompts.append(_prompt(row, args.prompt_field, where))
        _check_optional(row, args, where)

    backend = None
    if args.judge in ("llm", "ensemble") and (args.judge_model or args.judge_base_url):
        backend = build_backend(backend_config_from_arguments(args, prefix="judge_"))
    options: dict[str, Any] = {"mode": "all"} if args.judge == "ensemble" and args.ensemble_all else {}
    if args.judge in ("llm", "ensemble") and args.judge_max_tokens:
        options["max_tokens"] = args.judge_max_tokens
    judge = get_judge(args.judge, backend=backend, **options)

    start = time.perf_counter()
    try:
        with (
            tqdm(
                total=len(rows),
                desc=f"judging ({judge.name})",
                unit="resp",
                file=sys.stderr,
                dynamic_ncols=True,
            ) as bar,
            show_retries(backend, bar),
        ):
            judgements = judge.judge(prompts, responses, progress=bar.update)
    finally:
        if backend is not None:
            backend.close()
    seconds = time.perf_counter() - start

    out_rows = []
    for (_, row), j in zip(rows, judgements, strict=True):
        out_rows.append(
            {**row, "judge_label": j.label, "judge_rationale": j.rationale, "judge_degenerate": j.degenerate}
        )
    write_rows(args.output, out_rows)

    scored = [
        {
            "label": j.label,
            "degenerate": j.degenerate,
            "category": row.get(args.category_field),
            "prompt_label": row.get(args.prompt_label_field),
        }
        for (_, row), j in zip(rows, judgements, strict=True)
    ]
    report = {
        "judge": judge.name,
        "input": str(args.input),
        "output": str(args.output),
        "scores": score(scored, n_boot=args.n_boot, seed=args.seed, confidence=args.confidence),
        "judge_seconds": round(seconds, 3),
    }
    if backend is not None:
        report["judge_usage"] = backend.usage.as_dict()
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.report:
        write_atomic(args.report, text + "\n", "report")
    return 0
