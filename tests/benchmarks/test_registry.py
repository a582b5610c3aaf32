"""The benchmark registry (``data/benchmarks.yaml``): what each entry declares, how a bad entry
fails, and ``falsereject benchmarks``."""

from __future__ import annotations

import pytest

from falsereject.cli import main
from falsereject.errors import UserError
from falsereject.evaluation.benchmarks import REGISTRY, benchmark_names, get_benchmark, load_registry

#: name -> (Hub id or None for shipped, published prompts per side), as the issue lists them
PUBLISHED = {
    "falsereject": ("AmazonScience/FalseReject", {"benign": 1187}),
    "falsereject-sample": (None, {"benign": 264, "harmful": 132}),
    "falsereject-harmful": (None, {"harmful": 132}),
    "xstest": ("Paul/XSTest", {"benign": 250, "harmful": 200}),
    "orbench-hard": ("bench-llm/or-bench", {"benign": 1319}),
    "orbench-toxic": ("bench-llm/or-bench", {"harmful": 655}),
    "orbench": ("bench-llm/or-bench", {"benign": 1319, "harmful": 655}),
    "phtest": ("furonghuang-lab/PHTest", {}),
    "coconot-contrast": ("allenai/coconot", {"benign": 379}),
}


def test_every_entry_declares_source_mapping_license_and_citation():
    registry = load_registry()
    assert list(registry) == list(PUBLISHED)
    for name, (hub, counts) in PUBLISHED.items():
        bench = registry[name]
        assert bench.hub == hub and (bench.package is not None) == (hub is None)
        assert bench.license and "arXiv:" in bench.citation and bench.title
        expected: dict[str, int] = {}
        for part in bench.parts:
            assert part.files and part.split
            # the mapping reads only columns the source publishes
            assert set(part.columns.values()) <= set(part.published_columns), (name, part.name)
            for side, n in part.expected.items():
                expected[side] = expected.get(side, 0) + n
        assert expected == counts
        if bench.pair:
            assert bench.pair in registry


def test_the_benign_harmful_rules_as_published():
    xstest = get_benchmark("xstest").parts[0]
    assert xstest.labels == {"safe": "benign", "unsafe": "harmful"} and xstest.columns["category"] == "type"
    phtest = get_benchmark("phtest")
    assert phtest.parts[0].labels == {"harmless": "benign", "controversial": "controversial"}
    assert phtest.sides == ["benign", "controversial"] and phtest.categories is None
    assert [p.config for p in get_benchmark("orbench").parts] == ["or-bench-hard-1k", "or-bench-toxic"]
    assert get_benchmark("coconot-contrast").parts[0].config == "contrast"
    assert get_benchmark("falsereject").pair == "falsereject-harmful"


def test_names_are_checked(capsys):
    assert benchmark_names("xstest, orbench-hard") == ["xstest", "orbench-hard"]
    with pytest.raises(UserError, match="unknown benchmark 'xtest'; known: falsereject, "):
        benchmark_names("xtest")
    with pytest.raises(UserError, match="lists xstest more than once"):
        benchmark_names("xstest,xstest")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    revision: main\n", "    revison: main\n"), "unknown key(s) ['revison']"),
        (
            (
                "        split: train\n        files: [xstest_prompts.csv]",
                "        split: train\n        files: [x.csv]\n        sheet: 1",
            ),
            "unknown key(s) ['sheet']",
        ),
        (
            ("labels: {safe: benign, unsafe: harmful}", "labels: {safe: benign, unsafe: harmfull}"),
            "unknown side(s) ['harmfull']",
        ),
        (
            (
                "columns: {id: id, prompt: prompt, category: type, label: label}",
                "columns: {id: id, category: type, label: label}",
            ),
            "columns must map 'prompt'",
        ),
    ],
)
def test_a_bad_entry_is_one_clear_error(tmp_path, change, message):
    text = REGISTRY.read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "benchmarks.yaml"
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_registry(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_falsereject_benchmarks_lists_and_describes(capsys):
    assert main(["benchmarks"]) == 0
    out = capsys.readouterr().out
    for name in PUBLISHED:
        assert f"\n{name} " in f"\n{out}"
    assert "Paul/XSTest@main; benign 250, harmful 200; categories: text; license: CC BY 4.0" in out
    assert "harmful: - (pair: falsereject-harmful)" in out
    assert main(["benchmarks", "xstest"]) == 0
    detail = capsys.readouterr().out
    assert "label == 'safe' -> benign, label == 'unsafe' -> harmful" in detail
    assert (
        "published columns: id, prompt, type, label, focus, note" in detail and "arXiv:2308.01263" in detail
    )
    assert main(["benchmarks", "nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["benchmarks", "--json"]) == 0
    assert '"hub": "bench-llm/or-bench"' in capsys.readouterr().out
