"""Errors the history store raises; each reads as a sentence a user can act on."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """Base of every store failure; str() is meant to be shown to the user."""


class SchemaTooNew(StoreError):
    """The file was written by a newer lchat whose schema this one does not know."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        self.path = path
        self.found = found
        self.known = known
        super().__init__(
            f"The history file {path} was written by a newer lchat "
            f"(schema {found}, this lchat knows {known}); upgrade lchat to open it."
        )


class DatabaseCorrupt(StoreError):
    """The file is not an SQLite database, or its contents are damaged."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"The history file {path} is not a readable lchat database ({detail}); "
            "move it aside to start a fresh history."
        )


class StoreFull(StoreError):
    """A write failed because the disk (or the database's size limit) is full."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"Could not save to {path}: the disk is full. Free some space; nothing was lost from what is already saved."
        )


class NotFound(StoreError, LookupError):
    """A conversation or message to change no longer exists (another lchat may have deleted it)."""


def translate(exc: sqlite3.Error, path: Path, doing: str) -> StoreError:
    """Turn an sqlite3 error into the store error a user should see; ``doing`` says what failed."""
    # Extended result codes carry the primary code in their low byte.
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(path)
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return DatabaseCorrupt(path, str(exc))
    return StoreError(f"Could not {doing} the history file {path}: {exc}.")
