"""The Space's page: the Gradio Blocks, and :class:`SpaceApp` that wires them to the columns.

``spaces/falsereject_demo/app.py`` is a thin entry point over it::

    app = SpaceApp.from_config("config.yaml")          # + FALSEREJECT_SPACE_* env overrides
    app.build().queue(**app.queue_kwargs()).launch(**app.launch_kwargs())

The comparison itself is :func:`falsereject.space.compare.compare_stream`; :func:`outputs` turns
each of its frames into the values of the page's outputs, in the order :meth:`SpaceApp.build`
lists them. Gradio is imported inside the functions that need it (it takes seconds to import).
"""

from __future__ import annotations

import html
import random
from contextlib import aclosing
from pathlib import Path
from typing import Any

from falsereject.dataset import REPO_ROOT
from falsereject.evaluation.report import md_text
from falsereject.judge.base import FULL, PARTIAL, REFUSAL, UNSCORED
from falsereject.space.columns import build_columns, describe_backend
from falsereject.space.compare import NOT_JUDGED, Frame, LiveJudge, Side, chat_state, compare_stream
from falsereject.space.config import (
    SpaceConfig,
    example_list,
    load_examples,
    load_space_config,
    random_example,
)

ANY_CATEGORY = "Any category"
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


# -- rendering -------------------------------------------------------------------------------
def badge_html(label: str | None, judge: str = "") -> str:
    if label is None:
        return _pending_html(NOT_JUDGED)
    text, colour = BADGE_STYLE.get(label, BADGE_STYLE[UNSCORED])
    by = f' <span class="fr-judge">judged by {html.escape(judge)}</span>' if judge else ""
    return (
        f'<div class="fr-verdict"><span class="fr-badge" data-label="{html.escape(label)}" '
        f'style="background:{colour}">{text}</span>{by}</div>'
    )


def _pending_html(what: str) -> str:
    return f'<div class="fr-verdict"><span class="fr-pending">{what}</span></div>'


def _badge(side: Side) -> str:
    if side.verdict is None:
        return _pending_html(side.waiting)
    return badge_html(side.verdict.label, side.verdict.judge)


def _why(side: Side) -> str:
    if side.verdict is None:
        return ""
    return md_text(side.verdict.rationale) or "(no rationale given)"  # shown as Markdown: escape


def outputs(frame: Frame) -> tuple:
    """A frame as the page's outputs: prompt box, status, chats, badges, whys, states (L, R)."""
    import gradio as gr  # slow to import: only when the page runs

    sides = frame.sides
    states = [side.state for side in sides]
    if frame.rejected:  # leave the prompt box and the columns as they are
        return (gr.skip(), frame.status, *[gr.skip()] * 6, *states)
    chats = [list(side.chat) for side in sides]
    return ("", frame.status, *chats, *map(_badge, sides), *map(_why, sides), *states)


# -- the app ---------------------------------------------------------------------------------
class SpaceApp:
    """The columns, the judge and the example bank; :meth:`build` makes the Blocks."""

    def __init__(self, config: SpaceConfig, *, config_dir: str | Path | None = None, judge=None):
        self.config = config
        roots = [Path.cwd(), *([Path(config_dir)] if config_dir else []), REPO_ROOT]
        self.columns = build_columns((config.left, config.right), roots)
        self.judge = LiveJudge(config, judge)
        self.examples = load_examples(config)
        self.rng = random.Random(config.seed)

    @classmethod
    def from_config(cls, path: str | Path | None, overrides: list[str] | None = None) -> SpaceApp:
        config = load_space_config(path, overrides)
        return cls(config, config_dir=Path(path).parent if path else None)

    def warm_up(self) -> None:
        """Load local models and the judge now, so that the first visitor does not wait for it."""
        for column in self.columns:
            column.load()
        self.judge.load()

    # -- handlers ------------------------------------------------------------------------
    async def compare(self, prompt: str, left_state: dict | None, right_state: dict | None):
        """Send ``prompt`` to both columns; stream both answers, then judge them."""
        # (the docstring is the /compare API's description; each frame goes out through outputs())
        frames = compare_stream(self.columns, self.judge, self.config, prompt, (left_state, right_state))
        async with aclosing(frames):
            async for frame in frames:
                yield outputs(frame)

    def reset(self):
        return outputs(Frame.cleared())

    def random_example(self, category: str | None) -> str:
        return random_example(self.examples, category, self.rng)

    def pick_example(self, index: int | None, category: str | None) -> str:
        pool = example_list(self.examples, category)
        return pool[index] if index is not None and 0 <= index < len(pool) else ""

    def _samples(self, category: str | None) -> list[list[str]]:
        return [[p] for p in example_list(self.examples, category)]

    # -- UI ------------------------------------------------------------------------------
    def build(self):
        import gradio as gr  # slow to import: only when the page is built

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
                            f"### {column.title}\n{describe_backend(column.config.backend)}",
                            elem_classes=["fr-head"],
                        )
                        chats.append(
                            gr.Chatbot(
                                label=column.title,
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
            states = [gr.State(chat_state()), gr.State(chat_state())]
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
            # the order outputs() returns a frame in
            page = [prompt, status, *chats, *badges, *whys, *states]
            gr.on(
                [send.click, prompt.submit],
                self.compare,
                inputs=[prompt, *states],
                outputs=page,
                api_name="compare",
                concurrency_limit=cfg.concurrency_limit,
                concurrency_id="compare",
            )
            reset.click(self.reset, outputs=page, api_name="reset", queue=False)
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
