"""Absorbing keystroke floods: a paste that the terminal does not bracket (tmux `paste-buffer`
without `-p`, some SSH clients) arrives as one key event per character, 5,000 lines as ~370,000
events, each of which Textual routes and the composer edits on its own, for minutes.

The driver's input thread hands its events to a `KeyGate` instead of the app. The gate passes
them on in batches, on the event loop, and where the focus takes text it turns each run of
typed characters already waiting into one `Paste`: the composer makes one edit of it, as it does
for a bracketed paste. A key typed by hand arrives alone and goes through unchanged.

An Enter that ends a run waits until input has stopped: nothing new for a moment and no bytes
left unread on the terminal (on a loaded machine the input thread can stall mid-paste for longer
than any quiet period worth waiting for, and a stall after a line break must not send half a paste).
"""

from __future__ import annotations

import asyncio
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.driver import Driver
from textual.message import Message
from textual.widgets import Input, TextArea

HOLD_ENTER_S = 0.1
"""How long after the last input an Enter that ended a run of typed characters waits to see
whether more follow (and, while the terminal has unread input, longer): then it was a pasted
line break, else it is delivered as typed (in the composer: send). An Enter pressed on its own
is never held."""

FLOOD_BATCH_S = 0.05
"""While a flood lasts (the last batch made a paste), how long input gathers before the next
batch: each paste costs a screen update, so fewer, larger ones absorb a flood sooner."""

SEPARATORS = {"enter": "\n", "tab": "\t"}
"""Keys that are text inside a run of characters (a pasted line break or tab) and keys at its end."""


def typed_character(event: Message) -> str | None:
    """The character a key event types, or None (a named key, a modifier, not a key)."""
    if not isinstance(event, events.Key) or not event.is_printable or event.character is None:
        return None
    modifiers = event.key.split("+")[:-1]
    return event.character if not set(modifiers) - {"shift"} else None


class KeyGate:
    """Passes input events to `deliver` on the event loop, a run of typed keys as one `Paste`
    where `takes_text()` says the focus is a text field. `put` may be called from any thread."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Message], object],
        takes_text: Callable[[], bool],
        input_pending: Callable[[], bool] = lambda: False,
    ) -> None:
        """`input_pending` says whether the terminal has input not yet read (the paste goes on)."""
        self._loop = loop
        self.input_pending = input_pending
        self._deliver = deliver
        self._takes_text = takes_text
        self._lock = threading.Lock()
        self._waiting: list[Message] = []
        self._drain_scheduled = False
        self._last_put = 0.0
        self._flooding = False
        self._held: list[events.Key] = []
        """Separator keys that ended the last run (loop thread only), until the next batch or the hold ends."""
        self._hold_timer: asyncio.TimerHandle | None = None

    def put(self, event: Message) -> None:
        with self._lock:
            self._waiting.append(event)
            self._last_put = time.monotonic()
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
            flooding = self._flooding
        if flooding:
            self._loop.call_soon_threadsafe(self._loop.call_later, FLOOD_BATCH_S, self._drain)
        else:
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
            self._drain_scheduled = False
        held, self._held = self._held, []
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        if not self._takes_text():
            self._flooding = False
            for event in [*held, *batch]:
                self._deliver(event)
            return
        out, self._held = coalesce(batch, held=held)
        with self._lock:
            self._flooding = any(isinstance(event, events.Paste) for event in out)
        for event in out:
            self._deliver(event)
        if self._held:
            self._hold_timer = self._loop.call_later(HOLD_ENTER_S, self._release_held)

    def _release_held(self) -> None:
        # Timed from the input thread's last event, not from the drain: a busy loop or a
        # starved input thread must not turn a pasted line break into Enter.
        with self._lock:
            wait = self._last_put + HOLD_ENTER_S - time.monotonic()
            more = bool(self._waiting)
        if more or wait > 0 or self.input_pending():
            self._hold_timer = self._loop.call_later(max(wait, 0.01), self._release_held)
            return
        self._hold_timer = None
        held, self._held = self._held, []
        for event in held:
            self._deliver(event)


def coalesce(batch: list[Message], *, held: list[events.Key] | None = None) -> tuple[list[Message], list[events.Key]]:
    """`batch` with each run of two or more typed characters (line breaks and tabs between them
    included) made one `Paste`, and the separator keys that end the last run, to hold back.

    `held` are separator keys held back from the previous batch: text after them continues their run.
    """
    out: list[Message] = []
    run: list[str] = []
    run_keys: list[events.Key] = []
    tail: list[events.Key] = list(held or [])

    def flush() -> None:
        if len(run_keys) >= 2:
            out.append(events.Paste("".join(run)))
        else:
            out.extend(run_keys)
        run.clear()
        run_keys.clear()

    for event in batch:
        character = typed_character(event)
        if character is not None:
            if tail:  # Line breaks inside the run (or continuing the last batch's): text.
                run.extend(SEPARATORS[key.key] for key in tail)
                run_keys.extend(tail)
                tail = []
            run.append(character)
            run_keys.append(event)  # type: ignore[arg-type]  # typed_character checked it
        elif isinstance(event, events.Key) and event.key in SEPARATORS and (run_keys or tail):
            tail.append(event)
        else:
            flush()
            out.extend(tail)
            tail = []
            out.append(event)
    flush()
    return out, tail


def focus_takes_text(app: Any) -> bool:
    """Whether the focused widget is one that text can be typed into."""
    focused = app.focused
    return isinstance(focused, Input) or (isinstance(focused, TextArea) and not focused.read_only)


def unread_input(fileno: int) -> bool:
    """Whether the terminal `fileno` has input waiting to be read."""
    try:
        return bool(select.select([fileno], [], [], 0)[0])
    except (OSError, ValueError):  # Closed, or not a descriptor select takes.
        return False


def absorbing_floods(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class`, its input events passed through a `KeyGate` on their way to the app."""

    class FloodAbsorbingDriver(driver_class):  # type: ignore[valid-type, misc]
        def __init__(self, app: Any, **options: Any) -> None:
            super().__init__(app, **options)
            fileno = getattr(self, "fileno", None)  # The terminal the driver reads (not on every platform).
            self.key_gate = KeyGate(
                loop=asyncio.get_running_loop(),
                deliver=app.post_message,
                takes_text=lambda: focus_takes_text(app),
                input_pending=(lambda: unread_input(fileno)) if isinstance(fileno, int) else lambda: False,
            )

        def send_message(self, message: Message) -> None:
            self.key_gate.put(message)

    FloodAbsorbingDriver.__name__ = FloodAbsorbingDriver.__qualname__ = f"FloodAbsorbing{driver_class.__name__}"
    return FloodAbsorbingDriver
