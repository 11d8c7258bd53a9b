"""Hostile-input matrix, the command-line rows: import file, restore file, config value.

Each cell runs `lchat` in a subprocess under a small Python wrapper that reports the child's
peak RSS (getrusage RUSAGE_CHILDREN, so only lchat is measured), and asserts: one clear line
on stderr, the documented exit code (1 for a history command's bad input, 2 for a config
error), peak RSS under 300 MB, nothing written that should not be (the history and the config
byte for byte), and no raw escape reaching the terminal.

Cells that do not apply (and why):
- restore × bomb: a backup is an SQLite file read page by page on demand; nothing in it
  expands (no compression, no recursion), so its cost is bounded by its size: the huge cell.
- config value × endless: a value is a number or a string inside a file of at most 1 MB;
  the endless *file* (/dev/zero) is the endless case and is covered.
- markup, shadowing, typed-ahead keys, signal mid-way: no widget or dialog shows these
  surfaces, nothing is looked up by a name they carry, and each command is a single read
  done before any write (import and restore write in one transaction or one SQLite backup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui import portable
from tui.config.read import load_config
from tui.domain import Role
from tui.store import HistoryStore

RSS_LIMIT_KB = 300 * 1024
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
"""A title-setting OSC and a clear-screen CSI: neither may reach a terminal raw."""

WRAPPER = """
import json, resource, subprocess, sys

def cap():  # A regression fails with MemoryError instead of eating the test machine.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

done = subprocess.run(sys.argv[1:], capture_output=True, stdin=subprocess.DEVNULL, timeout=30, preexec_fn=cap)
print(json.dumps({
    "rc": done.returncode,
    "out": done.stdout.decode("utf-8", "replace"),
    "err": done.stderr.decode("utf-8", "replace"),
    "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


def lchat_measured(*args: str) -> dict:
    """Run `lchat ARGS` (stdin closed) and return its exit code, output and peak RSS in KB."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr  # The wrapper itself: a timeout here means lchat hung.
    return json.loads(done.stdout)


def assert_clear(result: dict, *, code: int, says: str) -> None:
    """One line on stderr saying `says`, exit `code`, memory bounded, no raw escape."""
    err = result["err"]
    assert result["rc"] == code, err
    assert err.count("\n") == 1 and err.startswith("lchat: ") and says in err, err
    assert "Traceback" not in err and "unexpected error" not in err
    assert not any(c in result["out"] + err for c in "\x1b\x07\x9b"), err
    assert result["peak_kb"] < RSS_LIMIT_KB, f"peak RSS {result['peak_kb'] // 1024} MB"


@pytest.fixture
def history(paths) -> Path:
    """A history with one conversation; cells check it is left byte for byte as it was."""
    load_config(paths.config_file)  # The config a first run writes, so no cell's run writes it.
    with HistoryStore.open(paths.database) as store:
        conversation = store.create_conversation(title="kept")
        store.add_message(conversation.id, Role.USER, "hello")
    return paths.database


def snapshot(paths) -> dict[str, bytes]:
    """Every file of the lchat home (history, WAL, config), to compare before and after."""
    home = paths.config_dir
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


def export_doc(**messages_and_title) -> dict:
    return {
        "format": portable.FORMAT,
        "version": portable.VERSION,
        "conversation": {"title": messages_and_title.get("title", "imported")},
        "messages": messages_and_title.get("messages", [{"role": "user", "content": "hi"}]),
    }


# Import file


def import_cell(paths, path: Path, says: str) -> None:
    before = snapshot(paths)
    assert_clear(lchat_measured("import", str(path)), code=1, says=says)
    assert snapshot(paths) == before  # Nothing imported, nothing else written.


def test_import_file__endless(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "endless.json"
    path.symlink_to("/dev/zero")
    import_cell(paths, path, "is not a regular file (a character device)")


def test_import_file__blocking(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "blocking.json"
    os.mkfifo(path)  # No writer ever comes: an ordinary open would wait for ever.
    import_cell(paths, path, "is not a regular file (a FIFO)")


def test_import_file__huge(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as sparse:  # 8 GB without newlines, taking no disk.
        sparse.truncate(8 << 30)
    import_cell(paths, path, "huge.json:1: the line is over 64 MB, the most lchat imports")


def test_import_file__huge_message(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "long.json"
    long = "x" * (portable.MESSAGE_MAX_CHARS + 1)
    path.write_text(json.dumps(export_doc(messages=[{"role": "assistant", "content": long}])))
    import_cell(paths, path, "message 1 is 16,000,001 characters long")


def test_import_file__bomb(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "bomb.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # Once "unexpected error: RecursionError".
    import_cell(paths, path, "bomb.json is nested deeper than 64 levels")


def test_import_file__bomb_of_items(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text("[" + "[]," * 20_000_000 + "[]]")  # 60 MB that json.loads would make 1.2 GB of.
    import_cell(paths, path, "items.json holds more than 2,000,000 items")


def test_import_file__escapes(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / f"evil{ESCAPES}.json"
    path.write_text(json.dumps({"format": portable.FORMAT, "version": ESCAPES}))
    import_cell(paths, path, "evil␛]0;pwned␇␛[2J.json has export version")
    good = tmp_path / "titled.json"  # A title with escapes is data: imported, and shown made safe.
    good.write_text(json.dumps(export_doc(title=f"t{ESCAPES}")))
    assert lchat_measured("import", str(good))["rc"] == 0
    listing = lchat_measured("list")
    assert listing["rc"] == 0 and "t␛]0;pwned␇␛[2J" in listing["out"] and "\x1b" not in listing["out"]


# Restore file


def restore_cell(paths, path: Path, says: str) -> None:
    before = snapshot(paths)
    assert_clear(lchat_measured("restore", str(path), "--yes"), code=1, says=says)
    assert snapshot(paths) == before  # The history as it was; no copy of it made either.


def test_restore_file__endless(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "endless.db"
    path.symlink_to("/dev/zero")
    restore_cell(paths, path, "is not a regular file (a character device)")


def test_restore_file__blocking(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "blocking.db"
    os.mkfifo(path)
    restore_cell(paths, path, "is not a regular file (a FIFO)")


def test_restore_file__huge(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / "huge.db"
    with path.open("wb") as sparse:
        sparse.truncate(8 << 30)
    restore_cell(paths, path, "huge.db is not an lchat history backup (file is not a database)")


def test_restore_file__escapes(history: Path, paths, tmp_path: Path) -> None:
    path = tmp_path / f"evil{ESCAPES}.db"
    path.write_bytes(b"not sqlite\n" * 100)
    restore_cell(paths, path, "evil␛]0;pwned␇␛[2J.db is not an lchat history backup")


# Config value


def config_cell(paths, text: str | None, says: str, *, make=None) -> None:
    config = paths.config_file
    if make is not None:
        make(config)
    else:
        assert text is not None
        config.write_text(text)
    before = snapshot(paths)
    assert_clear(lchat_measured("list"), code=2, says=says)
    assert snapshot(paths) == before  # The config is not rewritten, no history is made.


def test_config_value__huge(history: Path, paths) -> None:
    config_cell(paths, "[engine]\ncontext_length = 99999999999999\n", "config.toml:2: engine.context_length must be")


def test_config_value__huge_file(history: Path, paths) -> None:
    config_cell(paths, "# padding\n" * 200_000, "config.toml is larger than 1 MB")


def test_config_value__huge_or_below_range(history: Path, paths) -> None:
    config_cell(paths, "[ui]\nmax_fps = 0\n", "config.toml:2: ui.max_fps must be between 1 and 240, not 0")
    config_cell(paths, "[mcp]\ncall_timeout_s = -1\n", "config.toml:2: mcp.call_timeout_s must be between 0.1")


def test_config_value__endless(history: Path, paths) -> None:
    def endless(config: Path) -> None:
        config.unlink()
        config.symlink_to("/dev/zero")

    config_cell(paths, None, "config.toml is not a regular file (a character device)", make=endless)


def test_config_value__blocking(history: Path, paths) -> None:
    def fifo(config: Path) -> None:
        config.unlink()
        os.mkfifo(config)

    config_cell(paths, None, "config.toml is not a regular file (a FIFO)", make=fifo)


def test_config_value__bomb(history: Path, paths) -> None:
    config_cell(paths, "[chat]\nstop = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply")


def test_config_value__escapes(history: Path, paths) -> None:
    config_cell(paths, '[ui]\nmax_fps = "\\u001b]0;pwned\\u0007"\n', "ui.max_fps must be an integer, not str")
    config_cell(paths, f'[chat]\n"{ESCAPES}" = \n', "invalid TOML")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_config_value__blocking_and_endless_and_huge_theme_file(tmp_path: Path, kind: str) -> None:
    """A theme file in the config dir's themes/ is config too: reported, never waited on or read whole."""
    from tui.ui.themes import load_themes

    path = tmp_path / "mine.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_text("# padding\n" * 20_000)
    loaded = load_themes(tmp_path)
    assert loaded.themes == [] and len(loaded.problems) == 1
    assert {"fifo": "(a FIFO)", "dev-zero": "(a character device)", "huge": "is larger than 0.1 MB"}[
        kind
    ] in loaded.problems[0]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "bomb"])
def test_mcp_import_file__blocking_and_endless_and_huge_and_bomb(
    history: Path, paths, tmp_path: Path, kind: str
) -> None:
    """`lchat mcp import FILE` is an import file too: refused at once, the config left as it was."""
    path = tmp_path / "claude_desktop_config.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        with path.open("wb") as sparse:
            sparse.truncate(8 << 30)
    else:
        path.write_text('{"mcpServers": ' + "[" * 100_000 + "]" * 100_000 + "}")
    before = snapshot(paths)
    says = {
        "fifo": "is not a regular file (a FIFO)",
        "dev-zero": "is not a regular file (a character device)",
        "huge": "is larger than 1 MB",
        "bomb": "nested too deeply",
    }[kind]
    assert_clear(lchat_measured("mcp", "import", str(path)), code=1, says=says)
    assert snapshot(paths) == before
