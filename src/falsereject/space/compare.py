"""One prompt to both columns, as one single-turn comparison: stream both answers, judge each.

:func:`compare_stream` yields a :class:`Frame` each time the page should change: the answers so
far, then, once both are done, the judge's verdicts. Both columns always get the same single
user turn (no history), and the same token budget, chosen from the measured speed
(:mod:`falsereject.space.budget`) so that the comparison ends within the Space's time budget.
An answer stopped by that budget, or by the hard ``request_timeout``, is marked as cut, and its
label as provisional. :mod:`falsereject.space.layout` renders a frame in one place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from falsereject.judge import UNSCORED, Judgement, get_judge
from falsereject.llm import build_backend
from falsereject.space.budget import SpeedMeter, plan
from falsereject.space.columns import Column, ColumnDown
from falsereject.space.config import SpaceConfig

log = logging.getLogger(__name__)

# What the page says about the prompt or a column: fixed sentences.
MSG_TOO_LONG = (
    "Prompt too long: yours is {n:,} characters; this demo accepts at most {cap:,}. Please shorten it."
)
MSG_EMPTY = "Type a prompt first (or pick an example)."
CUT_BUDGET = "cut at {tokens:,} tokens (this Space's {seconds:g} s time budget)"
CUT_TIMEOUT = "stopped after {seconds:g} s (this Space's time limit)"
CUT_STOPPED = "you stopped this answer before it ended"

#: the page is updated at most this often while answers stream (every piece would cost the
#: server a frame to encode and the browser a render, time taken from the model on a small CPU)
FRAME_INTERVAL = 0.2

# A side's phase
WAITING, ANSWERING, JUDGING, DONE = "waiting", "answering", "judging", "done"


@dataclass
class Side:
    """One column's part of a :class:`Frame`."""

    text: str = ""  # the model's answer so far (never a message of ours)
    phase: str = WAITING
    problem: str = ""  # a fixed sentence: the column failed
    cut: str = ""  # why the answer ended early ("" = it ended by itself): the label is provisional
    tokens: int = 0
    verdict: Judgement | None = None


@dataclass
class Frame:
    """What the page shows at one moment of a comparison."""

    prompt: str = ""
    left: Side = field(default_factory=Side)
    right: Side = field(default_factory=Side)
    status: str = ""  # a line for the visitor
    rejected: bool = False  # the prompt was not sent: only the status is meant
    budget: int | None = None  # the token budget both answers got
    cached: bool = False  # a precomputed comparison, not a live one
    example_id: str | None = None
    seconds: float | None = None  # a finished live comparison's duration

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right

    @property
    def busy(self) -> bool:
        return not self.rejected and any(s.phase != DONE for s in self.sides)

    def stopped(self) -> Frame:
        """This frame after the visitor pressed Stop: unfinished answers are marked, not judged."""
        sides = [
            s if s.phase == DONE else replace(s, phase=DONE, cut=CUT_STOPPED, verdict=None)
            for s in self.sides
        ]
        return replace(
            self, left=sides[0], right=sides[1], status="Stopped: the answers end where you stopped them."
        )


# -- the judge -------------------------------------------------------------------------------
class LiveJudge:
    """The Space's judge, built on first use; when it cannot be built or fails, the answer is
    labelled unscored with a fixed sentence (the error is logged)."""

    def __init__(self, config: SpaceConfig, judge=None):
        self.config = config
        self._judge = judge
        self.problem: str | None = None

    def load(self):
        """The judge (built now if needed), or None when it cannot be built."""
        if self._judge is None and self.problem is None:
            try:
                jb = self.config.judge_backend
                self._judge = get_judge(self.config.judge, backend=build_backend(jb) if jb else None)
            except Exception as exc:  # noqa: BLE001
                log.error("judge %r unavailable: %s", self.config.judge, exc)
                self.problem = "The judge is unavailable in this Space; its logs say why."
        return self._judge

    @property
    def name(self) -> str:
        judge = self.load()
        return getattr(judge, "name", None) or self.config.judge

    async def label(self, prompt: str, response: str) -> Judgement:
        if not response.strip():
            return Judgement(UNSCORED, "No answer came back, so there was nothing to judge.", self.name)
        judge = self.load()
        if judge is None:
            return Judgement(UNSCORED, self.problem or "", self.config.judge)
        try:
            (result,) = await asyncio.wait_for(judge.ajudge([prompt], [response]), self.config.judge_timeout)
            return result
        except Exception as exc:  # noqa: BLE001
            log.warning("judge failed: %r", exc)
            return Judgement(UNSCORED, "The judge could not label this answer.", self.name)


# -- the stream ------------------------------------------------------------------------------
@dataclass
class _Timing:
    sent: float
    first: float | None = None
    last: float | None = None


async def _pieces(
    columns: Sequence[Column], prompt: str, max_tokens: int, timeout: float, stop: asyncio.Event
) -> AsyncIterator[tuple[int, str | ColumnDown | None]]:
    """Both columns' answers as they come, until both are done, ``timeout`` seconds pass or
    ``stop`` is set: ``(i, piece)``, then ``(i, None)`` when column ``i`` is done or
    ``(i, ColumnDown)``. Leaving early (a timeout, the visitor's Stop) cancels both streams."""
    queue: asyncio.Queue = asyncio.Queue()
    messages = [{"role": "user", "content": prompt}]

    async def pump(i: int) -> None:
        try:
            async for piece in columns[i].answer(messages, max_tokens=max_tokens):
                await queue.put((i, piece))
            await queue.put((i, None))
        except ColumnDown as exc:
            await queue.put((i, exc))

    tasks = [asyncio.create_task(pump(i)) for i in range(len(columns))]
    running = set(range(len(columns)))
    deadline = time.monotonic() + timeout
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while running and not stop.is_set():
            got = asyncio.ensure_future(queue.get())
            await asyncio.wait(
                {got, stopped}, timeout=max(0.0, deadline - time.monotonic()), return_when="FIRST_COMPLETED"
            )
            if not got.done():
                got.cancel()
                return
            i, item = got.result()
            if not isinstance(item, str):
                running.discard(i)
            yield i, item
    finally:
        for task in [*tasks, stopped]:
            task.cancel()
        await asyncio.gather(*tasks, stopped, return_exceptions=True)


def check_prompt(prompt: str, config: SpaceConfig) -> str:
    """ "" for a prompt that may be sent, else the sentence saying why not."""
    if not prompt:
        return MSG_EMPTY
    if len(prompt) > config.max_prompt_chars:
        return MSG_TOO_LONG.format(n=len(prompt), cap=config.max_prompt_chars)
    return ""


def _planning(tokens: int, seconds: float | None) -> str:
    if seconds is None:
        return f"Answering live (up to {tokens:,} tokens each)…"
    return f"Answering live: up to {tokens:,} tokens each, about {seconds:.0f} s at the speed measured here…"


async def compare_stream(
    columns: Sequence[Column],
    meters: Sequence[SpeedMeter],
    judge: LiveJudge,
    config: SpaceConfig,
    prompt: str,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Frame]:
    """Send ``prompt`` to both columns; yield a frame per streamed piece, then the judged one.
    Once ``stop`` is set (the visitor pressed Stop) both streams are cancelled and the last
    frame has what came so far, marked as stopped and not judged."""
    stop = stop or asyncio.Event()
    prompt = (prompt or "").strip()
    problem = check_prompt(prompt, config)
    if problem:
        yield Frame(prompt, status=problem, rejected=True)
        return
    budget, seconds = plan(list(meters))
    sides = [Side(phase=ANSWERING), Side(phase=ANSWERING)]
    started = time.monotonic()
    timings = [_Timing(started), _Timing(started)]
    status = _planning(budget, seconds)

    def frame() -> Frame:
        return Frame(prompt, *[replace(s) for s in sides], status=status, budget=budget)

    yield frame()
    shown = 0.0  # when the page was last updated
    async with aclosing(_pieces(columns, prompt, budget, config.request_timeout, stop)) as pieces:
        async for i, item in pieces:
            now = time.monotonic()
            if isinstance(item, str):
                sides[i].text += item
                timings[i].first = timings[i].first or now
                timings[i].last = now
                if now - shown < FRAME_INTERVAL and timings[i].first != now:
                    continue  # shown with the next update (the first words go out at once)
            else:
                sides[i].phase = JUDGING
                if item is not None:
                    sides[i].problem = str(item)
            shown = now
            yield frame()
    if stop.is_set():
        yield frame().stopped()
        return
    for side in sides:
        if side.phase == ANSWERING:  # out of time: a partial answer is judged, provisionally
            side.phase, side.cut = JUDGING, CUT_TIMEOUT.format(seconds=config.request_timeout)
    for side, timing, column, meter in zip(sides, timings, columns, meters, strict=True):
        side.text = side.text.strip()
        side.tokens = column.count_tokens(side.text) if side.text else 0
        if not side.cut and not side.problem and side.tokens >= budget - 1:
            side.cut = CUT_BUDGET.format(tokens=budget, seconds=config.time_budget)
        if timing.first is not None and not side.problem:
            meter.record(
                side.tokens, timing.first - timing.sent, (timing.last or timing.first) - timing.first
            )
    status = "Judging…"
    yield frame()
    verdicts = await asyncio.gather(*[judge.label(prompt, s.text) for s in sides])
    for side, verdict in zip(sides, verdicts, strict=True):
        side.verdict, side.phase = verdict, DONE
    elapsed = time.monotonic() - started
    status = f"Answered live in {elapsed:.0f} s."
    final = frame()
    final.seconds = elapsed
    yield final
