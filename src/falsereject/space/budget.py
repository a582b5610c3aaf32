"""How many tokens an answer may have so that a comparison finishes in the Space's time budget.

The Space measures its models as they run: :meth:`SpeedMeter.record` takes one answer's
tokens, the seconds to its first piece and the seconds it then streamed for (at start-up a
short probe answer, then every live comparison). :meth:`SpeedMeter.max_tokens` turns the
measured speed into a token budget: as many tokens as fit in ``time_budget`` after the first
token, with a safety margin, at least ``min_tokens``, at most the column's own maximum. Until
anything is measured the budget is that maximum (the hard ``request_timeout`` still applies).
"""

from __future__ import annotations

from dataclasses import dataclass

#: weight of the newest measurement in the running average
ALPHA = 0.5
#: the share of the time budget planned for: the rest absorbs noise (load, longer prompts)
SAFETY = 0.85
#: answers shorter than this tell too little about the speed to be recorded
MIN_SAMPLE_TOKENS = 8


@dataclass
class Speed:
    tokens_per_s: float  # one answer's decoding speed while the comparison runs
    first_token_s: float  # seconds from sending the prompt to the first piece
    samples: int


class SpeedMeter:
    """The measured speed of one column's model, and the token budget it allows."""

    def __init__(self, time_budget: float, min_tokens: int, max_tokens: int):
        self.time_budget = float(time_budget)
        self.ceiling = int(max_tokens)
        self.min_tokens = min(int(min_tokens), self.ceiling)
        self.speed: Speed | None = None

    def record(self, tokens: int, first_token_s: float, streaming_s: float) -> None:
        """One answer: ``tokens`` in all, its first piece after ``first_token_s`` seconds, the
        rest over ``streaming_s`` seconds (0 when it came in one piece: then the whole time
        counts as decoding, which underestimates the speed, never overestimates it)."""
        if tokens < MIN_SAMPLE_TOKENS:
            return
        if streaming_s <= 0:
            rate, first = tokens / max(first_token_s, 1e-3), 0.0
        else:
            rate, first = (tokens - 1) / streaming_s, first_token_s
        old = self.speed
        if old is None:
            self.speed = Speed(rate, first, 1)
        else:
            self.speed = Speed(
                ALPHA * rate + (1 - ALPHA) * old.tokens_per_s,
                ALPHA * first + (1 - ALPHA) * old.first_token_s,
                old.samples + 1,
            )

    def max_tokens(self) -> int:
        """The token budget of the next answer (see the module's docstring)."""
        if self.speed is None:
            return self.ceiling
        usable = self.time_budget * SAFETY - self.speed.first_token_s
        fits = int(usable * self.speed.tokens_per_s)
        return max(self.min_tokens, min(self.ceiling, fits))

    def seconds_for(self, tokens: int) -> float | None:
        """About how long an answer of ``tokens`` tokens takes, once the speed is known."""
        if self.speed is None or self.speed.tokens_per_s <= 0:
            return None
        return self.speed.first_token_s + tokens / self.speed.tokens_per_s


def plan(meters: list[SpeedMeter]) -> tuple[int, float | None]:
    """One budget for a comparison (both columns get the same, so that two columns on one
    local model are generated as one batch): the smallest, and about how long it takes."""
    tokens = min(m.max_tokens() for m in meters)
    times = [m.seconds_for(tokens) for m in meters]
    known = [t for t in times if t is not None]
    return tokens, (max(known) if known and len(known) == len(times) else None)
