"""The peer of the streaming-cost row: oterm, installed into a virtualenv of its own and driven by keys."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import cache_dir, lchat_env
from bench.ollama_double import MODEL, OllamaDouble
from bench.pty_app import PtyApp

VERSION = "0.26.1"


@dataclass
class Oterm:
    """Where oterm is installed, or why it is not."""

    command: Path | None
    note: str = ""

    @property
    def ready(self) -> bool:
        return self.command is not None


def install(log: Callable[[str], None]) -> Oterm:
    """oterm VERSION in ~/.cache/lchat/bench/oterm-venv (made once; pip's ordinary client)."""
    venv = cache_dir() / "oterm-venv"
    command = venv / "bin" / "oterm"
    marker = venv / f".oterm-{VERSION}"
    if marker.exists() and command.exists():
        return Oterm(command)
    log(f"  installing oterm {VERSION} into {venv} ...")
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True, timeout=120
        )
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"oterm=={VERSION}"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        reason = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(error)]
        log(f"  oterm not installed: {reason[0][:200]}")
        return Oterm(None, f"skipped, could not be installed ({reason[0][:80]})")
    marker.touch()
    return Oterm(command)


def run(
    oterm: Oterm,
    double: OllamaDouble,
    size: tuple[int, int],
    tokens: int,
    measure: Callable[[PtyApp, OllamaDouble, Callable[[PtyApp], None], int], dict],
) -> dict:
    """Start oterm on the double, open a chat with its model, and measure one answer."""
    assert oterm.command is not None
    with tempfile.TemporaryDirectory(prefix="oterm-bench-") as tmp:
        data = Path(tmp)
        (data / "config.json").write_text(json.dumps({"splash-screen": False}))
        env = lchat_env(OLLAMA_HOST=double.host_port, OTERM_DATA_DIR=str(data), HOME=tmp)
        subprocess.run(
            [str(oterm.command.parent / "python"), "-c", _NEW_CHAT, MODEL, "1" if double.state.reasoning else ""],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        with PtyApp({}, env, size=size, argv=[str(oterm.command)]) as app:
            app.wait_text("model: ", timeout=120)
            app.wait_quiet()
            return measure(app, double, ask, tokens)


_NEW_CHAT = """
import asyncio, sys
from oterm.store.store import Store
from oterm.types import ChatModel
async def main():
    store = await Store.get_store()
    await store.save_chat(ChatModel(name="bench", model=sys.argv[1], provider="ollama", thinking=bool(sys.argv[2])))
asyncio.run(main())
"""
"""A saved chat with the double's model (thinking on for a thinking model), made with oterm's own
store: oterm opens on it, prompt focused."""


def ask(app: PtyApp) -> None:
    app.type("Write a long answer with a list and code.")
    time.sleep(0.3)
    app.type("\r")
