"""The build's stages, one module each; the pipeline runs them in the order of its ``STAGES``.

* :mod:`.graph` (2): an entity graph per seed (the extractor agent);
* :mod:`.adversarial` (3): generator <-> discriminator rounds per attempt of a seed;
* :mod:`.validation` (4): refusal validation against the target pool;
* :mod:`.orchestrator` (5): the final validity decision;
* :mod:`.dedup` (6): exact/near duplicates and leakage, over all rows at once;
* :mod:`.responses` (7): instruct / CoT / TBR responses for the train rows.

Each module declares ``STAGE`` (a :class:`~falsereject.builder.stage.Stage`) and the record
dataclass its rows are written as; :mod:`falsereject.builder.rows` joins the records into
the release rows.
"""
