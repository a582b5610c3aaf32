"""The FalseReject dataset builder: graph-informed adversarial multi-agent generation.

>>> from falsereject.builder import build, load_builder_config
>>> config = load_builder_config("builders/configs/offline.yaml", ["seeds.limit=3"])
>>> # result = build(config); result.output_dir -> a folder `load_dataset(folder, "instruct")` reads

One module per stage: :mod:`~falsereject.builder.seeds`, :mod:`~falsereject.builder.graph`,
:mod:`~falsereject.builder.agents` (extractor, generator, discriminator, orchestrator),
:mod:`~falsereject.builder.validation`, :mod:`~falsereject.builder.dedup`,
:mod:`~falsereject.builder.responses`, :mod:`~falsereject.builder.splits`,
:mod:`~falsereject.builder.annotation`, :mod:`~falsereject.builder.release`; the run itself in
:mod:`~falsereject.builder.pipeline` (resumable stage stores, bounded concurrency, report).
"""

from falsereject.builder.config import BuilderConfig, load_builder_config
from falsereject.builder.pipeline import BuildResult, Pipeline, build

__all__ = ["BuildResult", "BuilderConfig", "Pipeline", "build", "load_builder_config"]
