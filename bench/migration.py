"""Row 12: upgrading the big history from the schema before the CJK search index (6) to today's.

Times `HistoryStore.open` on a copy of a schema-6 file (the upgrade rebuilds both search
indexes from the stored text in one transaction) and reports the search index's size before
and after, read from SQLite's `dbstat`. The big history is English-like, so a second line does
the same for a history of Japanese messages (a tenth the size), where the index does grow, and
times searches for Japanese words in it, a single character included.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench import bigdb
from bench.common import Row, Sizes, cache_dir, missing_row, verdict

FROM_SCHEMA = 6
TARGET = "upgrade < 5 min"
_JAPANESE = (
    "今日 東京 天気 質問 回答 モデル 学習 検索 日本語 情報 時間 問題 データ コンピューター プログラム 設定"
    " ファイル 速度 メモリ 言語 会議 資料 確認 お願い 大阪 明日 予定 結果 説明 方法"
).split()
_PARTICLES = "は が を に で と の も から まで です ます でした して いる ある こと ため よう".split()
CJK_QUERIES = ["天気", "東京の天気", "コンピューター", "質問 回答", "確認", "の", "天", "Python"]


def index_bytes(path: Path) -> int:
    """Bytes of the file's pages that belong to the full-text indexes."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%\\_fts\\_%' ESCAPE '\\'").fetchone()
    finally:
        conn.close()
    return int(found[0] or 0)


def japanese(rng: random.Random, words: int) -> str:
    """A message of unspaced Japanese sentences from a small vocabulary (now and then a Latin word)."""
    pieces = []
    for index in range(words):
        pieces.append(rng.choice(_JAPANESE) + rng.choice(_PARTICLES))
        if index % 9 == 8:
            pieces.append("。")
    if rng.random() < 0.1:
        pieces.append(" Python ")
    return "".join(pieces) + "。"


def japanese_history(path: Path, messages: int, *, seed: int = 5) -> None:
    """A schema-6 history of ``messages`` Japanese messages, 10 to a conversation."""
    from tui.store.schema import MIGRATIONS

    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for step in MIGRATIONS[:FROM_SCHEMA]:
        step(conn)
    conn.execute(f"PRAGMA user_version = {FROM_SCHEMA:d}")
    conversations = max(1, messages // 10)
    conn.executemany(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [(n, f"会話 {n}", n, n) for n in range(1, conversations + 1)],
    )
    conn.executemany(
        "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (n, (n - 1) // 10 + 1, "user" if n % 2 else "assistant", japanese(rng, rng.randint(8, 60)), n, n)
            for n in range(1, messages + 1)
        ],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def upgrade(path: Path) -> tuple[float, int, int, int, int]:
    """Seconds the upgrade took, and the index and file sizes before and after."""
    from tui.store import HistoryStore

    before_file, before_index = path.stat().st_size, index_bytes(path)
    started = time.perf_counter()
    with HistoryStore.open(path):
        took = time.perf_counter() - started
    return took, before_index, index_bytes(path), before_file, path.stat().st_size


def _japanese_row(messages: int, repeats: int, log: Callable[[str], None]) -> Row:
    from tui.store import HistoryStore

    folder = cache_dir() / f"japanese-{messages}m"
    shutil.rmtree(folder, ignore_errors=True)
    path = folder / "history.db"
    japanese_history(path, messages)
    took, before_index, after_index, before_file, after_file = upgrade(path)
    times: dict[str, list[float]] = {}
    with HistoryStore.open(path) as store:
        for query in CJK_QUERIES:
            store.search(query)
            for _ in range(max(5, repeats)):
                started = time.perf_counter()
                store.search(query)
                times.setdefault(query, []).append(time.perf_counter() - started)
    shutil.rmtree(folder, ignore_errors=True)
    every = [t for values in times.values() for t in values]
    slowest = max(times, key=lambda q: statistics.median(times[q]))
    mib = 1024 * 1024
    log(
        f"  row 12 (Japanese): {took:.1f} s; index {before_index / mib:.1f} -> {after_index / mib:.1f} MiB;"
        f" search median {statistics.median(every) * 1000:.1f} ms, slowest {slowest!r}"
        f" {statistics.median(times[slowest]) * 1000:.1f} ms"
    )
    return Row(
        "12",
        f"Upgrade of {messages:,} Japanese messages from schema {FROM_SCHEMA}; then {len(times)} Japanese searches",
        f"{took:.1f} s; search median {statistics.median(every) * 1000:.1f} ms",
        f"index {before_index / mib:.1f} -> {after_index / mib:.1f} MiB,"
        f" file {before_file / mib:.1f} -> {after_file / mib:.1f} MiB;"
        f" slowest: {slowest} {statistics.median(times[slowest]) * 1000:.1f} ms",
        "-",
        "search median < 50 ms",
        verdict(statistics.median(every) < 0.050),
        {"seconds": took, "index_bytes": [before_index, after_index], "times": times},
    )


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
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
    took, before_index, after_index, before_file, after_file = upgrade(copy)
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
        ),
        _japanese_row(max(100, sizes.messages // 10), sizes.repeats, log),
    ]
