"""Cutting a growing answer into streamed pieces: shared by the local streaming providers.

A provider that decodes token by token re-decodes the whole answer so far (so multi-byte
characters and merged tokens come out right) and asks :func:`release_text` what it may send now:
text up to the last whitespace (a word at a time, as ``TextIteratorStreamer`` does), holding
back enough characters to cut a ``stop`` string cleanly, never leading whitespace, and at the
end everything but trailing whitespace. The pieces joined are the whole answer stripped, the
same text the provider's ``agenerate`` returns.
"""

from __future__ import annotations

from typing import Any


def stop_strings(params: dict[str, Any]) -> list[str]:
    """The non-empty ``stop`` strings of OpenAI-style ``params`` (one string or a list)."""
    stops = params.get("stop") or []
    return [s for s in ([stops] if isinstance(stops, str) else stops) if s]


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cut = min((text.index(s) for s in stops if s in text), default=None)
    return (text, False) if cut is None else (text[:cut], True)


def release_text(text: str, sent: int, stops: list[str], *, final: bool) -> tuple[str, int, bool]:
    """The next piece of the answer ``text`` after its first ``sent`` characters were sent.

    Returns ``(piece, sent, stopped)``: the piece to send now (maybe empty), the new count of
    characters sent, and whether a stop string ended the answer (then nothing more follows).
    ``final``: the answer is complete, send all of it.
    """
    text, stopped = cut_at_stop(text, stops)
    final = final or stopped
    hold = max((len(s) for s in stops), default=1) - 1
    last_space = max(text.rfind(" "), text.rfind("\n"))
    end = len(text.rstrip()) if final else min(last_space, len(text) - hold)
    start = max(sent, len(text) - len(text.lstrip()))  # never send leading whitespace
    if end > start:
        return text[start:end], end, stopped
    return "", sent, stopped
