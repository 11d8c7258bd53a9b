"""SIGTERM and SIGHUP are honoured while the event loop is busy: a process whose loop never
yields saves and leaves anyway."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.ui.exit_signals import GRACE_S

BUSY_LOOP = """
import asyncio, pathlib, sys, time
from tui.ui.exit_signals import ExitSignals

saved = pathlib.Path(sys.argv[1])

async def main() -> None:
    loop = asyncio.get_running_loop()
    signals = ExitSignals(
        loop=loop, quit_politely=lambda: saved.write_text("polite"), save=lambda: saved.write_text("saved"),
    )
    signals.install()
    print("ready", flush=True)
    if sys.argv[2] == "busy":
        while True:  # A callback that never gives the loop back, as a flood of input did.
            time.sleep(0.001)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def run_until_ready(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    saved = tmp_path / "saved"
    child = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(saved), mode], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child, saved


@pytest.mark.parametrize(("signal_number", "within"), [(signal.SIGTERM, GRACE_S + 5), (signal.SIGHUP, 5)])
def test_a_busy_loop_still_saves_and_leaves(tmp_path: Path, signal_number: int, within: float) -> None:
    child, saved = run_until_ready(tmp_path, "busy")
    started = time.monotonic()
    child.send_signal(signal_number)
    try:
        assert child.wait(timeout=within) == 128 + signal_number
    finally:
        child.kill()
    assert saved.read_text() == "saved"
    if signal_number == signal.SIGHUP:
        assert time.monotonic() - started < GRACE_S  # A hang-up does not wait for the polite quit.


def test_sigterm_asks_the_loop_first(tmp_path: Path) -> None:
    child, saved = run_until_ready(tmp_path, "idle")
    child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    polite = saved.read_text() if saved.exists() else ""
    child.wait(timeout=GRACE_S + 5)  # This script's polite quit does not quit: the deadline does.
    assert polite == "polite"
