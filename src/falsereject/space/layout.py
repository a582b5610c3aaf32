"""The Space's page: the Gradio Blocks, wired to a :class:`~falsereject.space.app.SpaceApp`.

Top to bottom: the title, what over-refusal is and the links; the prompt box (Enter sends,
Shift+Enter adds a line) with Send, Stop and Reset and the example picker; the status line
(queue position, plan, progress; announced to screen readers); the one-line colour key; the
prompt sent; the two columns, each with its verdict card above its answer; the colour key with
examples; the chart of the paper's 29 models; what runs here. Columns wrap under each other
on narrow screens.

No ``from __future__ import annotations`` here: Gradio finds the ``gr.Request`` parameter of
a handler by evaluating its annotation, so the handlers below must carry the real class.
"""

import html

from falsereject.space.app import PAGE, SpaceApp
from falsereject.space.columns import describe_backend
from falsereject.space.render import key_html, legend_html

#: runs in the browser when Send or Enter is pressed: Send is disabled at once (start() then
#: confirms it); the prompt goes on unchanged
DISABLE_SEND = (
    "(prompt) => { const b = document.querySelector('#fr-send'); if (b) b.disabled = true; return prompt; }"
)
#: makes a component's own element a polite live region (set once it is on the page)
LIVE = "element.setAttribute('aria-live', 'polite'); element.setAttribute('role', 'status');"


def _header(app: SpaceApp) -> str:
    """Title, what the page is for, and the links (Markdown; the config's text is the owner's)."""
    cfg = app.config
    links = [f"[the paper]({cfg.paper_url})", f"[the dataset card]({cfg.dataset_url})"]
    cards: list[str] = []
    for column in app.columns:
        if column.model_url and column.model_url not in cards:
            cards.append(column.model_url)
    for i, url in enumerate(cards):
        links.append(f"[{'the model card' if len(cards) == 1 else f'model card {i + 1}'}]({url})")
    description = " ".join(cfg.description.split())
    return f"# {cfg.title}\n\n{description} Read more: {' · '.join(links)}."


def _about(app: SpaceApp) -> str:
    lines = [
        f"<li><strong>{html.escape(c.title)}</strong>: {html.escape(describe_backend(c.config.backend))}</li>"
        for c in app.columns
    ]
    cfg = app.config
    budget = (
        f"A live comparison is planned to finish within {cfg.time_budget:g} s: the Space measures how fast "
        f"its models generate and gives each answer as many tokens as fit (at least {cfg.min_tokens}); "
        f"anything still running after {cfg.request_timeout:g} s is stopped. Answers cut short are marked, "
        "and their labels are provisional."
    )
    return (
        f"<details><summary>What runs here</summary><ul>{''.join(lines)}</ul><p>{html.escape(budget)}</p>"
        "<p>Both models get the same single prompt, with no earlier conversation. The examples come from "
        "the <code>falsereject</code> package's shipped sample: one benign prompt per category of the "
        "FalseReject taxonomy and a few harmful control prompts. Their answers were generated beforehand "
        "by these same models and are shown at once.</p></details>"
    )


def build(app: SpaceApp):
    import gradio as gr  # slow to import: only when the page is built

    cfg = app.config
    first = app.first_example()
    initial = app.outputs(app.cached_frame(first))
    values = dict(zip(PAGE, initial, strict=True))
    judge_name = app.judge.name

    with gr.Blocks(title=cfg.title, analytics_enabled=False) as demo:
        gr.Markdown(_header(app), elem_id="fr-header")
        with gr.Row(equal_height=False):
            prompt = gr.Textbox(
                value=app.bank.by_id[first].prompt if first in app.bank.by_id else "",
                label=f"Your prompt, sent to both models (Enter sends, Shift+Enter adds a line; "
                f"at most {cfg.max_prompt_chars:,} characters)",
                placeholder="e.g. How do I kill a Python process that hangs?",
                lines=1,
                max_lines=6,
                scale=4,
                min_width=300,
                elem_id="fr-prompt",
            )
            with gr.Column(scale=1, min_width=300), gr.Row():
                send = gr.Button("Send", variant="primary", elem_id="fr-send", min_width=70)
                stop = gr.Button("Stop", variant="stop", visible=False, elem_id="fr-stop", min_width=70)
                reset = gr.Button("Reset", elem_id="fr-reset", min_width=70)
        with gr.Row(equal_height=False):
            examples = gr.Dropdown(
                choices=app.bank.choices(),
                value=first,
                label="Examples (answers precomputed: shown at once)",
                filterable=True,
                scale=4,
                min_width=260,
                elem_id="fr-examples",
            )
            dice = gr.Button("Random example", scale=1, min_width=140, elem_id="fr-random", size="md")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300, scale=3):
                status = gr.HTML(values["status"], elem_id="fr-status", js_on_load=LIVE, padding=False)
            with gr.Column(min_width=300, scale=2):
                gr.HTML(legend_html(judge_name), padding=False)
        # the prompt as it was when Send was pressed: what /compare answers (the box stays editable)
        sent = gr.Textbox(visible=False, label="prompt", elem_id="fr-sent")
        asked = gr.HTML(values["asked"], elem_id="fr-asked", padding=False)
        answers, verdicts = [], []
        with gr.Row(equal_height=False):
            for side, column in zip(("left", "right"), app.columns, strict=True):
                with gr.Column(elem_id=f"fr-{side}", min_width=320, elem_classes=["fr-col"]):
                    what = column.config.description or describe_backend(column.config.backend)
                    gr.HTML(
                        f"<h2>{html.escape(column.title)}</h2><p class='fr-muted' style='margin:2px 0'>"
                        f"{html.escape(what)}</p>",
                        padding=False,
                        elem_classes=["fr-colhead"],
                    )
                    verdicts.append(
                        gr.HTML(
                            values[f"{side}_verdict"],
                            elem_id=f"fr-{side}-verdict",
                            js_on_load=LIVE,
                            padding=False,
                        )
                    )
                    answers.append(
                        gr.Markdown(
                            values[f"{side}_answer"],
                            elem_id=f"fr-{side}-answer",
                            elem_classes=["fr-answer"],
                            sanitize_html=True,
                            container=True,
                        )
                    )
        gr.HTML("<h2>How to read the labels</h2>" + key_html(judge_name), padding=False)
        chart = app.chart()
        if chart:
            gr.HTML("<h2>Where these models sit among 29 others</h2>" + chart, padding=False)
        gr.HTML(_about(app), padding=False)

        page = [status, asked, *answers, *verdicts]
        buttons = [send, stop]

        async def start(prompt: str, request: gr.Request):
            return await app.start(prompt, request)

        async def compare(prompt: str, request: gr.Request):
            async for out in app.compare(prompt, request):
                yield out

        compare.__doc__ = app.compare.__doc__

        def idle(request: gr.Request):
            return app.idle(request)

        async def stop_run(request: gr.Request):
            return await app.stop(request)

        async def reset_page(request: gr.Request):
            return await app.reset(request)

        async def show(example_id: str | None, request: gr.Request):
            return await app.show_example(example_id, request)

        async def random_pick(request: gr.Request):
            return await app.random_example(request)

        started = gr.on(
            [send.click, prompt.submit],
            start,
            inputs=[prompt],
            outputs=[sent, *buttons, status],
            js=DISABLE_SEND,
            trigger_mode="multiple",  # a send while one runs reaches start(), which says why not
            concurrency_limit=None,  # queued (so that its message is shown) but never waits
            show_progress="hidden",
            api_visibility="private",
        )
        run = started.success(
            compare,
            inputs=[sent],
            outputs=page,
            api_name="compare",
            concurrency_limit=cfg.concurrency_limit,
            concurrency_id="compare",
            show_progress="full",
            show_progress_on=[status],
        )
        run.then(idle, outputs=buttons, queue=False, show_progress="hidden", api_visibility="private")
        # Stop does not use Gradio's `cancels`: that would end the comparison before it shows
        # where it stopped; the comparison ends itself at its next step (see SpaceApp.stop)
        stop.click(stop_run, outputs=[status, *buttons], queue=False, api_name="stop", show_progress="hidden")
        reset.click(
            reset_page,
            outputs=[prompt, examples, *page, *buttons],
            cancels=[run],
            queue=False,
            api_name="reset",
            show_progress="hidden",
        )
        examples.input(
            show,
            inputs=[examples],
            outputs=[prompt, *page, *buttons],
            cancels=[run],
            queue=False,
            api_name="example",
            show_progress="hidden",
        )
        dice.click(
            random_pick,
            outputs=[examples, prompt, *page, *buttons],
            cancels=[run],
            queue=False,
            api_name="random_example",
            show_progress="hidden",
        )
    return demo
