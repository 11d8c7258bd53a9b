"""Runs lchat (tui.bench.app_probe) in a pseudo-terminal: the real driver, keys typed, events read."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import selectors
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping

from tui.bench.common import PYTHON


class ProbeFailed(RuntimeError):
    """The lchat under test did not report what was expected in time."""


class PtyApp:
    """One lchat process on a pty of `size`; its screen output is read and dropped, like a
    terminal would read it, and the last few KB are kept to explain failures."""

    def __init__(self, spec: dict, env: Mapping[str, str], *, size: tuple[int, int] = (120, 40)) -> None:
        self._master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        events_r, events_w = os.pipe()
        env = dict(env, LCHAT_BENCH_FD=str(events_w))
        self.events: queue.Queue[dict] = queue.Queue()
        self.screen_tail = b""
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "tui.bench.app_probe", json.dumps(spec)],
            stdin=slave, stdout=slave, stderr=slave, pass_fds=(events_w,), env=env,
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

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def screen_text(self) -> str:
        import re

        text = self.screen_tail.decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[^\[]", "", text)[-1500:]

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
