"""One prompt to both columns: stream both answers, then judge each.

:func:`compare_stream` yields a :class:`Frame` each time the page should change: the chats
with the answers so far, then, once both are done, the judge's verdicts. A frame names what it
holds; :mod:`falsereject.space.layout` turns it into the page's outputs in one place.
A column's chat state is ``{"history": messages sent to the model, "display": the chat shown}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from falsereject.judge import get_judge
from falsereject.judge.base import UNSCORED, Judgement
from falsereject.llm import build_backend
from falsereject.space.columns import Column, ColumnDown
from falsereject.space.config import SpaceConfig

log = logging.getLogger(__name__)

# What the page says about the prompt or a slow column: fixed sentences.
MSG_TIMEOUT = "**Stopped after {seconds:g} s**: each request has a time limit in this demo."
MSG_TOO_LONG = (
    "**Prompt too long**: yours is {n:,} characters; this demo accepts at most {cap:,}. Please shorten it."
)
MSG_EMPTY = "Type a prompt first (or pick an example below)."
NOT_JUDGED = "No answer judged yet."

Messages = list[dict[str, str]]


def chat_state(value: Any = None) -> dict[str, list]:
    """A column's chat state (a fresh one for anything that is not a state)."""
    if isinstance(value, dict):
        return {"history": list(value.get("history") or []), "display": list(value.get("display") or [])}
    return {"history": [], "display": []}


def request(state: dict, prompt: str, max_history_turns: int) -> Messages:
    """The messages sent to a model: its last few successful turns, then ``prompt``."""
    keep = max(0, max_history_turns - 1) * 2
    past = state["history"][-keep:] if keep else []
    return [*past, {"role": "user", "content": prompt}]


# -- the result type -------------------------------------------------------------------------
@dataclass
class Side:
    """One column's part of a :class:`Frame`."""

    chat: Messages  # the chat shown: earlier turns, the prompt, the answer so far
    state: dict[str, list]  # the chat state to keep (see chat_state)
    waiting: str = NOT_JUDGED  # what the verdict line says while there is no verdict
    verdict: Judgement | None = None  # the judge's label of the answer, once judged


@dataclass
class Frame:
    """What the page shows at one moment of a comparison."""

    left: Side
    right: Side
    status: str = ""  # a line for the user (an empty or over-long prompt)
    rejected: bool = False  # the prompt was not sent: only the status and states are meant

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right

    @classmethod
    def cleared(cls) -> Frame:
        """The page as it starts (and after Reset): empty chats, nothing judged."""
        return cls(Side([], chat_state()), Side([], chat_state()))


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

    async def label(self, prompt: str, response: str) -> Judgement:
        if not response.strip():
            return Judgement(UNSCORED, "No answer came back, so there was nothing to judge.", "")
        judge = self.load()
        if judge is None:
            return Judgement(UNSCORED, self.problem or "", self.config.judge)
        try:
            (result,) = await asyncio.wait_for(judge.ajudge([prompt], [response]), self.config.judge_timeout)
            return result
        except Exception as exc:  # noqa: BLE001
            log.warning("judge failed: %r", exc)
            return Judgement(UNSCORED, "The judge could not label this answer.", self.config.judge)


# -- the stream ------------------------------------------------------------------------------
@dataclass
class _Answer:
    text: str = ""
    note: str | None = None  # a fixed sentence: the column failed or ran out of time
    done: bool = False
    waiting: str = "Answering…"
    verdict: Judgement | None = None

    def side(self, chat: Messages, state: dict[str, list]) -> Side:
        """This answer so far, after ``chat`` (the earlier turns and the prompt)."""
        body = f"{self.text}\n\n{self.note}" if self.note and self.text else self.text or self.note
        return Side([*chat, {"role": "assistant", "content": body or "…"}], state, self.waiting, self.verdict)


async def _pieces(
    columns: Sequence[Column], requests: Sequence[Messages], timeout: float
) -> AsyncIterator[tuple[int, str | ColumnDown | None]]:
    """Both columns' answers as they come, until both are done or ``timeout`` seconds pass:
    ``(i, piece)``, then ``(i, None)`` when column ``i`` is done or ``(i, ColumnDown)``."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(i: int) -> None:
        try:
            async for piece in columns[i].answer(requests[i]):
                await queue.put((i, piece))
            await queue.put((i, None))
        except ColumnDown as exc:
            await queue.put((i, exc))

    tasks = [asyncio.create_task(pump(i)) for i in range(len(columns))]
    running = set(range(len(columns)))
    deadline = time.monotonic() + timeout
    try:
        while running:
            try:
                i, item = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return
            if not isinstance(item, str):
                running.discard(i)
            yield i, item
    finally:
        for task in tasks:
            task.cancel()


async def compare_stream(
    columns: Sequence[Column],
    judge: LiveJudge,
    config: SpaceConfig,
    prompt: str,
    states: Sequence[Any] = (None, None),
) -> AsyncIterator[Frame]:
    """Send ``prompt`` to both columns; yield a frame per streamed piece, then the judged one."""
    prompt = (prompt or "").strip()
    states = [chat_state(s) for s in states]
    if not prompt or len(prompt) > config.max_prompt_chars:
        cap = config.max_prompt_chars
        status = MSG_TOO_LONG.format(n=len(prompt), cap=cap) if prompt else MSG_EMPTY
        yield Frame(Side([], states[0]), Side([], states[1]), status=status, rejected=True)
        return
    requests = [request(s, prompt, config.max_history_turns) for s in states]
    chats = [[*s["display"], {"role": "user", "content": prompt}] for s in states]
    answers = [_Answer(), _Answer()]

    def frame() -> Frame:
        return Frame(
            *(answer.side(chat, state) for answer, chat, state in zip(answers, chats, states, strict=True))
        )

    yield frame()
    async with aclosing(_pieces(columns, requests, config.request_timeout)) as pieces:
        async for i, item in pieces:
            if isinstance(item, str):
                answers[i].text += item
            else:
                answers[i].done, answers[i].waiting = True, "Judging…"
                if item is not None:
                    answers[i].note = str(item)
            yield frame()
    for answer in answers:
        if not answer.done:  # out of time; a partial answer is judged too
            answer.done, answer.note = True, MSG_TIMEOUT.format(seconds=config.request_timeout)
    verdicts = await asyncio.gather(*[judge.label(prompt, answer.text) for answer in answers])
    for answer, verdict in zip(answers, verdicts, strict=True):
        answer.verdict = verdict
    final = frame()
    for i, side in enumerate(final.sides):
        history = states[i]["history"]
        if answers[i].text.strip() and not answers[i].note:
            history = [*requests[i], {"role": "assistant", "content": answers[i].text.strip()}]
        side.state = {"history": history, "display": list(side.chat)}
    yield final
