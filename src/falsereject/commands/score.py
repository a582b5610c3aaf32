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
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from falsereject.errors import UserError
from falsereject.judge import DEFAULT_JUDGE, JUDGES
from falsereject.llm import add_backend_arguments, backend_config_from_arguments, build_backend

FORMATS = (".jsonl", ".csv", ".parquet")


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
    p.add_argument("--prompt-field", default="prompt", help="column holding the prompt (default: prompt)")
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


# --- reading -----------------------------------------------------------------------------------
def _format(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(
            f"{what} {path}: unsupported file type {suffix or '(none)'}; use {', '.join(FORMATS)}"
        )
    return suffix


def _decode_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) for every line; a clear error on the first non-UTF-8 line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{path}:{number}: not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
                "re-save the file as UTF-8"
            ) from None
    return lines


def _read_jsonl(path: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for number, text in _decode_lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
        rows.append((f"{path}:{number}", row))
    return rows


def _read_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    text = "".join(line for _, line in _decode_lines(path))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            rows.append((f"{path}:{reader.line_num}", {k: v for k, v in row.items() if k is not None}))
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    return rows


def _read_parquet(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    return [(f"{path}: row {i + 1}", row) for i, row in enumerate(table.to_pylist())]


def read_rows(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for every row of a .jsonl/.csv/.parquet file; ``where`` names file and line."""
    path = Path(path)
    suffix = _format(path, "input")
    if not path.is_file():
        raise UserError(f"input {path} does not exist")
    reader = {".jsonl": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet}[suffix]
    rows = reader(path)
    if not rows:
        raise UserError(f"{path} is empty: no rows to score")
    return rows


def _text(row: dict[str, Any], field: str, where: str, flag: str) -> str:
    if field not in row:
        cols = ", ".join(sorted(map(str, row))[:12])
        raise UserError(f"{where}: no '{field}' field (columns: {cols}); name the right one with {flag}")
    value = row[field]
    if value is None:
        raise UserError(f"{where}: '{field}' is empty (null); every row needs one")
    return value if isinstance(value, str) else str(value)


def _check_optional(row: dict[str, Any], args, where: str) -> None:
    from falsereject.scoring import parse_category, parse_prompt_label

    try:
        parse_category(row.get(args.category_field))
        parse_prompt_label(row.get(args.prompt_label_field))
    except UserError as exc:
        raise UserError(
            f"{where}: {exc} (column {args.category_field!r}/{args.prompt_label_field!r})"
        ) from None


# --- writing -----------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as .jsonl/.csv/.parquet (by suffix), atomically."""
    path = Path(path)
    suffix = _format(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    elif suffix == ".csv":
        fields = list(dict.fromkeys(k for row in rows for k in row))
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                )
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowException, TypeError):
            table = pa.Table.from_pylist([{k: _jsonable(v) for k, v in row.items()} for row in rows])
        pq.write_table(table, tmp)
    os.replace(tmp, path)


# --- the command -------------------------------------------------------------------------------
def run(args) -> int:
    from falsereject.judge import get_judge
    from falsereject.scoring import score

    _format(Path(args.output), "output")
    rows = read_rows(args.input)
    prompts, responses = [], []
    for where, row in rows:
        responses.append(_text(row, args.response_field, where, "--response-field"))
        prompts.append(_text(row, args.prompt_field, where, "--prompt-field"))
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
        with tqdm(
            total=len(rows), desc=f"judging ({judge.name})", unit="resp", file=sys.stderr, dynamic_ncols=True
        ) as bar:
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
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(text + "\n", encoding="utf-8")
    return 0
