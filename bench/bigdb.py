"""A big history for the start-up, open, search and memory benchmarks, built with bulk inserts.

The file is created by `HistoryStore.open`, so it has lchat's schema whatever that is today;
rows go in with `executemany`, with the message triggers (the FTS index) dropped meanwhile and
the index rebuilt once at the end. Built once per size and schema, kept in the bench cache.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui.store import HistoryStore

BUILDER_VERSION = 1
_COMMON = (
    "the a to of and in is it that for you this with on as be are can use your by or if not "
    "function file model python error code data value list string type return class test memory "
    "server request thread cache query table index token context prompt answer question build "
    "install version config path window terminal key batch layer tensor vector matrix loop"
).split()
_CODE = [
    "```python\nimport json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n```",
    '```bash\npip install --upgrade lchat\nlchat ask "hello"\n```',
    "```sql\nSELECT id, title FROM conversations ORDER BY updated_at DESC LIMIT 20;\n```",
    '```rust\nfn main() {\n    let v: Vec<u32> = (0..10).collect();\n    println!("{:?}", v);\n}\n```',
]


@dataclass(frozen=True)
class BigHistory:
    """A built history: its data dir and what is in it."""

    data_dir: Path
    conversations: int
    messages: int
    long_conversation_id: int
    short_conversation_id: int
    words: list[str]
    """The vocabulary, most frequent first (for choosing search terms)."""

    @property
    def database(self) -> Path:
        return self.data_dir / "history.db"


def vocabulary(size: int = 20_000, *, seed: int = 3) -> list[str]:
    """Real common words first, then made-up ones, ordered by how often they are drawn."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ra", "ti", "so", "vu", "pe", "dar", "quin", "zel", "bor", "tas"]
    words = list(dict.fromkeys(_COMMON))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class _Texts:
    """Message texts: Zipf-distributed words, answers now and then with a list or code."""

    def __init__(self, words: list[str], seed: int) -> None:
        self.words = np.array(words, dtype=object)
        weights = 1.0 / np.arange(1, len(words) + 1) ** 1.07
        self.p = weights / weights.sum()
        self.rng = np.random.default_rng(seed)
        self.pool: list[str] = []
        self.used = 0

    def _take(self, count: int) -> list[str]:
        if self.used + count > len(self.pool):
            self.pool = self.words[self.rng.choice(len(self.words), size=400_000, p=self.p)].tolist()
            self.used = 0
        taken = self.pool[self.used : self.used + count]
        self.used += count
        return taken

    def question(self) -> str:
        return " ".join(self._take(int(self.rng.integers(6, 20)))) + "?"

    def answer(self, scale: int = 1) -> str:
        text = " ".join(self._take(int(self.rng.integers(25, 90)) * scale)) + "."
        roll = self.rng.random()
        if roll < 0.25:
            text += "\n\n" + _CODE[int(self.rng.integers(len(_CODE)))] + "\n\n" + " ".join(self._take(15)) + "."
        elif roll < 0.45:
            text += "\n\n" + "\n".join("- " + " ".join(self._take(6)) for _ in range(3))
        return text


def cached(
    conversations: int, messages: int, long_conversation: int, *, cache: Path, log=print, schema: int | None = None
) -> BigHistory:
    """The history of this size, built unless the cache has it for today's schema (or for
    the older ``schema``, to time the upgrade from it)."""
    from tui.store.schema import MIGRATIONS

    version = len(MIGRATIONS) if schema is None else schema
    name = f"history-{conversations}c-{messages}m-{long_conversation}l-v{BUILDER_VERSION}-s{version}"
    folder = cache / name
    manifest = folder / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        return BigHistory(folder, words=vocabulary(), **info)
    for stale in cache.glob(f"history-{conversations}c-{messages}m-*-s{version}"):
        shutil.rmtree(stale, ignore_errors=True)
    started = time.monotonic()
    log(f"  building a history of {messages:,} messages at schema {version} in {folder} (once)...")
    history = build(folder, conversations, messages, long_conversation, schema=schema)
    info = {
        k: getattr(history, k) for k in ("conversations", "messages", "long_conversation_id", "short_conversation_id")
    }
    manifest.write_text(json.dumps(info))
    log(f"  built in {time.monotonic() - started:.0f} s")
    return history


def _create_at(path: Path, version: int) -> None:
    """An empty history file at an older schema version, in WAL mode like lchat's."""
    from tui.store.schema import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for step in MIGRATIONS[:version]:
        step(conn)
    conn.execute(f"PRAGMA user_version = {version:d}")
    conn.execute("COMMIT")
    conn.close()


def _rebuild_index(conn: sqlite3.Connection) -> None:
    """Index the inserted messages once, as this schema does (CJK as bigrams from schema 7)."""
    from tui.store import schema

    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= 7:
        schema.rebuild_search_indexes(conn)
    elif version >= 5:
        conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


def build(
    data_dir: Path,
    conversations: int,
    messages: int,
    long_conversation: int,
    *,
    seed: int = 1,
    schema: int | None = None,
) -> BigHistory:
    """`conversations` conversations, one of `long_conversation` messages, `messages` in all;
    at today's schema, or as lchat at the older `schema` left its files."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "history.db"
    if schema is None:
        HistoryStore.open(path).close()
    else:
        _create_at(path, schema)
    words = vocabulary()
    texts = _Texts(words, seed)
    conn = sqlite3.connect(path, isolation_level=None)
    message_columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    conversation_columns = {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
    ).fetchall()
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    # The long conversation sits in the middle of the list, as an old but not ancient one.
    long_id = conversations // 2 or 1
    rest = max(1, conversations - 1)
    per_conversation, extra = divmod(max(0, messages - long_conversation), rest)
    has_parent = "parent_id" in message_columns
    has_leaf = "leaf_id" in conversation_columns
    base = time.time() - conversations * 600.0
    message_id = shorts = 0
    conversation_rows: list[tuple[Any, ...]] = []
    message_rows: list[list[Any]] = []

    def flush() -> None:
        columns = "id, conversation_id, role, content, status, model, backend, created_at, updated_at"
        columns += ", parent_id" if has_parent else ""
        marks = ", ".join("?" * len(columns.split(", ")))
        conn.executemany(f"INSERT INTO messages ({columns}) VALUES ({marks})", message_rows)
        message_rows.clear()

    for conversation_id in range(1, conversations + 1):
        if conversation_id == long_id:
            count = long_conversation
        else:
            shorts += 1
            count = max(2, per_conversation + (1 if shorts <= extra else 0))
        started = base + conversation_id * 600.0
        parent = None
        for index in range(count):
            message_id += 1
            at = started + index * 30.0
            if index % 2 == 0:
                row = [message_id, conversation_id, "user", texts.question(), "complete", "", "", at, at]
            else:
                scale = 2 if conversation_id == long_id else 1
                row = [
                    message_id,
                    conversation_id,
                    "assistant",
                    texts.answer(scale),
                    "complete",
                    "/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                    "embedded",
                    at,
                    at,
                ]
            if has_parent:
                row.append(parent)
            parent = message_id
            message_rows.append(row)
        title = f"conversation {conversation_id}: " + " ".join(texts._take(4))
        updated = started + max(0, count - 1) * 30.0
        conversation_rows.append((conversation_id, title, updated, parent))
        if len(message_rows) >= 50_000:
            flush()
    flush()
    columns = "id, title, model, backend, system_prompt, params, created_at, updated_at"
    columns += ", leaf_id" if has_leaf else ""
    conn.executemany(
        f"INSERT INTO conversations ({columns}) VALUES (?, ?, ?, 'embedded', '', '{{}}', ?, ?"
        + (", ?)" if has_leaf else ")"),
        [
            (cid, title, "/models/SmolLM2-135M-Instruct.Q4_1.gguf", updated - 1, updated)
            + ((leaf,) if has_leaf else ())
            for cid, title, updated, leaf in conversation_rows
        ],
    )
    for _, sql in triggers:
        conn.execute(sql)
    _rebuild_index(conn)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    short_id = conversations if conversations != long_id else 1
    return BigHistory(data_dir, conversations, message_id, long_id, short_id, words)
