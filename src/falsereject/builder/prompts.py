"""Versioned prompt templates of the builder's agents (``falsereject/prompts/builder/``).

A template file ``<name>.v<N>.txt`` holds named sections, each opened by a ``### <section>``
line (``system``, ``user``, ``repair``, or ``think.system`` ...). Optional few-shot turns
``shot<N>.user`` / ``shot<N>.assistant`` go between the system and the user message, in
order of ``N`` (the embedded 0.5B model followed worked examples given as earlier chat
turns, not ones described inside one message: see ``builders/configs/offline.yaml``). Placeholders are
``${name}`` (:class:`string.Template`), so JSON examples need no escaping. A template's
sha256 goes into its stage's folder name and into the manifest: editing a template makes
a new stage folder, and the release records exactly which prompts produced it.

Templates are named by file stem (``graph.v1``) or given as a path to your own file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template as _StrTemplate

from falsereject.errors import UserError
from falsereject.llm.base import Messages

PROMPT_DIR = Path(__file__).resolve().parents[1] / "prompts" / "builder"
_SECTION = re.compile(r"^### ([A-Za-z0-9_.-]+)\s*$", re.M)
_SHOT = re.compile(r"(.*)shot(\d+)\.user")  # (prefix, N) of a few-shot question


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    path: Path
    sections: dict[str, str]
    sha256: str

    def render(self, section: str, **values: object) -> str:
        if section not in self.sections:
            raise UserError(f"prompt template {self.path}: no section '### {section}'")
        try:
            return _StrTemplate(self.sections[section]).substitute({k: str(v) for k, v in values.items()})
        except KeyError as exc:
            raise UserError(
                f"prompt template {self.path}: section {section!r} uses unknown ${{{exc.args[0]}}}"
            ) from None

    def messages(self, prefix: str = "", **values: object) -> Messages:
        """Chat messages from ``<prefix>system``, the ``<prefix>shot<N>`` turns and ``<prefix>user``."""
        msgs = []
        if f"{prefix}system" in self.sections:
            msgs.append({"role": "system", "content": self.render(f"{prefix}system", **values)})
        for n in self.shots(prefix):
            for role in ("user", "assistant"):
                msgs.append({"role": role, "content": self.render(f"{prefix}shot{n}.{role}", **values)})
        msgs.append({"role": "user", "content": self.render(f"{prefix}user", **values)})
        return msgs

    def shots(self, prefix: str = "") -> list[int]:
        found = [_SHOT.fullmatch(k) for k in self.sections]
        return sorted(int(m.group(2)) for m in found if m and m.group(1) == prefix)

    def has(self, section: str) -> bool:
        return section in self.sections


def parse_sections(text: str, where: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    if len(parts) < 3:
        raise UserError(f"prompt template {where}: no '### <section>' lines found")
    sections = {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    for name in sections:
        m = _SHOT.fullmatch(name)
        if m and f"{m.group(1)}shot{m.group(2)}.assistant" not in sections:
            raise UserError(
                f"prompt template {where}: '### {name}' has no '### {m.group(1)}shot{m.group(2)}.assistant'"
            )
    return sections


def load_template(name: str) -> PromptTemplate:
    """Load a shipped template by stem (``generator.v1``) or any template file by path."""
    path = Path(name)
    if not (path.suffix == ".txt" and path.is_file()):
        path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        shipped = sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))
        raise UserError(f"prompt template {name!r} not found: give a file path or one of {shipped}")
    text = path.read_text(encoding="utf-8")
    return PromptTemplate(
        name=path.stem,
        path=path,
        sections=parse_sections(text, str(path)),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
