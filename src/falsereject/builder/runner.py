"""Running one stage: every pending row in flight (up to a bound), a progress bar, records on disk.

``rows_in_flight`` workers pull rows from one queue; each row's LLM calls pass the global
:class:`~falsereject.llm.ConcurrencyLimit`, so all rows of a stage keep the configured
number of calls in flight (not row by row). A row ends in one record:

* ``ok`` — the stage's output: ``fn(item)`` returns its :class:`~falsereject.builder.stage.Record`;
* ``dropped`` — an agent gave no usable output or the row failed the stage's test
  (:class:`AgentOutputError`); the reason is logged and stored, the run goes on;
* no record — an unexpected error (e.g. a server that stays down): logged and counted; a
  rerun retries the row. Past ``max_errors`` such rows the stage stops with a clear message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from falsereject.builder.backends import ROW_METER
from falsereject.builder.parsing import AgentOutputError
from falsereject.builder.stage import Record
from falsereject.builder.store import StageStore
from falsereject.errors import UserError
from falsereject.llm import UsageCounters

log = logging.getLogger("falsereject.builder")


@dataclass
class StageRun:
    name: str
    total: int
    done_before: int
    processed: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    drop_reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0


async def run_stage(
    store: StageStore,
    items: list[tuple[str, Any]],
    fn: Callable[[Any], Awaitable[Record]],
    *,
    workers: int,
    progress: bool = True,
    max_errors: int = 50,
) -> StageRun:
    """Run ``fn`` on every ``(key, item)`` with no record yet; append each result to ``store``."""
    pending = [(k, it) for k, it in items if k not in store.done]
    run = StageRun(store.name, total=len(items), done_before=len(items) - len(pending))
    if not pending:
        return run
    start = time.perf_counter()
    queue = iter(pending)
    stop = False
    bar = tqdm(
        total=len(items),
        initial=run.done_before,
        desc=f"{store.name:>12}",
        unit="row",
        disable=not progress,
        dynamic_ncols=True,
        mininterval=0.5,
    )

    async def worker() -> None:
        nonlocal stop
        for key, item in queue:
            if stop:
                return
            meter = UsageCounters()
            token = ROW_METER.set(meter)
            try:
                line = {"status": "ok", **(await fn(item)).to_json()}
            except AgentOutputError as exc:
                line = {**exc.extra, "status": "dropped", "reason": exc.reason, "detail": exc.detail[:500]}
                log.info("%s: dropped %s: %s", store.name, key, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad row never stops the run
                run.errors += 1
                if len(run.error_samples) < 5:
                    run.error_samples.append(f"{key}: {type(exc).__name__}: {str(exc)[:300]}")
                log.warning(
                    "%s: %s failed (%s: %s); a rerun retries it", store.name, key, type(exc).__name__, exc
                )
                if run.errors > max_errors:
                    stop = True
                continue
            finally:
                ROW_METER.reset(token)
            line = {"key": key, **line, "usage": meter.as_dict()}
            if line["status"] == "dropped":
                run.drop_reasons[line["reason"]] += 1
            store.append(line)
            run.processed += 1
            bar.update()

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(pending))))))
    finally:
        bar.close()
        run.seconds = time.perf_counter() - start
    if stop:
        raise UserError(
            f"stage {store.name}: {run.errors} rows failed (e.g. {run.error_samples[0]}); stopped. "
            "Finished rows are kept; fix the cause (server up? model name?) and rerun to resume"
        )
    return run
