"""SIGTERM and SIGHUP, honoured even while the event loop is busy.

asyncio's signal handlers run on the loop's next turn, which a busy loop (a flood of input, a
slow render) may not reach for minutes. These are plain Python handlers: they run in the main
thread between any two bytecodes. The saving itself happens on a thread of its own, which takes
the store's lock between two of the loop's store operations, never inside one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

GRACE_S = 3.0
"""How long a polite quit (SIGTERM) may take before lchat saves and leaves without the event loop."""

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class ExitSignals:
    """SIGTERM asks `quit_politely` on the loop (as ctrl+q does) and, should that not be done
    within `GRACE_S`, saves with `save` and leaves; SIGHUP (the terminal is gone, so nothing
    more can be shown) saves and leaves at once. `save` must not need the event loop."""

    def __init__(
        self, *, loop: asyncio.AbstractEventLoop, quit_politely: Callable[[], object], save: Callable[[], object]
    ) -> None:
        self._loop = loop
        self._quit_politely = quit_politely
        self._save = save
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        for signal_number in HANDLED:
            self._previous[signal_number] = signal.signal(signal_number, self._on_signal)

    def uninstall(self) -> None:
        """Put the previous handlers back and call off a pending forced exit (the polite one is done)."""
        if self._timer is not None:
            self._timer.cancel()
        for signal_number, previous in self._previous.items():
            signal.signal(signal_number, previous)
        self._previous.clear()

    def _on_signal(self, signal_number: int, _frame: FrameType | None) -> None:
        if signal_number == signal.SIGTERM and self._timer is None:
            self._loop.call_soon_threadsafe(self._quit_politely)
            self._timer = threading.Timer(GRACE_S, self.leave, args=(signal_number,))
        else:  # A hang-up, or a second SIGTERM: the user means it.
            self._timer = threading.Timer(0, self.leave, args=(signal_number,))
        self._timer.daemon = True
        self._timer.start()

    def leave(self, signal_number: int) -> None:
        """Save, then end the process at once (no loop, no terminal needed)."""
        try:
            self._save()
        except BaseException:
            logger.exception("saving on signal %s failed", signal_number)
        finally:
            os._exit(128 + signal_number)
