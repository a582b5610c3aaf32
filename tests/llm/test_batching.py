"""The micro-batching queue shared by the local providers: batches cut by key and size."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

from falsereject.llm.batching import MicroBatcher, batch_key


class Recorder:
    """A batch function that records each batch (items, params) and answers ``item * 10``."""

    def __init__(self, fail_on: str | None = None):
        self.batches: list[tuple[list, dict]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, items: list, params: dict) -> list:
        with self.lock:
            self.batches.append((list(items), dict(params)))
        if self.fail_on is not None and params.get("mode") == self.fail_on:
            raise RuntimeError(f"batch failed for {self.fail_on}")
        return [item * 10 for item in items]


def test_batches_are_cut_by_key_and_size_in_arrival_order():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=4)

    async def main():
        params = [{"mode": "a"}] * 5 + [{"mode": "b"}] * 3
        return await asyncio.gather(*(batcher.submit(i, p) for i, p in enumerate(params)))

    assert asyncio.run(main()) == [i * 10 for i in range(8)]
    assert run.batches == [
        ([0, 1, 2, 3], {"mode": "a"}),
        ([4], {"mode": "a"}),
        ([5, 6, 7], {"mode": "b"}),
    ]


def test_the_key_is_the_params_as_sorted_json():
    assert batch_key({"a": 1, "stop": ["x"]}) == batch_key({"stop": ["x"], "a": 1})
    assert batch_key({"a": 1}) != batch_key({"a": 2})


def test_no_limit_takes_every_waiting_request_with_the_same_params():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=None)

    async def main():
        return await asyncio.gather(*(batcher.submit(i, {}) for i in range(50)))

    assert len(asyncio.run(main())) == 50 and [len(items) for items, _ in run.batches] == [50]


def test_a_failed_batch_fails_its_callers_only():
    run = Recorder(fail_on="bad")
    batcher = MicroBatcher(run, max_batch=8)

    async def main():
        good = [batcher.submit(i, {"mode": "good"}) for i in range(2)]
        bad = [batcher.submit(i, {"mode": "bad"}) for i in range(2)]
        return await asyncio.gather(*good), await asyncio.gather(*bad, return_exceptions=True)

    good, bad = asyncio.run(main())
    assert good == [0, 10]
    assert [str(e) for e in bad] == ["batch failed for bad"] * 2


def test_cancelled_requests_are_left_out_of_the_batch():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8)

    async def main():
        futures = [batcher.submit(i, {}) for i in range(4)]
        futures[1].cancel()
        return await asyncio.gather(*(futures[i] for i in (0, 2, 3)))

    assert asyncio.run(main()) == [0, 20, 30] and run.batches == [([0, 2, 3], {})]


def test_a_full_batch_does_not_wait():
    batcher = MicroBatcher(Recorder(), max_batch=2, wait_s=30.0)

    async def main():
        return await asyncio.gather(batcher.submit(1, {}), batcher.submit(2, {}))

    start = time.monotonic()
    assert asyncio.run(main()) == [10, 20]
    assert time.monotonic() - start < 10


def test_each_event_loop_has_its_own_queue():
    """Two threads share one batcher, each with a fresh loop per round (as ``generate()`` runs):
    every caller gets its own answer, and a batch never mixes two loops' requests."""
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8)
    results: dict[int, list] = {}

    def worker(base: int) -> None:
        async def one_round(first: int):
            return await asyncio.gather(*(batcher.submit(first + i, {}) for i in range(3)))

        results[base] = [x for r in range(2) for x in asyncio.run(one_round(base + 3 * r))]

    threads = [threading.Thread(target=worker, args=(base,)) for base in (0, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: [i * 10 for i in range(6)], 100: [(100 + i) * 10 for i in range(6)]}
    assert all(len({item >= 100 for item in items}) == 1 for items, _ in run.batches)


def test_a_finished_loop_is_not_kept_alive():
    batcher = MicroBatcher(Recorder(), max_batch=4)
    loop = asyncio.new_event_loop()

    async def one():
        return await batcher.submit(1, {})

    assert loop.run_until_complete(one()) == 10
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None
