"""The onnx provider's scheduler on a scripted model: turns, spreading over workers, ends."""

from __future__ import annotations

import threading
import time

from falsereject.llm.onnx_stepping import Request, Stepper

EOS = 0


class ScriptedGenerator:
    """Yields ``tokens`` one per step (a short sleep each), then is done."""

    def __init__(self, tokens: list[int], log: list[tuple[str, int]], name: int):
        self.tokens, self.log, self.name, self.i = tokens, log, name, 0

    def generate_next_token(self) -> None:
        time.sleep(0.002)
        self.log.append((threading.current_thread().name, self.name))
        self.i += 1

    def get_next_tokens(self) -> list[int]:
        return [self.tokens[self.i - 1]]

    def is_done(self) -> bool:
        return self.i >= len(self.tokens)


class ScriptedModel:
    eos_ids = frozenset({EOS})

    def __init__(self):
        self.log: list[tuple[str, int]] = []

    def load(self):
        return self

    def start(self, request: Request) -> ScriptedGenerator:
        if request.params.get("fail"):
            raise ValueError("cannot start this one")
        return ScriptedGenerator(request.params["tokens"], self.log, request.prompt[0])


def _submit(stepper: Stepper, name: int, **params) -> dict:
    got: dict = {"tokens": [], "done": threading.Event()}

    def on_end(outcome):
        got["end"] = outcome
        got["done"].set()

    request = Request([name], params, None, lambda t: got["tokens"].append(t) or True, on_end)
    got["request"] = request
    stepper.submit(request)
    return got


def test_requests_spread_over_the_workers_and_each_ends_once():
    model = ScriptedModel()
    stepper = Stepper(model, max_active=8, workers=2)
    runs = [_submit(stepper, n, tokens=list(range(1, 21))) for n in range(4)]
    assert all(r["done"].wait(10) for r in runs)
    assert [r["end"] for r in runs] == ["length"] * 4 and all(r["tokens"] == list(range(1, 21)) for r in runs)
    by_worker: dict[str, set[int]] = {}
    for worker, name in model.log:
        by_worker.setdefault(worker, set()).add(name)
    assert sorted(len(v) for v in by_worker.values()) == [2, 2]  # two requests on each worker


def test_at_most_max_active_live_and_the_rest_wait():
    model = ScriptedModel()
    stepper = Stepper(model, max_active=2, workers=2)
    runs = [_submit(stepper, n, tokens=[5] * 10) for n in range(5)]
    assert all(r["done"].wait(10) for r in runs)
    first_step = {name: model.log.index(next(e for e in model.log if e[1] == name)) for name in range(5)}
    last_step = {
        name: len(model.log) - 1 - model.log[::-1].index(next(e for e in model.log if e[1] == name))
        for name in range(5)
    }
    live = [sum(first_step[n] <= i <= last_step[n] for n in range(5)) for i in range(len(model.log))]
    assert max(live) <= 2


def test_eos_a_refusing_callback_cancel_and_a_failed_start_each_end_their_request():
    model = ScriptedModel()
    stepper = Stepper(model, max_active=4, workers=1)
    eos = _submit(stepper, 1, tokens=[7, 8, EOS, 9])
    failed = _submit(stepper, 2, fail=True)
    long = _submit(stepper, 3, tokens=[1] * 10_000)
    assert eos["done"].wait(10) and failed["done"].wait(10)
    assert eos["end"] == "stop" and eos["tokens"] == [7, 8]
    assert isinstance(failed["end"], ValueError)
    long["request"].cancelled.set()
    assert long["done"].wait(10) and long["end"] == "cancelled" and len(long["tokens"]) < 10_000

    got: list[int] = []
    done = threading.Event()
    outcome = {}
    stop_after_two = Request(
        [4],
        {"tokens": [1, 2, 3, 4]},
        None,
        lambda t: got.append(t) or len(got) < 2,
        lambda o: outcome.update(end=o) or done.set(),
    )
    stepper.submit(stop_after_two)
    assert done.wait(10) and outcome["end"] == "stop" and got == [1, 2]


def test_idle_workers_end_and_start_again_on_demand(monkeypatch):
    from falsereject.llm import onnx_stepping

    monkeypatch.setattr(onnx_stepping, "IDLE_S", 0.05)
    model = ScriptedModel()
    stepper = Stepper(model, max_active=2, workers=2)
    assert _submit(stepper, 1, tokens=[1, 2])["done"].wait(10)
    deadline = time.monotonic() + 5
    while stepper._live and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stepper._live == {}  # no thread left waiting
    assert _submit(stepper, 2, tokens=[3])["done"].wait(10)
