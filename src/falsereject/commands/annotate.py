"""``falsereject annotate``: human annotation of the built test split.

falsereject annotate export --config C --names alice,bob --out sheet.csv
    a sheet of the test prompts with blank label_<name> columns (the build also writes
    <work_dir>/annotation/sheet-blank.csv with label_1..label_N)
falsereject annotate import --config C filled.csv [more.csv ...]
    read the labels (benign / harmful / unclear), print Cohen's (2 annotators) or
    Fleiss' (3+) kappa, save <work_dir>/annotation/labels.jsonl and rebuild: `test`
    then holds only the prompts every annotator labelled benign, and the card reports
    the agreement (no LLM call is made: every stage is already done)
falsereject annotate agreement filled.csv [...]
    only print the agreement
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
    im = actions.add_parser("import", help="import filled sheets, print agreement, rebuild the release")
    add_build_arguments(im)
    im.add_argument(
        "sheets",
        nargs="+",
        help="filled sheet(s): .csv or .jsonl with id and label_<name> (or label) columns",
    )
    im.add_argument("--no-rebuild", action="store_true", help="only save the labels")
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
    from falsereject.builder.annotation import read_sheets, save_labels
    from falsereject.commands.build import config_from_arguments

    config = config_from_arguments(args)
    test_ids = {r["id"] for r in _blank_rows(config)}
    labels = read_sheets(args.sheets)
    unknown = sorted(set(labels) - test_ids)
    if unknown:
        raise UserError(
            f"{len(unknown)} labelled id(s) are not test prompts of this build (e.g. {unknown[0]}); wrong sheet or config?"
        )
    path = (
        Path(config.annotation.labels)
        if config.annotation.labels
        else config.work_path / "annotation" / "labels.jsonl"
    )
    save_labels(labels, path)
    _print_agreement(agree(labels))
    print(f"saved {path}")
    if args.no_rebuild:
        return 0
    result = build(config)
    print(f"rebuilt {result.output_dir}: test keeps {result.counts['test']['test']} agreed-benign prompts")
    return 0


def agreement(args) -> int:
    from falsereject.builder.annotation import agreement as agree
    from falsereject.builder.annotation import read_sheets

    _print_agreement(agree(read_sheets(args.sheets)))
    return 0
