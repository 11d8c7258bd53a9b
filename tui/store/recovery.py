"""Opening the history when the file may be damaged: detect, move aside, start fresh, say so."""

from __future__ import annotations

import time
from pathlib import Path

from tui.store.errors import DatabaseCorrupt
from tui.store.history import HistoryStore

FULL_CHECK_BELOW_BYTES = 32 * 1024 * 1024
"""Files smaller than this get a full page check at start (well under 100 ms); bigger ones
are checked by SQLite as pages are read, and damage found later is reported then."""
SIDE_FILES = ("", "-wal", "-shm")


def open_history(path: Path, *, backups_dir: Path | None = None) -> tuple[HistoryStore, str]:
    """The store at `path`, and a message for the user when a damaged file was moved aside."""
    try:
        store = HistoryStore.open(path)
        if path.stat().st_size < FULL_CHECK_BELOW_BYTES:
            try:
                store.quick_check()
            except DatabaseCorrupt:
                store.close()
                raise
        return store, ""
    except DatabaseCorrupt as error:
        moved = move_aside(path)
        store = HistoryStore.open(path)
        message = (
            f"The history file was damaged ({error.detail}). It was moved, untouched, to {moved} "
            "and a new, empty history started."
        )
        latest = latest_backup(backups_dir)
        if latest is not None:
            message += f" The latest backup is {latest}: `lchat restore {latest}` brings it back."
        return store, message


def move_aside(path: Path) -> Path:
    """Rename the file and its WAL/SHM companions to `<name>.corrupt-<time>`; never overwrite."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in SIDE_FILES):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    for suffix in SIDE_FILES:
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    return target


def latest_backup(backups_dir: Path | None) -> Path | None:
    if backups_dir is None or not backups_dir.is_dir():
        return None
    candidates = [p for p in backups_dir.iterdir() if p.is_file() and not p.name.endswith(("-wal", "-shm"))]
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)
