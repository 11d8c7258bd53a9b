"""Row 12: upgrading the big history from the schema before the CJK search index (6) to today's.

Times `HistoryStore.open` on a copy of a schema-6 file (the upgrade rebuilds both search
indexes from the stored text in one transaction) and reports the search index's size before
and after, read from SQLite's `dbstat`.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tui.bench import bigdb
from tui.bench.common import Row, Sizes, cache_dir, missing_row, verdict

FROM_SCHEMA = 6
TARGET = "upgrade < 5 min"


def index_bytes(path: Path) -> int:
    """Bytes of the file's pages that belong to the full-text indexes."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%\\_fts\\_%' ESCAPE '\\'").fetchone()
    finally:
        conn.close()
    return int(found[0] or 0)


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    from tui.store import HistoryStore
    from tui.store.schema import MIGRATIONS

    what = f"schema {FROM_SCHEMA} to {len(MIGRATIONS)} upgrade of {sizes.messages:,} messages"
    if len(MIGRATIONS) <= FROM_SCHEMA:
        return [missing_row("12", what, TARGET)]
    old = bigdb.cached(
        sizes.conversations,
        sizes.messages,
        sizes.long_conversation,
        cache=cache_dir(),
        log=log,
        schema=FROM_SCHEMA,
    )
    copy = old.data_dir / "upgrading" / "history.db"
    shutil.rmtree(copy.parent, ignore_errors=True)
    copy.parent.mkdir()
    shutil.copyfile(old.database, copy)
    before_file, before_index = copy.stat().st_size, index_bytes(copy)
    started = time.perf_counter()
    with HistoryStore.open(copy):
        took = time.perf_counter() - started
    after_file, after_index = copy.stat().st_size, index_bytes(copy)
    shutil.rmtree(copy.parent, ignore_errors=True)
    mib = 1024 * 1024
    log(
        f"  row 12: {took:.1f} s; index {before_index / mib:.0f} -> {after_index / mib:.0f} MiB;"
        f" file {before_file / mib:.0f} -> {after_file / mib:.0f} MiB"
    )
    return [
        Row(
            "12",
            f"Upgrade of {old.messages:,} messages from schema {FROM_SCHEMA} (search indexes rebuilt, CJK as bigrams)",
            f"{took:.1f} s",
            f"index {before_index / mib:.0f} -> {after_index / mib:.0f} MiB,"
            f" file {before_file / mib:.0f} -> {after_file / mib:.0f} MiB",
            "-",
            TARGET,
            verdict(took < 300),
            {
                "seconds": took,
                "index_bytes": [before_index, after_index],
                "file_bytes": [before_file, after_file],
            },
        )
    ]
