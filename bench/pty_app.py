"""Runs lchat (bench.app_probe) in a pseudo-terminal: the real driver, keys typed, events read."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import re
import selectors
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence

from bench.common import PYTHON


def _plain(screen: bytes) -> str:
    """Terminal output without its escape sequences."""
    return re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[^\[]", "", screen.decode("utf-8", "replace"))


class ProbeFailed(RuntimeError):
    """The lchat under test did not report what was expected in time."""


class PtyApp:
    """One lchat process on a pty of `size`; its screen output is read and dropped, like a
    terminal would read it, and the last few KB are kept to explain failures."""

    def __init__(
        self,
        spec: dict,
        env: Mapping[str, str],
        *,
        size: tuple[int, int] = (120, 40),
        argv: Sequence[str] | None = None,
    ) -> None:
        """`argv` runs another program instead of lchat (the references), with no events."""
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], size[0] * 10, size[1] * 20))
        events_r, events_w = os.pipe()
        env = dict(env, LCHAT_BENCH_FD=str(events_w))
        self.events: queue.Queue[dict] = queue.Queue()
        self.screen_tail = b""
        self.screen_bytes = 0
        """Bytes the program wrote to its terminal so far."""
        self._drawn = b""
        """Everything drawn since the last `wait_text` began (only while one waits)."""
        self._watching = threading.Event()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(argv) if argv else [PYTHON, "-m", "bench.app_probe", json.dumps(spec)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            pass_fds=(events_w,),
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        os.close(events_w)
        self._events_r = events_r
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._master, selectors.EVENT_READ)
        selector.register(self._events_r, selectors.EVENT_READ)
        pending = b""
        open_fds = 2
        while open_fds:
            for key, _ in selector.select():
                try:
                    data = os.read(key.fd, 65536)
                except OSError:  # EIO: the pty's other side is closed.
                    data = b""
                if not data:
                    selector.unregister(key.fd)
                    open_fds -= 1
                elif key.fd == self._master:
                    if b"\x1b[c" in data:  # Device attributes: answer as a plain VT220-class terminal.
                        os.write(self._master, b"\x1b[?62;22c")
                    self.screen_bytes += len(data)
                    if self._watching.is_set():
                        self._drawn += data
                    self.screen_tail = (self.screen_tail + data)[-8192:]
                else:
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def wait_for(self, name: str, timeout: float = 120.0) -> dict:
        """The next event called `name` (events before it are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise ProbeFailed(f"no {name!r} within {timeout:.0f} s; screen: {self.screen_text()}") from None
            if event["event"] == name:
                return event
            if event["event"] == "exit":
                raise ProbeFailed(f"lchat exited before {name!r}; screen: {self.screen_text()}")

    def wait_quiet(self, quiet_s: float = 1.0, timeout: float = 30.0) -> None:
        """Wait until the program has drawn its first screen and stopped writing for `quiet_s`
        (a screen that keeps changing, such as a stats pane's, is waited for until `timeout`)."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProbeFailed(f"exited early; screen: {self.screen_text()}")
            if self.screen_bytes != seen:
                seen, since = self.screen_bytes, time.monotonic()
            elif seen > 0 and time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.05)
        if seen <= 0:
            raise ProbeFailed(f"nothing drawn in {timeout:.0f} s")

    def wait_text(self, text: str, timeout: float = 60.0) -> None:
        """Wait until `text` was drawn (in the last few KB of output)."""
        deadline = time.monotonic() + timeout
        self._drawn = self.screen_tail
        self._watching.set()
        try:
            while text not in _plain(self._drawn):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise ProbeFailed(f"{text!r} not drawn; screen: {self.screen_text()}")
                time.sleep(0.1)
        finally:
            self._watching.clear()
            self._drawn = b""

    def echo_s(self, char: str, timeout: float = 5.0) -> float:
        """Type `char` into an input box and time it until it is drawn; nan if not within `timeout`.

        Textual redraws only the cells that changed, so an echo is one character (and the
        cursor), not the line: each key must be a character seen nowhere else on the screen."""
        self._drawn = b""
        self._watching.set()
        wanted = char.encode()
        started = time.perf_counter()
        self.type(char)
        try:
            while wanted not in self._drawn:
                if time.perf_counter() - started > timeout:
                    return float("nan")
                time.sleep(0.0005)
            return time.perf_counter() - started
        finally:
            self._watching.clear()

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def screen_text(self) -> str:
        return _plain(self.screen_tail)[-1500:]

    def close(self, timeout: float = 15.0) -> None:
        """Quit with ctrl+q, as a user would; kill it if it does not go."""
        if self.process.poll() is None:
            try:
                self.type("\x11")
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(5)
        for fd in (self._master, self._events_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
