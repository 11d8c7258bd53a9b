"""Quitting: stop every worker (the answer in flight saves itself as interrupted), then close the services.

A cancelled worker's `wait()` raises WorkerCancelled, and Textual's own `wait_for_complete` lets
that through: awaited in the quit action, it ended lchat with a traceback. Here each worker is
waited for on its own, its cancellation expected, and the wait is bounded, so a worker stuck in a
thread (a read that never returns) cannot hold the quit for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from textual.worker import NoActiveWorker, Worker, WorkerError, get_current_worker

from tui.services import Services

SETTLE_S = 5.0
"""How long quitting waits for the cancelled workers (an answer committing itself) before closing anyway."""


async def wind_down(workers: Iterable[Worker], services: Services) -> None:
    """Cancel `workers` (all but the one quitting, if any), wait for them within SETTLE_S, then
    close the services: engines, MCP servers, the history."""
    try:
        me: Worker | None = get_current_worker()
    except NoActiveWorker:  # Quitting from a key or a signal, not from inside a worker.
        me = None
    running = [worker for worker in workers if not worker.is_finished and worker is not me]
    for worker in running:
        worker.cancel()
    if running:
        waits = [asyncio.ensure_future(_settled(worker)) for worker in running]
        _, stuck = await asyncio.wait(waits, timeout=SETTLE_S)
        for wait in stuck:
            wait.cancel()
    await services.aclose()


async def _settled(worker: Worker) -> None:
    """Wait for a worker to end, however it ends: cancelled (or failed, or never started) is
    expected when quitting."""
    try:
        await worker.wait()
    except WorkerError:
        pass
