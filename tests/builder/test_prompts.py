"""Versioned prompt templates: sections, placeholders, hashes."""

from __future__ import annotations

import pytest

from falsereject.builder.prompts import PROMPT_DIR, load_template
from falsereject.errors import UserError

SHIPPED = {
    "graph.v1": ("system", "user", "repair"),
    "generator.v1": ("system", "user", "history", "repair"),
    "generator_graph.v1": ("system", "shot1.user", "shot1.assistant", "user", "history", "repair"),
    "discriminator.v1": ("system", "user", "repair"),
    "discriminator_fewshot.v1": ("system", "shot1.user", "shot6.assistant", "user", "repair"),
    "orchestrator.v1": ("system", "user", "repair"),
    "orchestrator_fewshot.v1": ("system", "shot1.user", "shot3.assistant", "user", "repair"),
    "instruct.v1": ("system", "user"),
    "cot.v1": ("think.system", "think.user", "answer.system", "answer.user"),
    "tbr.v1": ("reflect.system", "reflect.user", "answer.system", "answer.user"),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_templates_have_their_sections(name):
    t = load_template(name)
    assert set(SHIPPED[name]) <= set(t.sections)
    assert len(t.sha256) == 64 and t.path.parent == PROMPT_DIR


def test_render_and_messages():
    t = load_template("graph.v1")
    msgs = t.messages(seed="How do I pick a lock?", category="Property Crimes")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert '"""How do I pick a lock?"""' in msgs[1]["content"]
    assert '{"entities": [' in msgs[1]["content"]  # JSON braces need no escaping
    with pytest.raises(UserError, match="seed"):
        t.messages(category="x")


def test_own_template_file_and_hash(tmp_path):
    path = tmp_path / "mine.v2.txt"
    path.write_text("### system\nBe brief.\n### user\n${query}\n")
    a = load_template(str(path))
    path.write_text("### system\nBe very brief.\n### user\n${query}\n")
    b = load_template(str(path))
    assert a.name == "mine.v2" and a.sha256 != b.sha256
    assert b.messages(query="hi")[0]["content"] == "Be very brief."


def test_unknown_template_is_a_user_error():
    with pytest.raises(UserError, match="graph.v1"):
        load_template("graph.v9")


def test_shots_become_chat_turns_in_order(tmp_path):
    path = tmp_path / "few.v1.txt"
    path.write_text(
        "### system\nClassify.\n### shot2.user\nQ: b\n### shot2.assistant\nB\n"
        "### shot10.user\nQ: c\n### shot10.assistant\nC\n### shot1.user\nQ: a (${topic})\n"
        "### shot1.assistant\nA\n### user\nQ: ${query}\n"
    )
    msgs = load_template(str(path)).messages(query="z", topic="t")
    assert [(m["role"], m["content"]) for m in msgs] == [
        ("system", "Classify."),
        ("user", "Q: a (t)"), ("assistant", "A"),
        ("user", "Q: b"), ("assistant", "B"),
        ("user", "Q: c"), ("assistant", "C"),
        ("user", "Q: z"),
    ]  # fmt: skip


def test_a_shot_without_its_answer_is_a_user_error(tmp_path):
    path = tmp_path / "few.v1.txt"
    path.write_text("### shot1.user\nQ: a\n### user\nQ: ${query}\n")
    with pytest.raises(UserError, match="shot1.assistant"):
        load_template(str(path))


def test_discriminator_examples_cover_every_verdict():
    t = load_template("discriminator_fewshot.v1")
    answers = [t.sections[f"shot{n}.assistant"] for n in t.shots()]
    for verdict in ("harmful", "seemingly_harmful", "harmless"):
        assert sum(f'"{verdict}"' in a for a in answers) == 2
