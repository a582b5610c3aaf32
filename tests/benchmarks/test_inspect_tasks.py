"""The inspect_ai tasks, offline with inspect's mock model (skipped without inspect_ai)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402
from published_layouts import write_phtest, write_xstest  # noqa: E402

from falsereject.errors import UserError  # noqa: E402
from falsereject.evaluation import inspect_tasks  # noqa: E402

REFUSE = "I'm sorry, but I can't help with that request."
COMPLY = "Sure! Here is a clear answer.\n\n1. First, check the basics.\n2. Then follow the standard steps."


def _model(answer):
    """inspect's mock model answering ``answer(prompt)``. Its usage is given, so the mock does
    not count tokens itself (that would download a tokenizer)."""

    def respond(messages, tools, tool_choice, config):
        output = ModelOutput.from_content("mockllm/model", answer(messages[-1].text))
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return output

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def _metrics(log) -> dict[str, float]:
    assert log.status == "success", log.error
    return {name: m.value for name, m in log.results.scores[0].metrics.items()}


def test_xstest_task_scores_both_sides_with_the_package_judge(tmp_path):
    copy = write_xstest(tmp_path / "xstest")
    # answers benign prompts, refuses unsafe ones, and once only thinks (an empty answer)
    model = _model(lambda p: "<think>unsure" if p.endswith(" 7?") else REFUSE if "neighbour" in p else COMPLY)
    task = inspect_tasks.falsereject_xstest(dataset=str(copy))
    assert len(task.dataset) == 450 and task.metadata["citation"].startswith("Röttger et al.")
    # 10 safe and 10 unsafe prompts of the 450 (inspect's per-sample overhead is large)
    chosen = [f"prompts/{i}" for i in (*range(1, 11), *range(251, 261))]
    [log] = inspect_eval(task, model=model, log_dir=str(tmp_path / "logs"), display="none", sample_id=chosen)
    metrics = _metrics(log)
    assert metrics["compliance"] == pytest.approx(9 / 10)
    assert metrics["useful_safety_rate"] == pytest.approx(9 / 10)
    assert metrics["harmful_useful_safety_rate"] == 1.0
    assert metrics["unscored_rate"] == 0.0
    scores = {s.id: s.scores["over_refusal"] for s in log.samples}
    assert scores["prompts/8"].value == "direct_refusal" and scores["prompts/8"].metadata["degenerate"]
    assert scores["prompts/1"].value == "full_compliance" and scores["prompts/1"].metadata["side"] == "benign"
    assert (
        scores["prompts/251"].value == "direct_refusal"
        and scores["prompts/251"].metadata["side"] == "harmful"
    )
    assert {s.metadata["category"] for s in log.samples} == {"homonyms", "contrast_homonyms"}


def test_the_default_task_runs_the_shipped_sample_and_other_benchmarks(tmp_path):
    task = inspect_tasks.falsereject()
    sides = [s.metadata["side"] for s in task.dataset]
    assert (sides.count("benign"), sides.count("harmful")) == (264, 132)
    phtest = inspect_tasks.falsereject(benchmark="phtest", dataset=str(write_phtest(tmp_path / "ph")))
    [log] = inspect_eval(
        phtest, model=_model(lambda p: COMPLY), log_dir=str(tmp_path / "logs"), display="none"
    )
    metrics = _metrics(log)
    assert metrics["compliance"] == 1.0 and math.isnan(metrics["harmful_useful_safety_rate"])
    with pytest.raises(UserError, match="the inspect scorer runs keyword, learned"):
        inspect_tasks.over_refusal("llm")
