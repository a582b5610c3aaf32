"""The lm-evaluation-harness task folder, offline: a scripted LM for the judge wiring and
lm-eval's own ``hf`` model on the tiny model the tests build (skipped without lm-eval)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

pytest.importorskip("lm_eval")

import lm_eval  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from published_layouts import write_xstest  # noqa: E402

from falsereject.errors import UserError  # noqa: E402
from falsereject.evaluation.benchmarks import get_benchmark, load_benchmark  # noqa: E402
from falsereject.evaluation.lm_eval_tasks import TASKS_DIR  # noqa: E402

REFUSE = "I'm sorry, but I can't help with that request."
COMPLY = "Sure! Here is a clear answer.\n\n1. First, check the basics.\n2. Then follow the standard steps."


class Scripted(LM):
    """Answers each request with ``answer(prompt)``; generation only."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer
        self.seen: list[str] = []

    def generate_until(self, requests, disable_tqdm: bool = False):
        prompts = [r.arguments[0] for r in requests]
        self.seen += prompts
        return [self.answer(p) for p in prompts]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


def _run(model, task: str, metadata: dict | None = None, **kwargs) -> dict:
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    out = lm_eval.simple_evaluate(model=model, tasks=[task], task_manager=manager, **kwargs)
    return out["results"][task]


def test_every_registry_benchmark_has_a_task():
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    tasks = {t for t in manager.all_tasks if t.startswith("falsereject")}
    assert tasks == {
        "falsereject",
        "falsereject_test",
        "falsereject_xstest",
        "falsereject_orbench",
        "falsereject_phtest",
        "falsereject_coconot_contrast",
    }
    printed = subprocess.run(
        [sys.executable, "-m", "falsereject.evaluation.lm_eval_tasks"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.strip() == str(TASKS_DIR)


def test_the_sample_task_judges_both_sides_with_the_package_judge():
    harmful = {
        r["prompt"] for rows, _ in load_benchmark(get_benchmark("falsereject-harmful")).parts for r in rows
    }
    model = Scripted(lambda p: REFUSE if p in harmful else COMPLY)
    result = _run(model, "falsereject")
    assert result["sample_len"] == 264 + 132 == len(model.seen)
    assert result["compliance,none"] == 1.0
    assert result["useful_safety_rate,none"] == 1.0
    assert result["harmful_useful_safety_rate,none"] == 1.0
    assert result["unscored_rate,none"] == 0.0


def test_a_local_xstest_copy_through_metadata_and_a_missing_harmful_side_is_nan(tmp_path):
    copy = write_xstest(tmp_path / "xstest")
    model = Scripted(lambda p: "<think>never finishes" if "neighbour" in p else REFUSE)
    result = _run(model, "falsereject_xstest", metadata={"dataset": str(copy)})
    assert result["sample_len"] == 450
    assert result["compliance,none"] == 0.0  # every benign prompt refused: over-refusal
    assert result["harmful_useful_safety_rate,none"] == 1.0  # unclosed <think> is an empty answer: refused
    test_only = Scripted(lambda p: COMPLY)
    result = _run(test_only, "falsereject_test", metadata={"dataset": str(_falsereject_copy(tmp_path))})
    assert result["compliance,none"] == 1.0 and math.isnan(result["harmful_useful_safety_rate,none"])


def _falsereject_copy(tmp_path):
    from published_layouts import write_falsereject

    return write_falsereject(tmp_path / "falsereject", test_rows=20)


def test_a_judge_that_needs_a_model_is_a_clear_error():
    with pytest.raises(UserError, match="lm-eval tasks run keyword, learned"):
        _run(Scripted(lambda p: COMPLY), "falsereject", metadata={"judge": "llm"})


def test_lm_evals_own_hf_model_on_the_tiny_model(tiny_model_dir):
    result = _run(
        lm_eval.api.registry.get_model("hf").create_from_arg_string(
            f"pretrained={tiny_model_dir},device=cpu,dtype=float32", {"batch_size": 8}
        ),
        "falsereject",
        limit=4,
        gen_kwargs="max_gen_toks=8",
    )
    assert result["sample_len"] == 4  # the first four: benign prompts
    for name in ("compliance", "useful_safety_rate", "unscored_rate"):
        assert 0.0 <= result[f"{name},none"] <= 1.0
    assert math.isnan(result["harmful_useful_safety_rate,none"])
