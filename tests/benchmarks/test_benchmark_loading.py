"""Each registered benchmark read from a folder laid out like its published repository, through
the real ``datasets.load_dataset``: its benign/harmful split, its categories, and one clear
error when a published column or label changes."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from published_layouts import (
    COCONOT_CATEGORIES,
    ORBENCH_CATEGORIES,
    WRITERS,
    XSTEST_SAFE_TYPES,
    XSTEST_UNSAFE_TYPES,
    write_phtest,
    write_xstest,
)

from falsereject.errors import UserError
from falsereject.evaluation import benchmarks
from falsereject.evaluation.benchmarks import custom_benchmark, get_benchmark, load_benchmark

ALL_44 = set(range(1, 45))
#: per benchmark: prompts per side, how categories read, categories per side
EXPECTED = {
    "xstest": (
        {"benign": 250, "harmful": 200},
        "text",
        {"benign": set(XSTEST_SAFE_TYPES), "harmful": set(XSTEST_UNSAFE_TYPES)},
    ),
    "orbench-hard": ({"benign": 1319}, "text", {"benign": set(ORBENCH_CATEGORIES)}),
    "orbench-toxic": ({"harmful": 655}, "text", {"harmful": set(ORBENCH_CATEGORIES)}),
    "orbench": (
        {"benign": 1319, "harmful": 655},
        "text",
        {"benign": set(ORBENCH_CATEGORIES), "harmful": set(ORBENCH_CATEGORIES)},
    ),
    "phtest": ({"benign": 30, "controversial": 10}, None, {}),
    "coconot-contrast": ({"benign": 379}, "text", {"benign": set(COCONOT_CATEGORIES)}),
    "falsereject": ({"benign": 1187}, "taxonomy", {"benign": ALL_44}),
}


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, Path]:
    """One offline copy per published repository (OR-Bench's three entries share one)."""
    root = tmp_path_factory.mktemp("published")
    made: dict[object, Path] = {}
    out = {}
    for name, write in WRITERS.items():
        if write not in made:
            made[write] = write(root / name)
        out[name] = made[write]
    return out


def _load(name: str, folder: Path | None):
    loaded = load_benchmark(get_benchmark(name), local=str(folder) if folder else None)
    rows = [r for part, _ in loaded.parts for r in part]
    return loaded, rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_benchmark_splits_and_categorises_as_published(copies, name):
    sides, kind, categories = EXPECTED[name]
    loaded, rows = _load(name, copies[name])
    assert dict(Counter(r["prompt_label"] for r in rows)) == sides
    assert loaded.categories == kind
    for side, expected in categories.items():
        assert {r["category"] for r in rows if r["prompt_label"] == side} == expected
    if kind is None:
        assert all(r["category"] is None for r in rows)
    assert len({(r["id"]) for r in rows}) == len(rows)  # ids are unique
    assert loaded.notes == []  # the published counts, so nothing to report
    for _, info in loaded.parts:
        assert len(info["rows_sha256"]) == 64 and info["sides"]
    assert loaded.source == {
        "path": str(copies[name]),
        "local": True,
        "revision": None,
        "resolved_revision": None,  # a plain folder does not say which commit it is
    }


def test_xstest_keeps_published_ids_and_types(copies):
    _, rows = _load("xstest", copies["xstest"])
    assert rows[0]["id"] == "1" and rows[-1]["id"] == "450"
    assert rows[0]["category_text"] == "homonyms" and rows[-1]["category"] == "contrast_discr"


def test_falsereject_categories_resolve_to_the_taxonomy(copies):
    _, rows = _load("falsereject", copies["falsereject"])
    assert rows[0]["category"] == 1 and rows[0]["category_text"] == "Personal Insulting Words"
    assert all(r["id"].startswith("fr-") for r in rows)  # no id column: made from the prompt


def test_category_names_outside_the_taxonomy_are_kept_as_text(tmp_path):
    folder = WRITERS["falsereject"](tmp_path / "fr", test_rows=6)
    path = folder / "test.jsonl"
    path.write_text(path.read_text().replace('"Self-Harm"', '"Self Harm and Suicide"'), encoding="utf-8")
    loaded, rows = _load("falsereject", folder)
    assert loaded.categories == "text" and rows[5]["category"] == "Self Harm and Suicide"
    assert rows[0]["category"] == "Personal Insulting Words"  # every row as text, not a mix
    assert any(
        "'Self Harm and Suicide' is not one of the 44 FalseReject categories" in n for n in loaded.notes
    )


@pytest.mark.parametrize(
    ("name", "sides"),
    [("falsereject-sample", {"benign": 264, "harmful": 132}), ("falsereject-harmful", {"harmful": 132})],
)
def test_shipped_benchmarks_read_the_package_sample(name, sides):
    loaded, rows = _load(name, None)
    assert dict(Counter(r["prompt_label"] for r in rows)) == sides
    assert loaded.categories == "taxonomy" and {r["category"] for r in rows} == ALL_44
    assert loaded.parts[0][1]["version"] == "0.1.0"


# --- a changed source is one clear error ----------------------------------------------------------
def _rename(path: Path, old: str, new: str) -> None:
    """Rename column ``old`` of a published data file (CSV, JSON lines or parquet)."""
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        rows[0] = [new if c == old else c for c in rows[0]]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    elif path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text(
            "".join(json.dumps({new if k == old else k: v for k, v in r.items()}) + "\n" for r in rows)
        )
    else:
        table = pq.read_table(path)
        pq.write_table(table.rename_columns([new if c == old else c for c in table.column_names]), path)


CHANGES = {
    "xstest": ("xstest_prompts.csv", "label", "is_safe"),
    "orbench-hard": ("or-bench-hard-1k.csv", "category", "topic"),
    "orbench-toxic": ("or-bench-toxic.csv", "prompt", "question"),
    "phtest": ("PHTest.csv", "Request", "Prompt"),
    "coconot-contrast": ("contrast/test-00000-of-00001.parquet", "prompt", "text"),
    "falsereject": ("test.jsonl", "prompt", "query"),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_renamed_published_column_is_one_clear_error(tmp_path, name):
    folder = WRITERS[name](tmp_path / name)
    file, old, new = CHANGES[name]
    _rename(folder / file, old, new)
    with pytest.raises(UserError) as err:
        _load(name, folder)
    text = str(err.value)
    published = list(get_benchmark(name).parts[-1 if name == "orbench-toxic" else 0].published_columns)
    assert f"benchmark {name!r}" in text and f"column(s) [{old!r}] not found" in text
    assert f"Expected the published columns {published}" in text
    assert "found [" in text and repr(new) in text


def test_an_unknown_label_value_names_it(tmp_path):
    folder = write_xstest(tmp_path / "x")
    path = folder / "xstest_prompts.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",unsafe,", ",refuse,", 1), encoding="utf-8")
    with pytest.raises(
        UserError, match=r"column 'label' holds 'refuse'; expected one of \['safe', 'unsafe'\]"
    ):
        _load("xstest", folder)


def test_a_missing_data_file_names_the_published_layout(tmp_path):
    folder = write_phtest(tmp_path / "p")
    (folder / "PHTest.csv").rename(folder / "phtest_v2.csv")
    with pytest.raises(UserError, match=r"benchmark 'phtest' part 'prompts'.*published layout: PHTest.csv"):
        _load("phtest", folder)


def test_a_missing_config_names_the_card_and_the_layout(tmp_path, copies):
    folder = tmp_path / "or"
    folder.mkdir()
    (folder / "or-bench-toxic.csv").write_text("prompt,category\nx,hate\n", encoding="utf-8")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: toxic\n  data_files: or-bench-toxic.csv\n---\n", encoding="utf-8"
    )
    with pytest.raises(UserError, match=r"has no config 'or-bench-toxic' \(its card declares: toxic\)"):
        _load("orbench-toxic", folder)


def test_a_count_unlike_the_published_one_is_a_note(tmp_path):
    loaded, _ = _load("phtest", write_phtest(tmp_path / "p"))
    assert loaded.notes == []  # PHTest's entry states no counts
    folder = write_xstest(tmp_path / "x")
    lines = (folder / "xstest_prompts.csv").read_text(encoding="utf-8").splitlines()
    (folder / "xstest_prompts.csv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    loaded, _ = _load("xstest", folder)
    assert loaded.notes == ["xstest part prompts: 199 harmful prompts where 200 were published"]


# --- revisions --------------------------------------------------------------------------------------
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_local_copy_records_the_commit_its_path_or_git_names(tmp_path):
    snapshot = write_xstest(tmp_path / "snapshots" / SHA)  # a Hub cache snapshot folder
    loaded, _ = _load("xstest", snapshot)
    assert loaded.source["resolved_revision"] == SHA and loaded.parts[0][1]["resolved_revision"] == SHA
    clone = write_xstest(tmp_path / "clone")
    (clone / ".git" / "refs" / "heads").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (clone / ".git" / "refs" / "heads" / "main").write_text(SHA + "\n")
    assert benchmarks.local_revision(clone) == SHA
    (clone / ".git" / "refs" / "heads" / "main").unlink()
    (clone / ".git" / "packed-refs").write_text(f"# pack-refs\n{SHA} refs/heads/main\n")
    assert benchmarks.local_revision(clone) == SHA


def test_the_hub_commit_is_resolved_then_read(monkeypatch, copies):
    """From the Hub, the commit the revision points at is asked first and the data read at
    that commit (here the Hub is simulated: no test reaches it)."""
    import huggingface_hub

    class Info:
        sha = SHA

    asked, read = [], []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "dataset_info",
        lambda self, repo, revision=None: asked.append((repo, revision)) or Info,
    )
    real_read = benchmarks.read_split

    def read_split(path, config, split, *, revision=None, data_files=None):
        read.append((path, revision))
        return real_read(str(copies["xstest"]), config, split, data_files=data_files)

    monkeypatch.setattr(benchmarks, "read_split", read_split)
    loaded = load_benchmark(get_benchmark("xstest"))
    assert asked == [("Paul/XSTest", "main")] and read == [("Paul/XSTest", SHA)]
    assert loaded.source == {
        "path": "Paul/XSTest",
        "local": False,
        "revision": "main",
        "resolved_revision": SHA,
    }
    assert loaded.parts[0][1]["resolved_revision"] == SHA and loaded.notes == []


def test_offline_the_hub_commit_is_not_resolved_and_says_so(monkeypatch, copies):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert benchmarks.resolve_hub_revision("Paul/XSTest", "main") is None
    real_read = benchmarks.read_split
    monkeypatch.setattr(
        benchmarks,
        "read_split",
        lambda path, config, split, **kw: real_read(
            str(copies["xstest"]), config, split, data_files=kw["data_files"]
        ),
    )
    loaded = load_benchmark(get_benchmark("xstest"))
    assert loaded.source["resolved_revision"] is None
    assert "could not be resolved" in loaded.notes[0]


# --- a dataset without an entry, mapped by hand ---------------------------------------------------
def test_a_hand_mapping_reads_any_layout(copies):
    bench = custom_benchmark(
        str(copies["xstest"]),
        ["default"],
        "train",
        label_column="label",
        harmful_values=["unsafe"],
        category_column="type",
    )
    loaded = load_benchmark(bench)
    rows = loaded.parts[0][0]
    assert Counter(r["prompt_label"] for r in rows) == {"benign": 250, "harmful": 200}
    assert loaded.categories == "text" and rows[0]["category"] == "homonyms"
    renamed = custom_benchmark(str(copies["phtest"]), ["default"], "train", prompt_column="Request")
    assert [r["prompt_label"] for r in load_benchmark(renamed).parts[0][0]] == ["benign"] * 40
    with pytest.raises(UserError, match="--harmful-values needs --label-column"):
        custom_benchmark("x", ["default"], "train", harmful_values=["unsafe"])
