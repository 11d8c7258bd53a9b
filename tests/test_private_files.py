"""What lchat writes is the owner's alone from the first byte, and what it prints to a terminal
cannot steer it.

Each check runs under umask 022 (the usual default), where a plain open() makes a file others
can read.
"""

from __future__ import annotations

import os
import pty
import select
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_files import write_tiny_llama
from tui.config.paths import Paths, resolve_paths
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.embedded.engine import EmbeddedEngine
from tui.portable import export_files
from tui.store import HistoryStore
from tui.store import backup as backup_module

HOSTILE = "the answer \x1b]52;c;cHduZWQ=\x07 and \x1b[2J\u202e done"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def history(paths: Paths) -> int:
    with HistoryStore.open(paths.database) as store:
        conversation = store.create_conversation(title="hostile")
        store.add_message(conversation.id, Role.USER, "hi")
        store.add_message(conversation.id, Role.ASSISTANT, HOSTILE)
    return conversation.id


def lchat(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, timeout=120, **kwargs)


def test_existing_lchat_folders_are_tightened(lchat_home: Path, tmp_path: Path) -> None:
    paths = resolve_paths()
    shared = tmp_path / "shared-models"
    shared.mkdir(mode=0o755)
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir, paths.backups_dir):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)
    paths.models_dir.symlink_to(shared)  # a models folder shared on purpose
    paths.create()
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir, paths.backups_dir):
        assert mode(folder) == 0o700, folder
    assert mode(shared) == 0o755  # followed by no chmod


def test_exports_are_created_private(paths: Paths, history: int, tmp_path: Path) -> None:
    out = tmp_path / "out.md"
    result = lchat("export", str(history), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert mode(out) == 0o600 and HOSTILE in out.read_text()  # a file gets the text exactly
    with HistoryStore.open(paths.database) as store:
        written = export_files(store, history, tmp_path / "exports")
    assert [mode(p) for p in written] == [0o600, 0o600] and mode(tmp_path / "exports") == 0o700


def test_a_backups_partial_file_is_private_before_anything_is_written(
    paths: Paths, history: int, tmp_path: Path, monkeypatch
) -> None:
    seen: list[tuple[int, int]] = []
    real_connect = sqlite3.connect

    class Watching:
        """A connection that notes the partial file's mode and size when VACUUM INTO starts."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, sql: str, *args):
            if sql.startswith("VACUUM INTO"):
                partial = Path(args[0][0])
                seen.append((mode(partial), partial.stat().st_size))
            return self._conn.execute(sql, *args)

        def __getattr__(self, name: str):
            return getattr(self._conn, name)

    monkeypatch.setattr(backup_module.sqlite3, "connect", lambda *a, **k: Watching(real_connect(*a, **k)))
    facts = backup_module.backup(paths.database, tmp_path / "b.db")
    assert seen == [(0o600, 0)]  # private and empty before the first byte of history went in
    assert mode(facts.path) == 0o600 and facts.conversations == 1


async def test_engine_log_is_created_private(paths: Paths) -> None:
    model = write_tiny_llama(paths.models_dir / "tiny.gguf")
    engine = EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=512, log_path=paths.log_dir / "engine.log")
    try:
        [e async for e in engine.chat(str(model), [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=2))]
    finally:
        await engine.aclose()
    assert mode(paths.log_dir / "engine.log") == 0o600


def test_export_to_a_terminal_is_made_safe_and_to_a_pipe_is_exact(paths: Paths, history: int) -> None:
    piped = lchat("export", str(history), "--format", "md")
    assert piped.returncode == 0 and HOSTILE.encode() in piped.stdout
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "export", str(history), "--format", "md"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        shown = b""
        while True:
            ready, _, _ = select.select([primary], [], [], 60)
            assert ready, "no output"
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the writer closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=60) == 0
    finally:
        os.close(primary)
    text = shown.decode()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "the answer ␛]52;c;cHduZWQ=␇ and ␛[2J" in text
