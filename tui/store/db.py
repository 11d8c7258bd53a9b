"""The one SQLite connection the store's parts share: serialised reads, one transaction per write."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tui.store.errors import StoreError, translate
from tui.store.schema import register_functions

SqlArgs = Sequence[object] | Mapping[str, object]
"""The parameters of one statement: by position or by name."""


class Database:
    """A connection to the history file, given to each part of :class:`HistoryStore`.

    Every write is its own ``BEGIN IMMEDIATE`` transaction so two lchat processes can share
    the file; calls are serialised by a lock so thread workers may use the store.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.path = path
        """The SQLite file."""
        self._conn: sqlite3.Connection | None = connection
        self._lock = threading.RLock()
        self._sidecars_private = False

    @classmethod
    def connect(cls, path: Path) -> Database:
        """Connect to (creating if needed, private to its owner) the file at ``path``."""
        _create_private(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, path, "open") from exc
        try:
            _configure(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, path, "open") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, rolled back if the body raises."""
        with self._lock:
            conn = self.connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "write to") from exc
            self.make_sidecars_private()

    def read(self, sql: str, args: SqlArgs = ()) -> list[sqlite3.Row]:
        """Every row of one query; SQLite's errors become :class:`StoreError` subclasses."""
        with self._lock:
            try:
                rows: list[sqlite3.Row] = self.connection().execute(sql, args).fetchall()
                return rows
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "read") from exc

    def connection(self) -> sqlite3.Connection:
        """The open connection; raises :class:`StoreError` once closed."""
        if self._conn is None:
            raise StoreError(f"The history file {self.path} is already closed.")
        return self._conn

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._conn is None

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def make_sidecars_private(self) -> None:
        """Give the -wal and -shm files mode 0600 once SQLite has created them."""
        if self._sidecars_private:
            return
        done = True
        for suffix in ("-wal", "-shm"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except FileNotFoundError:
                done = False
            except OSError:
                pass  # Owned by another user: not ours to change.
        self._sidecars_private = done


def _create_private(path: Path) -> None:
    """Create an empty file readable only by its owner, whatever the umask, unless it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"Could not create the history file {path}: {exc.strerror}.") from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    register_functions(conn)
    # The busy timeout comes first so the switch to WAL also waits for another lchat.
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
