"""The evaluation harness: generate with a model, judge, score, report, compare, rank."""

from falsereject.evaluation.harness import EvalConfig, run_eval

__all__ = ["EvalConfig", "run_eval"]
