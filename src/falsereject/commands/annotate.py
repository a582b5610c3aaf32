"""``falsereject annotate``: human annotation of the built test split.

falsereject annotate export --config C --names alice,bob --out sheet.csv
    a sheet of the test prompts with blank label_<name> columns (the build also writes
    <work_dir>/annotation/sheet-blank.csv with label_1..label_N)
falsereject annotate import --config C filled.csv [more.csv ...] [--supersede] [--no-rebuild]
    add the labels (benign / harmful / unclear; a blank cell = not labelled) to
    <work_dir>/annotation/labels.jsonl, print Cohen's (2 annotators) or Fleiss' (3+) kappa
    of all the labels imported so far, and rebuild: `test` then holds only the prompts the
    annotators agreed are benign, and the card reports the agreement (no LLM call is made:
    every stage is already done)
falsereject annotate agreement filled.csv [...]
    only print the agreement

Human labels are never lost or silently overwritten:
  * every sheet is validated in full first (UTF-8, an id column and label column(s), no
    column twice, no row with extra cells, known labels, ids of this build's test split, at
    least one label per sheet); any problem lists every bad file:row and imports nothing
  * conflicts are refused: an annotator giving one id two different labels (in one sheet or
    across the sheets of an import) is always an error; a label that differs from one
    imported earlier is an error naming both sources, unless --supersede: then this import
    replaces it, and the replacement (with the label it superseded) is recorded
  * labels.jsonl is append-only: one line per label with who (annotator, imported_by), when
    (imported_at, import id) and which file (sheet, sha256, row, column); an import only adds
    lines, written to a temporary file and swapped in; the same label again adds nothing
  * the release is rebuilt only after the labels are saved, and not at all while no test
    prompt is agreed benign yet (e.g. after the first annotator's sheet): the current release
    is kept (`falsereject build --config C` writes one anyway)
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from falsereject.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "annotate",
        help="export/import the test split's human annotation sheet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    from falsereject.commands.build import add_build_arguments

    ex = actions.add_parser("export", help="write an annotation sheet of the test prompts")
    add_build_arguments(ex)
    ex.add_argument(
        "--names", default=None, help="annotator names, comma-separated (default: 1..annotation.annotators)"
    )
    ex.add_argument("--out", required=True, help="sheet to write (.csv)")
    ex.set_defaults(func=export)
    im = actions.add_parser(
        "import",
        help="import filled sheets, print agreement, rebuild the release",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_arguments(im)
    im.add_argument(
        "sheets",
        nargs="+",
        help="filled sheet(s): .csv or .jsonl with id and label_<name> (or label) columns",
    )
    im.add_argument("--no-rebuild", action="store_true", help="only save the labels")
    im.add_argument(
        "--supersede",
        action="store_true",
        help="let this import's labels replace conflicting ones imported earlier (each replacement "
        "is recorded); without it a conflict refuses the whole import. Conflicts within this import "
        "are always refused",
    )
    im.set_defaults(func=import_)
    ag = actions.add_parser("agreement", help="print the agreement (kappa) of filled sheets")
    ag.add_argument("sheets", nargs="+")
    ag.set_defaults(func=agreement)


def _blank_rows(config) -> list[dict]:
    sheet = config.work_path / "annotation" / "sheet-blank.csv"
    if not sheet.is_file():
        raise UserError(f"{sheet} does not exist: run the build first (falsereject build --config ...)")
    with open(sheet, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def export(args) -> int:
    from falsereject.builder.annotation import export_sheet
    from falsereject.commands.build import config_from_arguments

    config = config_from_arguments(args)
    names = (
        [n.strip() for n in args.names.split(",") if n.strip()]
        if args.names
        else config.annotation.annotators
    )
    if isinstance(names, list) and len(names) < 2:
        raise UserError("--names: give two or more annotators")
    rows = _blank_rows(config)
    path = export_sheet(rows, args.out, names)
    print(f"wrote {path} ({len(rows)} prompts) and {path.with_name('GUIDE.txt')}")
    return 0


def _print_agreement(result: dict) -> None:
    print(json.dumps({k: v for k, v in result.items() if k != "agreed_benign_ids"}, indent=2))


def import_(args) -> int:
    from falsereject.builder import build
    from falsereject.builder.annotation import agreement as agree
    from falsereject.builder.annotation import import_labels
    from falsereject.commands.build import config_from_arguments

    config = config_from_arguments(args)
    test_ids = {r["id"] for r in _blank_rows(config)}
    path = (
        Path(config.annotation.labels)
        if config.annotation.labels
        else config.work_path / "annotation" / "labels.jsonl"
    )
    # every sheet is validated before anything is written; conflicts refuse the import
    result = import_labels(args.sheets, path, known_ids=test_ids, supersede=args.supersede)
    print(
        f"imported {result.added} new label(s) from {len(args.sheets)} sheet(s) into {path} "
        f"({result.unchanged} already there, superseded {result.superseded})"
    )
    for line in result.replaced:
        print(f"  superseded: {line}")
    labels = {i: per for i, per in result.labels.items() if i in test_ids}
    summary = agree(labels)
    _print_agreement(summary)
    if args.no_rebuild:
        return 0
    short = sum(len(labels.get(i, {})) < 2 for i in test_ids)
    if not summary["agreed_benign_ids"]:
        why = (
            f"{short} of {len(test_ids)} test prompts have fewer than two labels: import the other "
            "annotators' sheets"
            if short
            else "every test prompt has two or more labels"
        )
        print(
            f"not rebuilding {config.output_dir}: no test prompt is agreed benign, so `test` would be "
            f"empty ({why}); the labels are saved in {path} and the current release is kept. "
            f"`falsereject build --config {args.config}` writes the release anyway"
        )
        return 0
    try:
        built = build(config)
    except UserError as exc:
        raise UserError(f"the labels are saved in {path}, but the rebuild failed: {exc}") from None
    kept = built.counts.get("test", {}).get("test", 0)
    print(f"rebuilt {built.output_dir}: test keeps {kept} agreed-benign prompts")
    if short:
        print(
            f"  {short} of {len(test_ids)} test prompts have fewer than two labels and are left out until labelled"
        )
    return 0


def agreement(args) -> int:
    from falsereject.builder.annotation import agreement as agree
    from falsereject.builder.annotation import read_sheets

    _print_agreement(agree(read_sheets(args.sheets)))
    return 0
