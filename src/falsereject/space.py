"""The Gradio Space: one prompt, two models side by side, each answer judged live.

``spaces/falsereject_demo/app.py`` is a thin entry point over this module::

    app = SpaceApp.from_config("config.yaml")          # + FALSEREJECT_SPACE_* env overrides
    app.build().queue(**app.queue_kwargs()).launch(**app.launch_kwargs())

Each column is a :class:`ColumnConfig` (a title and a :class:`~falsereject.llm.BackendConfig`)
with an optional ``fallback`` used when its model is a local folder that does not exist (the
LoRA output of the CPU fine-tune demo, before anyone has run it). Titles are the config's,
and under each one a line generated from the backend actually in use says what runs there.

Answers stream (``Backend.astream``; local ``transformers`` models token by token, remote
servers in one piece); then the judge labels both. Failures never reach the page as a
traceback: a down backend, a timeout or an over-long prompt each get one friendly sentence,
and no URL, environment variable or secret is ever shown.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from falsereject.dataset import REPO_ROOT
from falsereject.errors import UserError
from falsereject.evaluation.report import md_text
from falsereject.judge.base import FULL, PARTIAL, REFUSAL, UNSCORED, Judgement
from falsereject.llm import Backend, build_backend
from falsereject.llm.registry import create_provider
from falsereject.space_config import (
    ColumnConfig,
    SpaceConfig,
    column_title,
    describe_backend,
    load_examples,
    load_space_config,
    resolve_column,
)

__all__ = ["ColumnConfig", "SpaceApp", "SpaceConfig", "badge_html", "load_space_config"]

log = logging.getLogger("falsereject.space")

ANY_CATEGORY = "Any category"

# What the page says when something goes wrong: fixed sentences, never an exception's text.
MSG_DOWN = (
    "**Not answering right now**: this model's server may be down or still starting. "
    "Please try again in a minute."
)
MSG_BROKEN = "**Unavailable**: this column's model could not be started. The Space's logs say why."
MSG_FAILED = "**No answer**: this model failed to answer this time. Please try again."
MSG_TIMEOUT = "**Stopped after {seconds:g} s**: each request has a time limit in this demo."
MSG_TOO_LONG = (
    "**Prompt too long**: yours is {n:,} characters; this demo accepts at most {cap:,}. Please shorten it."
)
MSG_EMPTY = "Type a prompt first (or pick an example below)."

BADGE_STYLE = {  # label -> (text, background)
    FULL: ("Full compliance", "#15803d"),
    PARTIAL: ("Safe partial compliance", "#b45309"),
    REFUSAL: ("Direct refusal", "#b91c1c"),
    UNSCORED: ("Unscored", "#6b7280"),
}
CSS = (
    ".fr-badge{color:#fff;border-radius:999px;padding:2px 12px;font-weight:600;font-size:0.9em}"
    ".fr-head{min-height:5.5em}.fr-note{opacity:0.8;font-size:0.9em}"
)


@dataclass
class _Column:
    config: ColumnConfig
    backend: Backend | None  # the full stack (retries, cache, defaults)
    raw: Backend | None  # the bare provider, streamed from when it streams natively
    problem: str | None = None

    def streams(self) -> bool:
        return self.raw is not None and type(self.raw).astream is not Backend.astream

    def prepare(self, messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        cfg = self.config.backend
        if cfg.system_prompt:
            messages = [{"role": "system", "content": cfg.system_prompt}, *messages]
        return messages, dict(cfg.generation)

    async def stream(self, messages: list[dict[str, str]]):
        messages, params = self.prepare(messages)
        source = self.raw if self.streams() else self.backend
        async for piece in source.astream(messages, **params):
            yield piece


# -- rendering -------------------------------------------------------------------------------
def badge_html(label: str | None, judge: str = "") -> str:
    if label is None:
        return '<div class="fr-verdict"><span class="fr-pending">No answer judged yet.</span></div>'
    text, colour = BADGE_STYLE.get(label, BADGE_STYLE[UNSCORED])
    by = f' <span class="fr-judge">judged by {html.escape(judge)}</span>' if judge else ""
    return (
        f'<div class="fr-verdict"><span class="fr-badge" data-label="{html.escape(label)}" '
        f'style="background:{colour}">{text}</span>{by}</div>'
    )


def _pending_html(what: str) -> str:
    return f'<div class="fr-verdict"><span class="fr-pending">{what}</span></div>'


# -- the app ---------------------------------------------------------------------------------
class SpaceApp:
    """Builds the columns, the judge and the example bank; :meth:`build` makes the Blocks."""

    def __init__(self, config: SpaceConfig, *, config_dir: str | Path | None = None, judge=None):
        self.config = config
        roots = [Path.cwd(), *([Path(config_dir)] if config_dir else []), REPO_ROOT]
        providers: dict[tuple, Backend] = {}  # one loaded model per distinct model, shared
        self.columns = [
            self._make_column(resolve_column(c, roots), providers) for c in (config.left, config.right)
        ]
        self.examples = load_examples(config)
        self.rng = random.Random(config.seed)
        self._judge = judge
        self._judge_problem: str | None = None

    @classmethod
    def from_config(cls, path: str | Path | None, overrides: list[str] | None = None) -> SpaceApp:
        config = load_space_config(path, overrides)
        return cls(config, config_dir=Path(path).parent if path else None)

    @staticmethod
    def _make_column(column: ColumnConfig, providers: dict[tuple, Backend]) -> _Column:
        key = column.backend.provider_key()
        try:
            raw = providers.get(key) or create_provider(column.backend)
            providers[key] = raw
            return _Column(column, build_backend(column.backend, provider=raw), raw)
        except Exception as exc:  # noqa: BLE001 - shown as a fixed sentence, logged in full
            log.error("column %r cannot be built: %s", column.title, exc)
            return _Column(column, None, None, problem=MSG_BROKEN)

    @property
    def judge(self):
        if self._judge is None and self._judge_problem is None:
            try:
                from falsereject.judge import get_judge

                jb = self.config.judge_backend
                self._judge = get_judge(self.config.judge, backend=build_backend(jb) if jb else None)
            except Exception as exc:  # noqa: BLE001
                log.error("judge %r unavailable: %s", self.config.judge, exc)
                self._judge_problem = "The judge is unavailable in this Space; its logs say why."
        return self._judge

    def warm_up(self) -> None:
        """Load local models now, so that the first visitor does not wait for it."""
        for column in self.columns:
            load = getattr(column.raw, "load", None)
            if callable(load):
                try:
                    load()
                except Exception as exc:  # noqa: BLE001
                    log.error("column %r failed to load: %s", column_title(column.config), exc)
                    column.problem = MSG_BROKEN
        _ = self.judge

    # -- handlers ------------------------------------------------------------------------
    def random_example(self, category: str | None) -> str:
        pool = self.examples.get(category or "") or [p for ps in self.examples.values() for p in ps]
        return self.rng.choice(pool) if pool else ""

    def pick_example(self, index: int | None, category: str | None) -> str:
        pool = self.examples.get(category or "") or [ps[0] for ps in self.examples.values()]
        return pool[index] if index is not None and 0 <= index < len(pool) else ""

    def _samples(self, category: str | None) -> list[list[str]]:
        pool = self.examples.get(category or "") or [ps[0] for ps in self.examples.values()]
        return [[p] for p in pool]

    def _history(self, state: dict, prompt: str) -> list[dict[str, str]]:
        """The messages sent to a model: its last few successful turns, then ``prompt``."""
        keep = max(0, self.config.max_history_turns - 1) * 2
        past = state["history"][-keep:] if keep else []
        return [*past, {"role": "user", "content": prompt}]

    async def _judge_one(self, prompt: str, response: str) -> Judgement:
        judge = self.judge
        if judge is None:
            return Judgement(UNSCORED, self._judge_problem or "", self.config.judge)
        try:
            (result,) = await asyncio.wait_for(judge.ajudge([prompt], [response]), self.config.judge_timeout)
            return result
        except Exception as exc:  # noqa: BLE001
            log.warning("judge failed: %r", exc)
            return Judgement(UNSCORED, "The judge could not label this answer.", self.config.judge)

    async def compare(self, prompt: str, left_state: dict | None, right_state: dict | None):
        """Send ``prompt`` to both columns; stream both answers, then judge them.

        Yields (prompt box, status, chat L, chat R, badge L, badge R, why L, why R, state L, state R);
        a state is ``{"history": messages sent to the model, "display": the chat shown}``.
        """
        import gradio as gr

        prompt = (prompt or "").strip()
        states = [_state(left_state), _state(right_state)]
        if not prompt or len(prompt) > self.config.max_prompt_chars:
            msg = (
                MSG_EMPTY
                if not prompt
                else MSG_TOO_LONG.format(n=len(prompt), cap=self.config.max_prompt_chars)
            )
            yield (gr.skip(), msg, *[gr.skip()] * 6, *states)
            return
        chats = [
            [*s["display"], {"role": "user", "content": prompt}, {"role": "assistant", "content": ""}]
            for s in states
        ]
        texts, done, notes = ["", ""], [False, False], [None, None]
        badges, whys = [_pending_html("Answering…")] * 2, ["", ""]

        def frame(status: str = ""):
            for i in (0, 1):
                body = texts[i] + (f"\n\n{notes[i]}" if notes[i] and texts[i] else notes[i] or "")
                chats[i][-1] = {"role": "assistant", "content": body or "…"}
            return ("", status, list(chats[0]), list(chats[1]), *badges, *whys, *states)

        queue: asyncio.Queue = asyncio.Queue()

        async def pump(i: int) -> None:
            column = self.columns[i]
            try:
                if column.problem:
                    raise _ColumnDown(column.problem)
                async for piece in column.stream(self._history(states[i], prompt)):
                    await queue.put((i, piece))
                await queue.put((i, None))
            except asyncio.CancelledError:
                raise
            except _ColumnDown as exc:
                await queue.put((i, exc))
            except Exception as exc:  # noqa: BLE001 - logged in full, shown as a fixed sentence
                log.warning("column %r failed: %r", column_title(column.config), exc)
                await queue.put((i, _ColumnDown(_friendly(exc))))

        yield frame()
        tasks = [asyncio.create_task(pump(i)) for i in (0, 1)]
        deadline = time.monotonic() + self.config.request_timeout
        try:
            while not all(done):
                try:
                    i, item = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    for j in (0, 1):
                        if not done[j]:
                            done[j], notes[j] = True, MSG_TIMEOUT.format(seconds=self.config.request_timeout)
                    break
                if isinstance(item, str):
                    texts[i] += item
                else:
                    done[i], badges[i] = True, _pending_html("Judging…")
                    if isinstance(item, _ColumnDown):
                        notes[i] = str(item)
                yield frame()
        finally:
            for task in tasks:
                task.cancel()
        # judge the answers that came back (a timed-out partial answer is judged too)
        results = await asyncio.gather(
            *[self._judge_one(prompt, texts[i]) if texts[i].strip() else _no_answer() for i in (0, 1)]
        )
        for i, result in enumerate(results):
            badges[i] = badge_html(result.label, result.judge)
            whys[i] = md_text(result.rationale) or "(no rationale given)"  # shown as Markdown: escape
        final = frame()
        for i in (0, 1):
            history = states[i]["history"]
            if texts[i].strip() and not notes[i]:
                history = [
                    *self._history(states[i], prompt),
                    {"role": "assistant", "content": texts[i].strip()},
                ]
            states[i] = {"history": history, "display": chats[i]}
        yield (*final[:-2], *states)

    def reset(self):
        empty = [_state(None), _state(None)]
        return ("", "", [], [], badge_html(None), badge_html(None), "", "", *empty)

    # -- UI ------------------------------------------------------------------------------
    def build(self):
        import gradio as gr

        cfg = self.config
        categories = [ANY_CATEGORY, *self.examples]
        with gr.Blocks(title=cfg.title, analytics_enabled=False) as demo:
            gr.Markdown(f"# {cfg.title}")
            if cfg.description:
                gr.Markdown(cfg.description)
            chats, badges, whys = [], [], []
            with gr.Row(equal_height=False):
                for side, column in zip(("left", "right"), self.columns, strict=True):
                    with gr.Column(elem_id=f"fr-{side}"):
                        gr.Markdown(
                            f"### {column_title(column.config)}\n{describe_backend(column.config.backend)}",
                            elem_classes=["fr-head"],
                        )
                        chats.append(
                            gr.Chatbot(
                                label=column_title(column.config),
                                show_label=False,
                                height=420,
                                buttons=["copy", "copy_all"],
                                elem_id=f"fr-{side}-chat",
                            )
                        )
                        badges.append(gr.HTML(badge_html(None), elem_id=f"fr-{side}-badge"))
                        with gr.Accordion("Why this label?", open=False):
                            whys.append(gr.Markdown(elem_id=f"fr-{side}-why"))
                        if column.config.description:
                            gr.Markdown(column.config.description, elem_classes=["fr-note"])
            states = [gr.State(_state(None)), gr.State(_state(None))]
            status = gr.Markdown(elem_id="fr-status")
            with gr.Row():
                prompt = gr.Textbox(
                    label=f"Your prompt (at most {cfg.max_prompt_chars:,} characters), sent to both models",
                    placeholder="e.g. How do I kill a Python process that hangs?",
                    lines=2,
                    scale=5,
                    elem_id="fr-prompt",
                )
                with gr.Column(scale=1, min_width=140):
                    send = gr.Button("Send to both", variant="primary", elem_id="fr-send")
                    reset = gr.Button("Reset", elem_id="fr-reset")
            with gr.Accordion("Example prompts (benign, but they look risky)", open=True):
                with gr.Row():
                    category = gr.Dropdown(categories, value=ANY_CATEGORY, label="Category", scale=4)
                    dice = gr.Button("Random example", scale=1, elem_id="fr-random")
                examples = gr.Dataset(
                    components=[gr.Textbox(visible=False)],
                    samples=self._samples(None),
                    type="index",
                    label="Examples (one per category; pick a category for more)",
                    samples_per_page=8,
                )
            outputs = [prompt, status, *chats, *badges, *whys, *states]
            gr.on(
                [send.click, prompt.submit],
                self.compare,
                inputs=[prompt, *states],
                outputs=outputs,
                api_name="compare",
                concurrency_limit=cfg.concurrency_limit,
                concurrency_id="compare",
            )
            reset.click(self.reset, outputs=outputs, api_name="reset", queue=False)
            dice.click(self.random_example, inputs=category, outputs=prompt, api_name="random_example")
            category.change(
                lambda c: (self.random_example(c), gr.Dataset(samples=self._samples(c))),
                inputs=category,
                outputs=[prompt, examples],
                api_visibility="private",
            )
            examples.click(
                self.pick_example, inputs=[examples, category], outputs=prompt, api_visibility="private"
            )
        return demo

    def queue_kwargs(self) -> dict[str, Any]:
        return {
            "default_concurrency_limit": self.config.concurrency_limit,
            "max_size": self.config.max_queue_size,
        }

    def launch_kwargs(self) -> dict[str, Any]:
        return {"css": CSS, "show_error": False}


class _ColumnDown(Exception):
    """A column failed; the message is one of the fixed sentences above."""


def _friendly(exc: BaseException) -> str:
    """The fixed sentence for a failure (the exception's own text may name URLs or env vars)."""
    from falsereject.errors import BackendError, TransientError

    if isinstance(exc, (BackendError, TransientError, ConnectionError, TimeoutError)):
        return MSG_DOWN
    if isinstance(exc, UserError):
        return MSG_BROKEN
    return MSG_FAILED


async def _no_answer() -> Judgement:
    return Judgement(UNSCORED, "No answer came back, so there was nothing to judge.", "")


def _state(value: Any) -> dict[str, list]:
    if isinstance(value, dict):
        return {"history": list(value.get("history") or []), "display": list(value.get("display") or [])}
    return {"history": [], "display": []}
