"""The Space's state and handlers: :class:`SpaceApp` (columns, judge, examples, cached answers,
measured speed, who is waiting) and what each button does. The Blocks are built by
:mod:`falsereject.space.layout`; ``spaces/falsereject_demo/app.py`` is a thin entry point::

    app = SpaceApp.from_config("config.yaml")          # + FALSEREJECT_SPACE_* env overrides
    app.build().queue(**app.queue_kwargs()).launch(**app.launch_kwargs())

Every handler returns the page's outputs in one order (:data:`PAGE`), made from a
:class:`~falsereject.space.compare.Frame` by :meth:`SpaceApp.outputs`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from falsereject.dataset import REPO_ROOT
from falsereject.judge import FULL, PARTIAL, REFUSAL, Judgement
from falsereject.space.budget import SpeedMeter
from falsereject.space.cached import CUT_CACHED, CachedAnswers, cache_path, column_key
from falsereject.space.chart import chart_html, measured
from falsereject.space.columns import build_columns
from falsereject.space.compare import (
    ANSWERING,
    CUT_STOPPED,
    DONE,
    JUDGING,
    Frame,
    LiveJudge,
    Side,
    compare_stream,
)
from falsereject.space.config import SpaceConfig, load_space_config
from falsereject.space.examples import ExampleBank
from falsereject.space.explain import explain, reference_note
from falsereject.space.render import answer_markdown, asked_html, status_html, verdict_html

log = logging.getLogger(__name__)

#: the page's outputs, in the order every handler returns them
PAGE = ("status", "asked", "left_answer", "right_answer", "left_verdict", "right_verdict")
NO_CACHED = "No precomputed answer from this model for this example yet: press Send to run it live."
CACHED_STATUS = (
    "Precomputed answers from these two models, judged by the same judge. Press Send to run it live."
)
WAITING_WORDS = {ANSWERING: "Answering…", JUDGING: "Judging…"}
PROBE = "Describe a sunny morning in three sentences."  # prose: it streams word by word
MAX_SESSIONS = 512


@dataclass
class _Session:
    """A visitor's comparison, from Send until it ends."""

    since: float  # when it was sent
    run: int  # which comparison of the Space it is
    started: bool = False  # it left the queue
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # Stop, Reset or an example pick
    quiet: bool = False  # stopped by Reset or an example pick: show nothing more of it


class SpaceApp:
    """The columns, judge, examples and cached answers; the handlers of the page."""

    def __init__(
        self,
        config: SpaceConfig,
        *,
        config_dir: str | Path | None = None,
        judge=None,
        cached: CachedAnswers | None = None,
    ):
        self.config = config
        self.config_dir = Path(config_dir) if config_dir else None
        roots = [Path.cwd(), *([self.config_dir] if self.config_dir else []), REPO_ROOT]
        self.columns = build_columns((config.left, config.right), roots)
        self.keys = [column_key(c.config) for c in self.columns]
        self.meters = [
            SpeedMeter(
                config.time_budget,
                config.min_tokens,
                int(c.config.backend.generation.get("max_tokens") or 256),
            )
            for c in self.columns
        ]
        self.judge = LiveJudge(config, judge)
        self.bank = ExampleBank.load(config)
        self.cache_path = cache_path(config, self.config_dir)
        self.cached = cached if cached is not None else CachedAnswers.load(self.cache_path)
        self._verdicts: dict[tuple[str, str], Judgement] = {}
        self.rng = random.Random(config.seed)
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self.runs = 0
        self.comparison_seconds: float | None = None  # running average of finished live comparisons

    @classmethod
    def from_config(cls, path: str | Path | None, overrides: list[str] | None = None) -> SpaceApp:
        config = load_space_config(path, overrides)
        return cls(config, config_dir=Path(path).parent if path else None)

    # -- start-up ---------------------------------------------------------------------------
    def warm_up(self, probe: bool = True) -> None:
        """Load local models and the judge now, and measure the models' speed with a short
        probe answer, so that the first visitor neither waits for a load nor gets a budget
        that was guessed."""
        for column in self.columns:
            column.load()
        self.judge.load()
        if probe:
            asyncio.run(self._probe())

    async def _probe(self) -> None:
        async def drain(frames):
            async with aclosing(frames):
                async for _ in frames:
                    pass

        started = time.monotonic()
        probe_meters = [SpeedMeter(self.config.time_budget, 24, 24) for _ in self.columns]
        await drain(compare_stream(self.columns, probe_meters, self.judge, self.config, PROBE))
        for meter, probe in zip(self.meters, probe_meters, strict=True):
            meter.speed = probe.speed
        log.info(
            "speed probe (%.1f s): %s; budget %s tokens",
            time.monotonic() - started,
            [
                f"{m.speed.tokens_per_s:.1f} tok/s, first after {m.speed.first_token_s:.1f} s"
                for m in self.meters
                if m.speed
            ],
            min(m.max_tokens() for m in self.meters),
        )

    # -- cached comparisons -------------------------------------------------------------------
    def cached_verdict(self, example_id: str, i: int) -> tuple[Any, Judgement | None]:
        """Column ``i``'s cached answer to an example and its label by the live judge (judged
        again when the file was judged by another judge and this one is offline)."""
        record = self.cached.get(example_id, self.keys[i])
        if record is None:
            return None, None
        key = (example_id, self.keys[i])
        if key not in self._verdicts:
            looped = record.rationale.startswith("degenerate")
            verdict = Judgement(record.label, record.rationale, record.judge, degenerate=looped)
            judge = self.judge.load()
            name = getattr(judge, "name", "")
            if judge is not None and name != record.judge and self.config.judge_backend is None:
                (verdict,) = judge.judge([record.prompt], [record.answer])
            self._verdicts[key] = verdict
        return record, self._verdicts[key]

    def cached_frame(self, example_id: str | None) -> Frame:
        """The precomputed comparison of an example (a side without one says so)."""
        example = self.bank.by_id.get(example_id or "")
        if example is None:
            return Frame(status="Pick an example or type a prompt.")
        sides = []
        for i in range(len(self.columns)):
            record, verdict = self.cached_verdict(example.id, i)
            if record is None:
                sides.append(Side(phase=DONE, problem=NO_CACHED))
            else:
                cut = CUT_CACHED.format(tokens=record.max_tokens) if record.cut else ""
                sides.append(Side(record.answer, DONE, cut=cut, tokens=record.tokens, verdict=verdict))
        return Frame(example.prompt, *sides, status=CACHED_STATUS, cached=True, example_id=example.id)

    def first_example(self) -> str | None:
        """The example shown when the page opens: the configured one, else the benign example
        that best shows what the page is about: the left column refuses and the right one
        answers (no loop), then fewest cut answers, then the first; failing that one whose
        labels differ, else the first with cached answers."""
        if self.config.first_example in self.bank.by_id:
            return self.config.first_example
        best: tuple | None = None
        for position, ex in enumerate(self.bank.examples):
            pairs = [self.cached_verdict(ex.id, i) for i in range(len(self.columns))]
            if ex.control or any(v is None for _, v in pairs):
                continue
            labels = [v.label for _, v in pairs]
            looped = any(v.degenerate for _, v in pairs)
            story = labels[0] == REFUSAL and labels[-1] in (FULL, PARTIAL) and not looped
            differ = len(set(labels)) > 1
            tier = 0 if story else 1 if differ and not looped else 2 if differ else 3
            rank = (tier, sum(r.cut for r, _ in pairs), position, ex.id)
            best = rank if best is None or rank < best else best
        if best is not None:
            return best[-1]
        return self.bank.examples[0].id if len(self.bank) else None

    def chart(self) -> str:
        """The paper's 29 models with both columns' rates on the cached benign examples."""
        points = []
        for i, column in enumerate(self.columns):
            labels = [
                v.label
                for ex in self.bank.examples
                if not ex.control and (v := self.cached_verdict(ex.id, i)[1]) is not None
            ]
            name = column.config.short or ("Left" if i == 0 else "Right")
            points.append(measured(name, labels) if len(labels) >= 10 else None)
        controls = []
        for i in range(len(self.columns)):
            verdicts = [self.cached_verdict(ex.id, i)[1] for ex in self.bank.examples if ex.control]
            verdicts = [v for v in verdicts if v is not None]
            if verdicts:
                declined = sum(v.label != "full_compliance" for v in verdicts)
                controls.append(f"{'left' if i == 0 else 'right'} {declined} of {len(verdicts)}")
        note = f"Harmful controls declined: {', '.join(controls)}." if controls else ""
        return chart_html(points, note=note)

    # -- rendering ------------------------------------------------------------------------------
    def outputs(self, frame: Frame) -> tuple:
        """A frame as the page's outputs (see PAGE)."""
        import gradio as gr  # slow to import: only when the page runs

        status = status_html(frame.status, busy=frame.busy)
        if frame.rejected:  # leave the comparison on the page as it is
            return (status, *[gr.skip()] * (len(PAGE) - 1))
        reference = self.bank.reference(frame.prompt)
        answers, verdicts = [], []
        for side in frame.sides:
            if side.text:
                answers.append(answer_markdown(side.text))
            else:
                answers.append(
                    "…" if side.phase == ANSWERING else "*(no answer)*" if side.phase == DONE else ""
                )
            verdicts.append(self._verdict(frame.prompt, side, reference))
        note = "(a precomputed example)" if frame.cached else ""
        return (status, asked_html(frame.prompt, note), *answers, *verdicts)

    def _verdict(self, prompt: str, side: Side, reference) -> str:
        if side.verdict is None:
            if side.cut == CUT_STOPPED:
                waiting = "Not judged: you stopped it."
            else:
                waiting = WAITING_WORDS.get(side.phase, "" if side.problem else "Not judged yet.")
            return verdict_html(None, waiting=waiting, problem=side.problem)
        label = side.verdict.label
        return verdict_html(
            label,
            explanation=explain(prompt, side.text, side.verdict).text,
            provisional=side.cut,
            problem=side.problem,
            reference=reference_note(reference.prompt_label if reference else None, label),
        )

    # -- who is waiting -------------------------------------------------------------------------
    def _forget_stale(self) -> None:
        horizon = time.monotonic() - 4 * (self.config.request_timeout + self.config.judge_timeout)
        for key in [k for k, s in self.sessions.items() if s.since < horizon]:
            del self.sessions[key]
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)

    def waiting_line(self, ahead: int) -> str:
        """What a visitor whose comparison was just sent is told (queue position and estimate)."""
        if ahead <= 0:
            return "Starting…"
        each = self.comparison_seconds
        if each is None:
            each = max((m.seconds_for(m.max_tokens()) or self.config.time_budget) for m in self.meters)
        slots = self.config.concurrency_limit
        wait = each * ((ahead + slots - 1) // slots)
        return (
            f"Waiting for your turn: {ahead} comparison{'s' if ahead != 1 else ''} ahead of yours "
            f"(this Space runs {slots} at a time), about {wait:.0f} s."
        )

    # -- handlers ---------------------------------------------------------------------------------
    async def start(self, prompt: str, request=None):
        """Send pressed (not queued, instant): lock the buttons and say where the visitor stands."""
        import gradio as gr

        session = getattr(request, "session_hash", None) or "-"
        self._forget_stale()
        if session in self.sessions:
            raise gr.Error(
                "Your last prompt is still being answered: press Stop first to send a new one.",
                title="Still answering",
                print_exception=False,
            )
        ahead = len(self.sessions)
        self.runs += 1
        self.sessions[session] = _Session(time.monotonic(), self.runs)
        return (
            prompt,
            gr.Button(interactive=False),
            gr.Button(visible=True),
            status_html(self.waiting_line(ahead), busy=True),
        )

    async def compare(self, prompt: str, request=None):
        """Send ``prompt`` to both models (one turn, the same budget); stream, then judge both."""
        # (this docstring is the /compare API's description; each frame goes out through outputs())
        session = getattr(request, "session_hash", None) or "-"
        state = self.sessions.get(session)
        if state is None:  # called through the API, not the page's Send: register it here
            self.runs += 1
            state = self.sessions[session] = _Session(time.monotonic(), self.runs)
        if state.stop.is_set():  # stopped while it waited in the queue
            self._end(session, state)
            return
        state.started = True
        frames = compare_stream(self.columns, self.meters, self.judge, self.config, prompt, state.stop)
        try:
            async with aclosing(frames):
                async for frame in frames:
                    if state.quiet:
                        return
                    if frame.seconds is not None:
                        old = self.comparison_seconds
                        self.comparison_seconds = frame.seconds if old is None else (old + frame.seconds) / 2
                    yield self.outputs(frame)
        finally:
            self._end(session, state)

    def _end(self, session: str, state: _Session) -> None:
        if self.sessions.get(session) is state:
            del self.sessions[session]

    def _halt(self, request, quiet: bool) -> _Session | None:
        """Stop this visitor's comparison (it ends at its next step); ``quiet``: show no more of it."""
        session = getattr(request, "session_hash", None) or "-"
        state = self.sessions.get(session)
        if state is not None:
            state.quiet = state.quiet or quiet
            state.stop.set()
            if quiet or not state.started:
                self._end(session, state)
        return state

    def idle(self, request=None):
        """After a comparison (or when none runs): Send back, Stop hidden."""
        import gradio as gr

        return gr.Button(interactive=True), gr.Button(visible=False)

    async def stop(self, request=None):
        """Stop pressed: the running comparison ends at once with what had come so far, marked
        as stopped and not judged (its own last frame says so); one still queued never runs."""
        import gradio as gr

        state = self._halt(request, quiet=False)
        if state is not None and state.started:
            return (gr.skip(), *self.idle())  # the comparison's last frame updates the page
        return (status_html("Stopped before it started."), *self.idle())

    async def reset(self, request=None):
        """Reset pressed: cancel what runs, empty the prompt box, show the first example again."""
        self._halt(request, quiet=True)
        first = self.first_example()
        return ("", first, *self.outputs(self.cached_frame(first)), *self.idle())

    async def show_example(self, example_id: str | None, request=None):
        """An example picked: its prompt in the box and its precomputed comparison, at once
        (a running comparison is cancelled)."""
        self._halt(request, quiet=True)
        example = self.bank.by_id.get(example_id or "")
        prompt = example.prompt if example else ""
        return (prompt, *self.outputs(self.cached_frame(example_id)), *self.idle())

    async def random_example(self, request=None):
        """A random example: its id (the picker shows it) and, like a pick, its comparison."""
        example_id = self.rng.choice(self.bank.examples).id if len(self.bank) else None
        return (example_id, *(await self.show_example(example_id, request)))

    # -- launching ---------------------------------------------------------------------------------
    def build(self):
        from falsereject.space.layout import build

        return build(self)

    def queue_kwargs(self) -> dict[str, Any]:
        return {
            "default_concurrency_limit": self.config.concurrency_limit,
            "max_size": self.config.max_queue_size,
        }

    def launch_kwargs(self) -> dict[str, Any]:
        from falsereject.space.render import CSS

        return {"css": CSS, "show_error": False}
