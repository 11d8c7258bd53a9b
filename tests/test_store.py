"""Tests of the SQLite history store, on real files in tmp_path."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tui.domain import ChatMessage, ConversationSettings, MessageStatus, Role
from tui.store import (
    DatabaseCorrupt,
    HistoryStore,
    NotFound,
    SchemaTooNew,
    StoreError,
    StoreFull,
    conversations,
    messages,
    schema,
)
from tui.store.codec import settings_to_json

ROOT = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).with_name("store_writer.py")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def store(db_path: Path):
    with HistoryStore.open(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection that bypasses the store, to look at or tamper with the file."""
    return sqlite3.connect(path, isolation_level=None)


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class Clock:
    """A settable stand-in for time.time()."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Opening


def test_fresh_file_is_migrated_and_private(db_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        with HistoryStore.open(db_path) as store:
            assert mode(db_path) == 0o600
            store.create_conversation(title="x")
            for suffix in ("-wal", "-shm"):
                assert mode(f"{db_path}{suffix}") == 0o600
    finally:
        os.umask(old_umask)
    conn = raw(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS) >= 2
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "messages"} <= tables
    conn.close()


def test_connection_settings(store: HistoryStore) -> None:
    conn = store.db.connection()
    assert conn is not None
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.isolation_level is None


def test_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="nowhere"):
        HistoryStore.open(tmp_path / "nowhere" / "history.db")


def test_newer_schema_is_refused(db_path: Path) -> None:
    HistoryStore.open(db_path).close()
    conn = raw(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaTooNew) as caught:
        HistoryStore.open(db_path)
    message = str(caught.value)
    assert str(db_path) in message
    assert f"newer lchat (schema 99, this lchat knows {len(schema.MIGRATIONS)})" in message


def test_garbage_file_is_corrupt(db_path: Path) -> None:
    db_path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(DatabaseCorrupt) as caught:
        HistoryStore.open(db_path)
    assert str(db_path) in str(caught.value)


def test_failed_migration_keeps_the_old_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    HistoryStore.open(db_path).close()
    known = len(schema.MIGRATIONS)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN half_done INTEGER")
        raise RuntimeError("step two is broken")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    with pytest.raises(StoreError, match="step two is broken"):
        HistoryStore.open(db_path)
    conn = raw(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == known
    columns = {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
    assert "half_done" not in columns
    conn.close()


def test_a_schema_1_file_upgrades_without_loss(db_path: Path) -> None:
    conn = raw(db_path)
    conn.execute("BEGIN")
    schema.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'from v1', 0, 0)")
    conn.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, updated_at) VALUES (1, 'user', 'kept', 0, 0)"
    )
    conn.execute("COMMIT")
    conn.close()
    with HistoryStore.open(db_path) as store:
        (message,) = store.list_messages(1)
        assert (message.content, message.energy_wh) == ("kept", None)
        answer = store.add_message(1, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        final = store.finish_message(answer.id, content="x", status=MessageStatus.COMPLETE, energy_wh=0.25)
        assert final.energy_wh == 0.25
        assert [m.id for m in store.list_messages(1)] == [message.id, answer.id]
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)


# Conversations


def test_conversation_round_trip(store: HistoryStore) -> None:
    made = store.create_conversation(
        title="Plans",
        model="smol",
        backend="llama",
        system_prompt="Be brief.",
        settings=ConversationSettings(temperature=0.5),
    )
    assert store.get_conversation(made.id) == made
    assert settings_to_json(made.settings) == {"temperature": 0.5}

    store.rename_conversation(made.id, "Holiday plans")
    store.set_conversation_model(made.id, "qwen", "ollama")
    got = store.get_conversation(made.id)
    assert got is not None
    assert (got.title, got.model, got.backend) == ("Holiday plans", "qwen", "ollama")
    assert store.get_conversation(made.id + 1) is None
    with pytest.raises(NotFound):
        store.rename_conversation(made.id + 1, "nope")


def test_conversations_newest_first(store: HistoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    for module in (conversations, messages):  # created and appended to: both read the clock
        monkeypatch.setattr(module, "time", SimpleNamespace(time=clock))
    a = store.create_conversation(title="a")
    b = store.create_conversation(title="b")  # Same timestamp as a: the later id wins.
    clock.now += 1
    c = store.create_conversation(title="c")
    assert [x.title for x in store.list_conversations()] == ["c", "b", "a"]

    clock.now += 1
    store.add_message(a.id, Role.USER, "hello again")
    assert [x.id for x in store.list_conversations()] == [a.id, c.id, b.id]
    assert [x.id for x in store.list_conversations(limit=1, offset=1)] == [c.id]


def test_delete_cascades_to_messages(store: HistoryStore, db_path: Path) -> None:
    gone = store.create_conversation()
    kept = store.create_conversation()
    store.add_message(gone.id, Role.USER, "one")
    store.add_message(gone.id, Role.ASSISTANT, "two")
    store.add_message(kept.id, Role.USER, "three")

    store.delete_conversation(gone.id)
    store.delete_conversation(gone.id)  # A second delete is no error.
    assert store.get_conversation(gone.id) is None
    conn = raw(db_path)
    assert conn.execute("SELECT conversation_id FROM messages").fetchall() == [(kept.id,)]
    conn.close()


# Messages


def writer_pid(path: Path, message_id: int) -> int | None:
    conn = raw(path)
    try:
        row = conn.execute("SELECT writer_pid FROM messages WHERE id = ?", (message_id,))
        return row.fetchone()[0]
    finally:
        conn.close()


def test_streaming_answer_life_cycle(store: HistoryStore, db_path: Path) -> None:
    conv = store.create_conversation()
    question = store.add_message(conv.id, Role.USER, "Why is the sky blue?")
    answer = store.add_message(
        conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING, model="smol", backend="llama"
    )
    assert writer_pid(db_path, question.id) is None
    assert writer_pid(db_path, answer.id) == os.getpid()

    store.update_message_content(answer.id, "Rayleigh")
    assert store.list_messages(conv.id)[-1].content == "Rayleigh"

    done = store.finish_message(
        answer.id,
        content="Rayleigh scattering.",
        status=MessageStatus.COMPLETE,
        prompt_tokens=12,
        completion_tokens=40,
        ttft_s=0.1,
        gen_s=2.0,
    )
    assert done.status is MessageStatus.COMPLETE
    assert (done.model, done.prompt_tokens, done.tokens_per_s) == ("smol", 12, 20.0)
    assert store.list_messages(conv.id) == [question, done]
    assert writer_pid(db_path, answer.id) is None
    assert store.count_messages(conv.id) == 2


def test_message_errors(store: HistoryStore) -> None:
    conv = store.create_conversation()
    message = store.add_message(conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    with pytest.raises(ValueError):
        store.finish_message(message.id, content="", status=MessageStatus.STREAMING)
    with pytest.raises(NotFound):
        store.add_message(conv.id + 1, Role.USER, "to nowhere")
    with pytest.raises(NotFound):
        store.update_message_content(message.id + 1, "x")
    with pytest.raises(NotFound):
        store.finish_message(message.id + 1, content="", status=MessageStatus.ERROR)


def test_list_messages_pages_from_the_end(store: HistoryStore) -> None:
    conv = store.create_conversation()
    other = store.create_conversation()
    ids = [store.add_message(conv.id, Role.USER, f"m{i}").id for i in range(10)]
    store.add_message(other.id, Role.USER, "elsewhere")

    def page(**kwargs: int) -> list[int]:
        return [m.id for m in store.list_messages(conv.id, **kwargs)]

    assert page() == ids
    assert page(limit=3) == ids[7:]
    assert page(limit=3, before_id=ids[7]) == ids[4:7]
    assert page(limit=5, before_id=ids[2]) == ids[:2]
    assert page(before_id=ids[5]) == ids[:5]
    assert page(limit=3, before_id=ids[0]) == []


def test_closed_store_refuses_calls(db_path: Path) -> None:
    store = HistoryStore.open(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()


def test_full_disk_is_store_full(store: HistoryStore) -> None:
    conv = store.create_conversation()
    assert store.db.connection() is not None
    # Capping the file at its current size makes SQLite report SQLITE_FULL.
    pages = store.db.connection().execute("PRAGMA page_count").fetchone()[0]
    store.db.connection().execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreFull, match="disk is full"):
        store.add_message(conv.id, Role.USER, "x" * 100_000)
    assert store.count_messages(conv.id) == 0


# Recovery of answers cut off by a crash


def test_unfinished_answer_becomes_interrupted(db_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        conv = store.create_conversation()
        answer = store.add_message(conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        store.update_message_content(answer.id, "half an ans")

    with HistoryStore.open(db_path) as store:
        assert store.recovered == 1
        [recovered] = store.list_messages(conv.id)
        assert recovered.status is MessageStatus.INTERRUPTED
        assert recovered.content == "half an ans"
    assert writer_pid(db_path, answer.id) is None

    with HistoryStore.open(db_path) as store:
        assert store.recovered == 0


def insert_streaming(path: Path, conversation_id: int, pid: int | None) -> int:
    conn = raw(path)
    schema.register_functions(conn)  # As the other lchat writing this row has (its index triggers call it).
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, role, content, status, writer_pid,"
        " created_at, updated_at) VALUES (?, 'assistant', 'partial', 'streaming', ?, 0, 0)",
        (conversation_id, pid),
    )
    conn.close()
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def test_recovery_spares_a_live_other_process(db_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        conv = store.create_conversation()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    try:
        live_row = insert_streaming(db_path, conv.id, live.pid)
        dead_row = insert_streaming(db_path, conv.id, dead.pid)
        null_row = insert_streaming(db_path, conv.id, None)
        with HistoryStore.open(db_path) as store:
            assert store.recovered == 2
            status = {i: store.get_message(i).status for i in (live_row, dead_row, null_row)}
        assert status == {
            live_row: MessageStatus.STREAMING,
            dead_row: MessageStatus.INTERRUPTED,
            null_row: MessageStatus.INTERRUPTED,
        }
    finally:
        live.kill()
        live.wait()
    with HistoryStore.open(db_path) as store:
        assert store.recovered == 1
        assert store.get_message(live_row).status is MessageStatus.INTERRUPTED


# Two lchat processes on one file


def test_two_processes_append_at_once(db_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        conv = store.create_conversation()
    # The writers run as scripts, so they need the project root to import tui.
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(db_path), str(conv.id), "200", tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for tag in ("a", "b")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    for writer in writers:  # Release both only once both are ready.
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()  # communicate() below closes it.
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert (writer.returncode, err) == (0, "")

    with HistoryStore.open(db_path) as store:
        messages: list[ChatMessage] = store.list_messages(conv.id)
    assert len(messages) == 400
    assert {m.content for m in messages} == {f"{t}-{i}" for t in "ab" for i in range(200)}
    assert all(m.status is MessageStatus.COMPLETE for m in messages)
    # The writers really overlapped rather than running one after the other.
    assert len({m.content[0] for m in messages[:200]}) == 2


@pytest.mark.parametrize("version", range(1, len(schema.MIGRATIONS)))
def test_a_file_from_every_earlier_schema_upgrades_with_its_history(tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in schema.MIGRATIONS[:version]:  # the file as that version of lchat left it
        step(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'kept', 1, 1)")
    for n, role in enumerate(["user", "assistant", "user"], start=1):
        conn.execute(
            "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at)"
            " VALUES (?, 1, ?, ?, ?, ?)",
            (n, role, f"zebra message {n}", n, n),
        )
    if version >= 4:  # branches exist: that lchat wrote each message's parent and the path's end
        conn.execute("UPDATE messages SET parent_id = NULLIF(id - 1, 0)")
        conn.execute("UPDATE conversations SET leaf_id = 3")
    conn.close()
    with HistoryStore.open(path) as store:
        assert [m.content for m in store.list_messages(1)] == [f"zebra message {n}" for n in (1, 2, 3)]
        assert store.get_conversation(1).title == "kept"
        assert [hit.message_id for hit in store.search("zebra")] != []  # indexed, whatever the version
        store.add_message(1, Role.ASSISTANT, "and a new answer")
        assert store.list_messages(1)[-1].parent_id == 3  # new messages join the old path


def schema_6_file(path: Path) -> None:
    """A history as lchat at schema 6 left it: CJK text in a message and in its reasoning,
    indexed by that schema's unicode61 index (one token per unspaced run)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for step in schema.MIGRATIONS[:6]:
        step(conn)
    conn.execute("PRAGMA user_version = 6")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at, leaf_id) VALUES (1, 'old', 1, 1, 2)")
    conn.execute(
        "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at)"
        " VALUES (1, 1, 'user', '今日は東京の天気について質問があります', 1, 1)"
    )
    conn.execute(
        "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at, parent_id)"
        " VALUES (2, 1, 'assistant', 'Pythonで調べます', 2, 2, 1)"
    )
    conn.execute("INSERT INTO message_parts (message_id, seq, kind, text) VALUES (2, 0, 'reasoning', '北京的天气')")
    conn.execute("COMMIT")
    conn.close()


def test_a_schema_6_file_upgrades_to_a_cjk_search_index(db_path: Path) -> None:
    schema_6_file(db_path)
    with HistoryStore.open(db_path) as store:
        assert [hit.message_id for hit in store.search("天気")] == [1]
        assert [hit.message_id for hit in store.search("調べ")] == [2]
        assert [hit.message_id for hit in store.search("pyth")] == [2]
        (hit,) = store.search("天气", include_parts=True)
        assert (hit.message_id, hit.in_part, hit.snippet) == (2, True, "北京的\x02天气\x03")
        (hit,) = store.search("東京")
        assert hit.snippet == "今日は\x02東京\x03の天気について質問があります"
        # Written after the upgrade, through the new triggers.
        store.add_message(1, Role.USER, "大阪の天気は？")
        assert [hit.message_id for hit in store.search("天気")] == [3, 1]
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)


def test_a_failed_index_rebuild_leaves_the_schema_6_file_as_it_was(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema_6_file(db_path)

    def broken(text: str) -> str:
        raise RuntimeError("disk hiccup")

    monkeypatch.setattr(schema, "index_text", broken)
    with pytest.raises(StoreError, match="from schema 6 to 7"):
        HistoryStore.open(db_path)
    conn = raw(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 6
    # Schema 6's own index is intact and still answers whole-run queries.
    assert conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'Pythonで調べます'").fetchall() == [
        (2,)
    ]
    conn.close()
    monkeypatch.undo()
    with HistoryStore.open(db_path) as store:
        assert [hit.message_id for hit in store.search("天気")] == [1]


def test_a_schema_6_lchat_refuses_the_upgraded_file(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema_6_file(db_path)
    HistoryStore.open(db_path).close()
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:6])
    with pytest.raises(SchemaTooNew, match=r"newer lchat \(schema 7, this lchat knows 6\)"):
        HistoryStore.open(db_path)
