"""A real browser on the Space: headless Chromium (Debian `chromium`) driven by Playwright.

Playwright's own browser builds are never downloaded: it drives the system Chromium through
``executable_path``. `make test-all` installs `chromium` when it is missing; without it (or
without the `playwright` package of the dev extra) these tests are skipped with the reason.
The columns are word-streaming test backends (see ``space_helpers.WordStream``), so every
check is about the page, not a model's speed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from space_helpers import HELPFUL, REFUSAL, WordStream, judged_cache, running, stream_config, use_streams

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ATTACK = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> stop it?'
BADGES = "document.querySelectorAll('#fr-left-verdict .fr-badge, #fr-right-verdict .fr-badge').length"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` on PATH: install Debian's chromium (`make test-all` does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip package `playwright` (dev extra) missing"
    )
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1366, "height": 768},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def space() -> Iterator:
    """Left refuses at once; right streams 60 words, one per 0.15 s, cut at 40."""
    words = " ".join(["Here is how to stop a hung process without losing your work"] * 6).split()[:60]
    streams = (WordStream(REFUSAL, 0.15), WordStream(" ".join(words), 0.15))

    def setup(app):
        use_streams(*streams)(app)
        app.cached = judged_cache(app, (REFUSAL, HELPFUL))

    with running(stream_config(max_tokens=40, seed=0), setup) as r:
        r.streams = streams
        yield r


def open_page(browser, url: str, width: int = 1366, height: int = 768):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector("#fr-prompt textarea", timeout=60_000)
    return page


def state(page) -> dict:
    return page.evaluate(
        """() => ({
        send_disabled: document.querySelector('#fr-send').disabled,
        stop: !!document.querySelector('#fr-stop') && document.querySelector('#fr-stop').offsetParent !== null,
        status: document.querySelector('#fr-status').innerText,
        right: document.querySelector('#fr-right-answer').innerText,
    })"""
    )


def send(page, prompt: str) -> None:
    box = page.locator("#fr-prompt textarea")
    box.fill(prompt)
    box.press("Enter")  # Enter sends
    page.wait_for_selector("#fr-stop", state="visible", timeout=20_000)
    assert page.evaluate("document.querySelector('#fr-send').disabled")


def test_first_view_is_a_judged_cached_comparison(browser, space):
    calls = [s.calls for s in space.streams]
    started = time.monotonic()
    page = open_page(browser, space.url)
    page.wait_for_function(f"{BADGES} === 2", timeout=20_000)
    shown = time.monotonic() - started
    assert shown < 15  # generous for a loaded test machine; the README states the measured time
    assert [s.calls for s in space.streams] == calls  # nothing was generated for it
    assert "Precomputed" in page.locator("#fr-status").inner_text()
    assert page.locator(".fr-key-list li").count() == 3  # the colour key, one example per class
    assert "not whether its answer is correct" in page.content()
    links = [a.get_attribute("href") for a in page.locator("#fr-header a").all()]
    assert any("arxiv.org/abs/2505.08054" in h for h in links) and any("datasets/" in h for h in links)
    # headings do not skip a level; status and verdicts are live regions
    levels = page.evaluate("Array.from(document.querySelectorAll('h1,h2,h3,h4')).map(h => +h.tagName[1])")
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    for where in ("#fr-status", "#fr-left-verdict", "#fr-right-verdict"):
        assert page.locator(f"{where} [aria-live='polite']").count() == 1
    page.close()


def test_streaming_keeps_the_prompt_box_and_user_text_is_text(browser, space):
    page = open_page(browser, space.url)
    send(page, ATTACK)
    assert state(page)["stop"]  # Send is disabled and Stop shown while it runs
    page.locator("#fr-prompt textarea").fill("my next question, typed while the answers stream")
    page.locator("#fr-prompt textarea").press("Enter")  # a second send is not dropped silently
    page.wait_for_selector("text=press Stop first to send a new one", timeout=10_000)
    page.wait_for_function(
        f"{BADGES} === 2 && document.querySelector('#fr-send').disabled === false", timeout=60_000
    )
    assert (
        page.locator("#fr-prompt textarea").input_value()
        == "my next question, typed while the answers stream"
    )
    assert "<script>window.__pwned" in page.locator("#fr-asked").inner_text()  # shown as text
    assert page.evaluate("window.__pwned") is None and page.locator("#fr-asked img").count() == 0
    right = page.locator("#fr-right-verdict").inner_text()
    assert "Provisional" in right and "cut at 40 tokens" in right  # a cut answer's label is provisional
    assert not state(page)["stop"]
    page.close()


def test_stop_cancels_and_keeps_what_came(browser, space):
    right = space.streams[1]
    page = open_page(browser, space.url)
    closed = right.closed_early
    send(page, "How do I kill a Python process that hangs?")
    page.wait_for_function(
        "document.querySelector('#fr-right-answer').innerText.split(' ').length > 4", timeout=30_000
    )
    page.locator("#fr-stop").click()
    page.wait_for_function(
        "document.querySelector('#fr-status').innerText.includes('Stopped')", timeout=10_000
    )
    time.sleep(0.6)
    sent, text = right.sent, state(page)["right"]
    time.sleep(1.0)
    assert right.sent == sent and right.closed_early == closed + 1  # the model stopped
    after = state(page)
    assert after["right"] == text and not after["send_disabled"] and not after["stop"]
    assert "you stopped it" in page.locator("#fr-right-verdict").inner_text()
    page.close()


def test_reset_cancels_and_shows_the_first_example(browser, space):
    right = space.streams[1]
    page = open_page(browser, space.url)
    closed = right.closed_early
    send(page, "How do I kill a Python process that hangs?")
    page.wait_for_function(
        "document.querySelector('#fr-right-answer').innerText.split(' ').length > 3", timeout=30_000
    )
    page.locator("#fr-reset").click()
    page.wait_for_function(
        "document.querySelector('#fr-status').innerText.includes('Precomputed')", timeout=10_000
    )
    time.sleep(1.0)
    assert right.closed_early == closed + 1
    assert page.locator("#fr-prompt textarea").input_value() == ""
    assert page.evaluate(BADGES) == 2 and not state(page)["send_disabled"]
    time.sleep(1.0)
    assert "Precomputed" in state(page)["status"]  # no late frame of the cancelled run came in
    page.close()


def test_picking_an_example_shows_it_at_once(browser, space):
    page = open_page(browser, space.url)
    calls = [s.calls for s in space.streams]
    page.locator("#fr-random").click()
    page.wait_for_timeout(1500)
    prompt = page.locator("#fr-prompt textarea").input_value()
    assert prompt and prompt in page.locator("#fr-asked").inner_text()
    assert page.evaluate(BADGES) == 2 and [s.calls for s in space.streams] == calls
    page.close()


def test_a_second_visitor_sees_the_queue(browser, space):
    first, second = open_page(browser, space.url), open_page(browser, space.url)
    send(first, "How do I kill a Python process that hangs?")
    send(second, "What is a fork bomb?")
    second.wait_for_function(
        "/Waiting for your turn|queue/.test(document.querySelector('#fr-status').innerText)", timeout=10_000
    )
    assert "ahead of yours" in state(second)["status"] or "queue" in state(second)["status"]
    second.wait_for_function(
        f"{BADGES} === 2 && document.querySelector('#fr-send').disabled === false", timeout=90_000
    )
    assert "Answered live" in state(second)["status"]
    first.close()
    second.close()


def test_usable_at_390_px(browser, space):
    page = open_page(browser, space.url, width=390, height=844)
    box = page.locator("#fr-prompt textarea").bounding_box()
    assert box["width"] >= 300 and box["y"] < 300  # the prompt is on top, full width
    left, right = (page.locator(f"#fr-{s}").bounding_box() for s in ("left", "right"))
    assert abs(left["x"] - right["x"]) < 2 and right["y"] > left["y"]  # the answers are stacked
    assert page.evaluate("document.documentElement.scrollWidth") <= 392  # no sideways scrolling
    page.close()
