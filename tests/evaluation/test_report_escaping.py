"""report.md, leaderboard.md and compare.md show model output and model names as text:
no markup, no extra table columns, no control or bidi-override characters."""

from __future__ import annotations

import json
import re

import pytest

from falsereject.evaluation.compare import compare
from falsereject.evaluation.leaderboard import leaderboard
from falsereject.evaluation.report import write_markdown
from falsereject.scoring import score

#: what a hostile or careless model/name can put into a report
HOSTILE = (
    "evil | extra | cols <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "**bold** _it_ `code` [link](http://x.example) ![pix](http://x.example/p.png) ~~gone~~ $x$ "
    "a\\b &amp; nul\x00 esc\x1b[31m rtl\u202egnp.exe lri\u2066x\u2069 line\nbreak\r\nend"
)
#: HOSTILE as the reader should see it: unsafe characters gone, whitespace runs one space
SHOWN = (
    "evil | extra | cols <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "**bold** _it_ `code` [link](http://x.example) ![pix](http://x.example/p.png) ~~gone~~ $x$ "
    "a\\b &amp; nul esc[31m rtlgnp.exe lrix line break end"
)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def cells(line: str) -> list[str]:
    """A GFM table row's cells: split on every ``|`` not escaped by a backslash."""
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


def to_html(markdown: str) -> str | None:
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return md.render(markdown)


def html_text(html: str) -> str:
    """The visible text of rendered HTML (tags removed, entities decoded)."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


# --- the helper --------------------------------------------------------------------------------
def test_plain_text_drops_controls_and_bidi_overrides():
    from falsereject.evaluation.report import plain_text

    assert plain_text(HOSTILE) == SHOWN
    assert plain_text("a\ud800b") == "ab"  # a lone surrogate could not even be written as UTF-8
    assert plain_text("x" * 50, 10) == "x" * 9 + "…"


def test_md_text_renders_as_exactly_its_text():
    from falsereject.evaluation.report import md_text

    out = md_text(HOSTILE)
    assert "\n" not in out and not UNSAFE.search(out)
    assert "<script" not in out and "<img" not in out
    assert len(cells(f"| {out} |")) == 1  # not one pipe splits a table cell
    html = to_html(f"| a |\n|---|\n| {out} |\n\nParagraph: {out}\n")
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "<strong>" not in html and "<em>" not in html and "<code>" not in html and "<s>" not in html
    assert html.count("<td>") == 1
    visible = html_text(html)
    assert visible.count(SHOWN) == 2  # the table cell and the paragraph both show the text


def test_md_text_keeps_ordinary_names_readable():
    from falsereject.evaluation.report import md_text

    assert md_text("Qwen2.5-Coder-0.5B-Instruct") == "Qwen2.5-Coder-0.5B-Instruct"
    assert md_text("compliance_rate") == "compliance_rate"  # an in-word _ starts no emphasis


@pytest.mark.parametrize(
    ("value", "shown"),
    [("keyword-v2", "keyword-v2"), ("a`b", "a`b"), ("``x", "``x"), ("<b>|", "<b>|"), ("x\x00\u202ey", "xy")],
)
def test_md_code_is_one_code_span_of_the_text(value, shown):
    from falsereject.evaluation.report import md_code

    html = to_html(f"Judge: {md_code(value)}")
    assert html.count("<code>") == 1 and "<b>" not in html
    assert html_text(html).strip() == f"Judge: {shown}"


# --- report.md -----------------------------------------------------------------------------------
def _records(prompt: str, response: str, n: int = 4) -> list[dict]:
    return [
        {
            "id": f"r{i}",
            "config": "test",
            "prompt": f"{prompt} #{i}",
            "category": 1 + i % 2,
            "prompt_label": "benign",
            "response": response,
            "label": "direct_refusal" if i % 2 else "full_compliance",
            "rationale": "r",
            "degenerate": False,
        }
        for i in range(n)
    ]


def _report(name: str, records: list[dict], **extra) -> dict:
    return {
        "model": {"name": name, "note": None},
        "datasets": [{"path": "sample", "config": "test", "split": "test", "rows": len(records)}],
        "generation": {"max_tokens": 8, "temperature": 0.0},
        "judge": {"name": "keyword-v2", "kind": "keyword"},
        "n": len(records),
        "scores": score(records, n_boot=20, seed=0),
        "timings": {"generation_s": 1.0, "judge_s": 0.1, "responses_per_s": 4.0},
        **extra,
    }


def test_report_md_shows_model_output_and_name_as_text(tmp_path):
    records = _records(HOSTILE, HOSTILE)
    name = "m|x <script>s()</script> $\\frac$ \u202eevil"  # $\frac$ once crashed the chart's title
    name_shown = "m|x <script>s()</script> $\\frac$ evil"
    path = write_markdown(_report(name, records), records, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert not UNSAFE.search(text) and "<script" not in text and "<img" not in text
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    title = text.splitlines()[0]
    assert html_text(to_html(title)).strip() == "Over-refusal report: " + name_shown
    refused = [line for line in text.splitlines() if line.startswith("- **")]
    assert len(refused) == 2
    html = to_html(refused[0])
    assert "<script" not in html and "<a " not in html and "<img" not in html
    prompt_shown = html_text(html).split(" — ")[0].strip()
    assert prompt_shown == f"{SHOWN} #1"
    assert html.count("<strong>") == 1 and html.count("<em>") == 1  # only the report's own markup
    header = next(line for line in text.splitlines() if line.startswith("| category |"))
    for line in text.splitlines():
        if line.startswith("| 1. ") or line.startswith("| 2. "):
            assert len(cells(line)) == len(cells(header))


def test_report_md_states_how_many_prompts_a_limited_run_evaluated(tmp_path):
    records = _records("p", "I can't help with that.")
    text = write_markdown(_report("m", records, limit=4, n_evaluated=4), records, tmp_path).read_text()
    assert "Evaluated 4 prompts (limit 4)" in text

    from falsereject.evaluation.report import evaluated_line

    # wherever the count and the limit are kept, and with only the limit recorded
    nested = _report("m", records, selection={"limit": 10, "n_evaluated": 4})
    assert evaluated_line(nested) == "Evaluated 4 prompts (limit 10)"
    assert evaluated_line(_report("m", records, limit=4)) == "Evaluated 4 prompts (limit 4)"
    assert evaluated_line(_report("m", records, n_evaluated=4)) == "Evaluated 4 prompts"
    identity = {"identity": {"prompts": {"limit": 10, "count": 7}}}
    assert evaluated_line(_report("m", records, **identity)) == "Evaluated 7 prompts (limit 10)"
    unlimited = {"prompts": {"limit": None, "count": 4}}  # a limit above the prompts available
    assert evaluated_line(_report("m", records, **unlimited)) is None
    assert evaluated_line({**_report("m", records), "model": {"name": "m", "limit": 3}}) is None
    # reports from before the count was recorded render as before
    old = write_markdown(_report("m", records), records, tmp_path).read_text()
    assert "Evaluated" not in old and evaluated_line(_report("m", records, limit=None)) is None


# --- leaderboard.md and compare.md ----------------------------------------------------------------
def _run(folder, name: str, records: list[dict], judge: str = "keyword-v2"):
    folder.mkdir(parents=True)
    report = _report(name, records)
    report["judge"]["name"] = judge
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    with open(folder / "responses.jsonl", "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return folder


def test_leaderboard_md_keeps_one_column_per_field(tmp_path):
    evil = "org/model | 9.999 | fake <script>x()</script>\x00\u202e$\\frac$"
    runs = [
        _run(tmp_path / "a", evil, _records("p", "ok"), judge="llm-v1:judge|<b>x</b>"),
        _run(tmp_path / "b", "plain-model", _records("p", "ok")),
    ]
    paths = leaderboard(runs, tmp_path / "lb")  # the chart's tick labels once crashed on $\frac$
    lines = paths["markdown"].read_text(encoding="utf-8").splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("| ") and lines[i + 1].startswith("|---")]
    assert len(tables) == 2  # the merged table and the benchmark's ranked table
    for start in tables:
        end = next((k for k in range(start, len(lines)) if not lines[k].startswith("|")), len(lines))
        body = lines[start:end]
        assert len(body) == 4 and all(len(cells(line)) == len(cells(body[0])) for line in body)
    assert len(cells(lines[tables[1]])) == 9
    text = "\n".join(lines)
    assert not UNSAFE.search(text) and "<script" not in text and "<b>" not in text
    html = to_html(text)
    ranked = html[html.index("<th>rank</th>") :]
    row = next(r for r in re.findall(r"<tr>.*?</tr>", ranked, re.S) if "org/model" in r)
    tds = [html_text(td) for td in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert (
        tds[1] == "org/model | 9.999 | fake <script>x()</script>$\\frac$"
        and tds[8] == "llm-v1:judge|<b>x</b>"
    )
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    assert evil in paths["csv"].read_text(encoding="utf-8")  # the CSV keeps the data as it is


def test_compare_md_shows_prompts_and_names_as_text(tmp_path):
    a = _run(tmp_path / "a", "base|<i>x</i>", _records(HOSTILE, "no"))
    b_records = _records(HOSTILE, "yes")
    for r in b_records:
        r["label"] = "full_compliance"
    b = _run(tmp_path / "b", "tuned\u202e", b_records)
    text = compare(a, b)["markdown"]
    assert not UNSAFE.search(text) and "<script" not in text and "<i>" not in text
    html = to_html(text)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert html_text(to_html(text.splitlines()[0])).strip() == "tuned vs base|<i>x</i>"
    fixed = [line for line in text.splitlines() if line.startswith("- [benign]")]
    assert len(fixed) == 2
    assert html_text(to_html(fixed[0])).strip() == f"[benign] {SHOWN} #1 — direct_refusal -> full_compliance"
    for line in text.splitlines():
        if line.startswith("| "):
            assert len(cells(line)) in (3, 5)
