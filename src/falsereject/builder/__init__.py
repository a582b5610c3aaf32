"""The FalseReject dataset builder: graph-informed adversarial multi-agent generation.

>>> from falsereject.builder import build, load_builder_config
>>> config = load_builder_config("builders/configs/offline.yaml", ["seeds.limit=3"])
>>> # result = build(config); result.output_dir -> a folder `load_dataset(folder, "instruct")` reads

The run is :mod:`~falsereject.builder.pipeline`: it loads the seeds
(:mod:`~falsereject.builder.seeds`), runs its ``STAGES`` in order and publishes the folder
(:mod:`~falsereject.builder.release`, with :mod:`~falsereject.builder.annotation`). A stage
is a declaration (:class:`~falsereject.builder.stage.Stage`: fingerprint, items, the function
it runs, the record dataclass it writes), one module each under
:mod:`~falsereject.builder.stages`: graph, adversarial, validation, orchestrator, dedup,
responses. :mod:`~falsereject.builder.rows` joins their records into release rows and splits
them (:mod:`~falsereject.builder.splits`); :mod:`~falsereject.builder.store` and
:mod:`~falsereject.builder.runner` keep a stage resumable row by row;
:mod:`~falsereject.builder.report` counts what each stage kept.
"""

from falsereject.builder.config import BuilderConfig, load_builder_config
from falsereject.builder.pipeline import BuildResult, Pipeline, build

__all__ = ["BuildResult", "BuilderConfig", "Pipeline", "build", "load_builder_config"]
