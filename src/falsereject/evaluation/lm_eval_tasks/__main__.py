from falsereject.evaluation.lm_eval_tasks import TASKS_DIR

print(TASKS_DIR)
