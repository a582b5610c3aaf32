"""The Space's example prompts and the dataset's reference label of any prompt from the sample.

The examples are one benign prompt per category (the first of each in the examples config,
``test`` of the shipped sample by default) and a few genuinely harmful control prompts (the
``harmful`` config, one per category in ``control_categories``), so a visitor sees both what a
model should answer and what it should still decline. :class:`ExampleBank` also knows every
prompt of both configs, so a typed prompt that is in the sample gets its reference label too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from falsereject.dataset import normalise_prompt, row_id
from falsereject.errors import UserError
from falsereject.files import read_jsonl
from falsereject.taxonomy import category_name

log = logging.getLogger(__name__)

SOURCES = Path(__file__).parent.parent / "data" / "sources"
#: the sample's source files, read when its parquet folder cannot be (no `datasets` cache)
SOURCE_FILES = {"test": SOURCES / "test_benign.jsonl", "harmful": SOURCES / "harmful.jsonl"}
BENIGN, HARMFUL = "benign", "harmful"


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    category: int | None
    prompt_label: str  # the dataset's reference label: benign (answer it) or harmful (decline it)

    @property
    def category_text(self) -> str:
        return category_name(self.category) if self.category is not None else ""

    @property
    def control(self) -> bool:
        return self.prompt_label == HARMFUL

    @property
    def title(self) -> str:
        """How the example is listed: its category (or "harmful control") and the prompt."""
        head = "Harmful control" if self.control else f"{self.category}. {self.category_text}"
        prompt = self.prompt if len(self.prompt) <= 90 else self.prompt[:87].rstrip() + "…"
        return f"{head}: {prompt}"


def _rows(dataset: str | None, config: str, split: str) -> list[dict]:
    from falsereject.dataset import load_rows

    try:
        rows, _ = load_rows(dataset, config, split)
        return rows
    except UserError as exc:
        source = SOURCE_FILES.get(config)
        if dataset is not None or source is None or not source.is_file():
            raise
        log.info("shipped sample not readable (%s); using %s", exc, source.name)
        label = HARMFUL if config == "harmful" else BENIGN
        return [{**row, "id": row_id(row["prompt"]), "prompt_label": label} for row in read_jsonl(source)]


def _example(row: dict, default_label: str) -> Example:
    category = row.get("category")
    return Example(
        id=str(row["id"]),
        prompt=row["prompt"].strip(),
        category=int(category) if category is not None else None,
        prompt_label=str(row.get("prompt_label") or default_label),
    )


class ExampleBank:
    """The examples shown on the page and the reference label of every prompt of the sample."""

    def __init__(self, benign: list[Example], harmful: list[Example], control_categories: list[int]):
        firsts: dict[int, Example] = {}
        for ex in benign:
            if ex.category is not None and ex.prompt_label == BENIGN:
                firsts.setdefault(ex.category, ex)
        controls: list[Example] = []
        for cid in control_categories:
            pick = next((ex for ex in harmful if ex.category == cid), None)
            if pick is not None:
                controls.append(pick)
        self.examples: list[Example] = [firsts[c] for c in sorted(firsts)] + controls
        self.by_id = {ex.id: ex for ex in self.examples}
        self._reference = {normalise_prompt(ex.prompt): ex for ex in [*benign, *harmful]}

    @classmethod
    def load(cls, config) -> ExampleBank:
        """The examples of a :class:`~falsereject.space.config.SpaceConfig`."""
        benign = [
            _example(r, BENIGN)
            for r in _rows(config.examples_dataset, config.examples_config, config.examples_split)
        ]
        harmful: list[Example] = []
        if config.controls_config:
            rows = _rows(config.examples_dataset, config.controls_config, config.examples_split)
            harmful = [_example(r, HARMFUL) for r in rows]
        return cls(benign, harmful, list(config.control_categories))

    def reference(self, prompt: str) -> Example | None:
        """The sample row with this prompt (case and spacing ignored), if there is one."""
        return self._reference.get(normalise_prompt(prompt or ""))

    def choices(self) -> list[tuple[str, str]]:
        """(title, id) of each example, for the page's example picker."""
        return [(ex.title, ex.id) for ex in self.examples]

    def __len__(self) -> int:
        return len(self.examples)
