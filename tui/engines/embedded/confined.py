"""Run untrusted work (a GGUF's chat template) in a forked copy of this process, under a time and a
memory limit, and bring back its result.

The engine child itself must keep its whole address space (the model's mmap and, with GPU builds,
the driver's reservations), so the limit is set in a fork: RLIMIT_AS there is what the process
already maps plus `memory_bytes`, and a template that asks for more raises MemoryError in the
fork alone. The fork also ends when it runs out of time, and what it sends back is capped.
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


class LimitExceeded(Exception):
    """The work ran past its time or memory limit, or sent back too much; str() says which."""


def mapped_bytes() -> int:
    """This process's address space now (Linux: /proc/self/statm; elsewhere 0)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_confined(work: Callable[[], T], *, seconds: float, memory_bytes: int, max_result_bytes: int) -> T:
    """`work()`'s result, computed in a fork; its exceptions are raised here (as they were, where
    they pickle). Raises LimitExceeded when it takes longer than `seconds`, needs more than
    `memory_bytes` of new memory, or returns more than `max_result_bytes` pickled."""
    read_end, write_end = os.pipe()
    gc.freeze()  # The fork's collections then skip every object it inherits: fewer pages copied.
    pid = os.fork()
    if pid == 0:  # The fork: compute, send, and leave without running any of the parent's cleanup.
        os.close(read_end)
        status = 0
        try:
            mapped = mapped_bytes()
            if mapped:  # Elsewhere than Linux the time limit alone holds.
                resource.setrlimit(
                    resource.RLIMIT_AS, (mapped + memory_bytes, resource.getrlimit(resource.RLIMIT_AS)[1])
                )
            try:
                outcome: tuple[str, object] = ("ok", work())
            except MemoryError:
                outcome = ("memory", None)
            except Exception as exc:  # noqa: BLE001 - handed to the parent
                outcome = ("error", exc)
            try:
                sent = pickle.dumps(outcome)
            except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
                sent = pickle.dumps(("error", RuntimeError(str(exc))))
            if len(sent) > max_result_bytes:
                sent = pickle.dumps(("big", None))
            with os.fdopen(write_end, "wb") as out:
                out.write(sent)
        except BaseException:  # noqa: BLE001 - whatever happens, the fork must not return
            status = 1
        finally:
            os._exit(status)
    gc.unfreeze()
    os.close(write_end)
    try:
        data = _read_all(read_end, deadline=time.monotonic() + seconds, limit=max_result_bytes)
    finally:
        os.close(read_end)
        _reap(pid)
    if data is None:
        raise LimitExceeded(f"it ran for more than {seconds:g} s and was stopped")
    kind: str
    value: object
    kind, value = ("big", None) if len(data) > max_result_bytes else pickle.loads(data) if data else ("memory", None)
    if kind == "memory":  # (Nothing at all: the fork died, out of memory before it could say so.)
        raise LimitExceeded(f"it needed more than {memory_bytes >> 20} MB of memory and was stopped")
    if kind == "big":
        raise LimitExceeded(f"its output passed {max_result_bytes >> 20} MB and was stopped")
    if kind == "error":
        assert isinstance(value, BaseException)
        raise value
    return cast(T, value)


def _read_all(fd: int, *, deadline: float, limit: int) -> bytes | None:
    """Everything written to `fd` until EOF; None when the deadline passes first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:  # The fork caps itself; this guards against one that does not.
            return b"".join(chunks)


def _reap(pid: int) -> None:
    """Kill the fork if it still runs, and collect it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
