"""lm-evaluation-harness tasks for every registry benchmark (the ``lm-eval`` extra).

``python -m falsereject.evaluation.lm_eval_tasks`` prints this folder, for lm-eval's
``--include_path``::

    lm_eval --model hf --model_args pretrained=Qwen/Qwen2.5-0.5B-Instruct --apply_chat_template \
        --include_path "$(python -m falsereject.evaluation.lm_eval_tasks)" --tasks falsereject_xstest

Tasks: ``falsereject`` (the shipped sample, both sides), ``falsereject_test`` (the published
test set), ``falsereject_xstest``, ``falsereject_orbench``, ``falsereject_phtest``,
``falsereject_coconot_contrast``. A local copy of a benchmark's repository:
``--metadata '{"dataset": "/path/to/copy"}'``; the judge: ``--metadata '{"judge": "learned"}'``.
"""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
