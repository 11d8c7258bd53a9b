"""The history store's branches, paged list, pins and archive, and the upgrade from schema 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from tui.domain import ConversationSettings, MessageStatus, Role
from tui.store import HistoryStore, NotFound, conversations, schema
from tui.store.codec import settings_to_json

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def store(tmp_path: Path):
    with HistoryStore.open(tmp_path / "history.db") as opened:
        yield opened


def contents(store: HistoryStore, conversation_id: int) -> list[str]:
    return [m.content for m in store.list_messages(conversation_id)]


def chat(store: HistoryStore, conversation_id: int, *texts: str) -> list[int]:
    """Append alternating user / assistant messages; their ids."""
    roles = (Role.USER, Role.ASSISTANT)
    return [store.add_message(conversation_id, roles[i % 2], text).id for i, text in enumerate(texts)]


# Branches


def test_messages_form_one_path_by_default(store: HistoryStore) -> None:
    conv = store.create_conversation()
    ids = chat(store, conv.id, "q1", "a1", "q2", "a2")
    messages = store.list_messages(conv.id)
    assert [m.parent_id for m in messages] == [None, *ids[:-1]]
    assert store.path_to(ids[2]) == messages[:3]
    assert store.branch_positions(ids) == {i: (1, 1) for i in ids}


def test_regenerating_keeps_the_old_answer_as_a_branch(store: HistoryStore) -> None:
    conv = store.create_conversation()
    q1, a1 = chat(store, conv.id, "q1", "a1")
    again = store.add_message(conv.id, Role.ASSISTANT, "a1 again", sibling_of=a1)
    assert again.parent_id == q1
    assert contents(store, conv.id) == ["q1", "a1 again"]
    assert store.siblings(a1) == [a1, again.id]
    assert store.branch_positions([a1, again.id]) == {a1: (1, 2), again.id: (2, 2)}

    assert store.switch_branch(again.id, -1) == a1
    assert contents(store, conv.id) == ["q1", "a1"]
    assert store.switch_branch(a1, -1) is None  # at the first branch already
    assert store.switch_branch(a1, +1) == again.id
    assert contents(store, conv.id) == ["q1", "a1 again"]


def test_switching_back_restores_the_path_below(store: HistoryStore) -> None:
    conv = store.create_conversation()
    q1, a1 = chat(store, conv.id, "q1", "a1")
    chat(store, conv.id, "q2 on a1", "a2 on a1")
    other = store.add_message(conv.id, Role.ASSISTANT, "a1 bis", sibling_of=a1)
    chat(store, conv.id, "q2 on bis")
    assert contents(store, conv.id) == ["q1", "a1 bis", "q2 on bis"]

    store.switch_branch(other.id, -1)
    assert contents(store, conv.id) == ["q1", "a1", "q2 on a1", "a2 on a1"]
    store.switch_branch(a1, +1)
    assert contents(store, conv.id) == ["q1", "a1 bis", "q2 on bis"]
    # New messages go after the current path's end.
    store.add_message(conv.id, Role.ASSISTANT, "a2 on bis")
    assert contents(store, conv.id)[-1] == "a2 on bis"


def test_editing_the_first_question_branches_at_the_root(store: HistoryStore) -> None:
    conv = store.create_conversation()
    q1, _ = chat(store, conv.id, "first try", "answer")
    edited = store.add_message(conv.id, Role.USER, "second try", sibling_of=q1)
    assert edited.parent_id is None
    assert contents(store, conv.id) == ["second try"]
    assert store.branch_positions([edited.id]) == {edited.id: (2, 2)}
    store.switch_branch(edited.id, -1)
    assert contents(store, conv.id) == ["first try", "answer"]


def test_selecting_a_message_on_another_branch_makes_it_current(store: HistoryStore) -> None:
    conv = store.create_conversation()
    q1, a1, q2, a2 = chat(store, conv.id, "q1", "a1", "q2", "a2")
    store.add_message(conv.id, Role.USER, "q1 edited", sibling_of=q1)
    assert contents(store, conv.id) == ["q1 edited"]
    store.select_message(q2)
    assert contents(store, conv.id) == ["q1", "a1", "q2", "a2"]  # down to the old end
    assert [m.content for m in store.messages_after(a1, limit=5)] == ["q2", "a2"]
    assert [m.content for m in store.messages_after(q1, limit=1)] == ["a1"]
    assert store.messages_after(a2, limit=5) == []


def test_branches_page_from_the_end(store: HistoryStore) -> None:
    conv = store.create_conversation()
    ids = chat(store, conv.id, *[f"m{n}" for n in range(10)])
    store.add_message(conv.id, Role.ASSISTANT, "m9 bis", sibling_of=ids[9])
    page = store.list_messages(conv.id, limit=3)
    assert [m.content for m in page] == ["m7", "m8", "m9 bis"]
    older = store.list_messages(conv.id, before_id=page[0].id, limit=3)
    assert [m.content for m in older] == ["m4", "m5", "m6"]


def test_branch_calls_on_missing_messages(store: HistoryStore) -> None:
    conv = store.create_conversation()
    with pytest.raises(NotFound):
        store.switch_branch(999, 1)
    with pytest.raises(NotFound):
        store.select_message(999)
    with pytest.raises(NotFound):
        store.add_message(conv.id, Role.USER, "x", sibling_of=999)
    assert store.get_message(999) is None
    assert store.path_to(999) == [] and store.siblings(999) == []


# The paged list, pins and the archive


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_list_pages_pinned_first_then_newest(store: HistoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversations, "time", SimpleNamespace(time=Clock()))
    made = [store.create_conversation(title=f"c{n}") for n in range(25)]
    store.set_pinned(made[3].id, True)
    store.set_pinned(made[7].id, True)
    store.set_archived(made[5].id, True)
    seen, after = [], None
    while True:
        page = store.list_conversation_page(after=after, limit=4)
        if not page:
            break
        seen += page
        after = page[-1]
    titles = [c.title for c in seen]
    expected = ["c7", "c3"] + [f"c{n}" for n in range(24, -1, -1) if n not in (3, 5, 7)]
    assert titles == expected
    assert seen[0].pinned and not seen[2].pinned
    archived = store.list_conversation_page(archived=True)
    assert [c.title for c in archived] == ["c5"] and archived[0].archived
    store.set_archived(made[5].id, False)
    assert store.list_conversation_page(archived=True) == []
    store.set_pinned(made[7].id, False)
    assert [c.title for c in store.list_conversation_page(limit=2)] == ["c3", "c24"]
    with pytest.raises(NotFound):
        store.set_pinned(999, True)


def test_list_page_uses_the_index(store: HistoryStore) -> None:
    assert store.db.connection() is not None
    plan = " ".join(
        row[3]
        for row in store.db.connection().execute(
            "EXPLAIN QUERY PLAN SELECT id FROM conversations WHERE archived = 0"
            " AND (pinned, updated_at, id) < (1, 2.0, 3) ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT 5"
        )
    )
    assert "conversations_list" in plan and "TEMP B-TREE" not in plan


def test_settings_are_saved(store: HistoryStore) -> None:
    conv = store.create_conversation(system_prompt="old")
    store.set_conversation_settings(
        conv.id, system_prompt="Be terse.", settings=ConversationSettings(temperature=0.2, seed=7)
    )
    got = store.get_conversation(conv.id)
    assert got is not None and (got.system_prompt, settings_to_json(got.settings)) == (
        "Be terse.",
        {"temperature": 0.2, "seed": 7},
    )


# Upgrading a schema 2 file (written by the lchat before branches and search)


def fixture_database(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "history_v2.sql").read_text())
    conn.close()
    return path


def test_a_schema_2_file_upgrades_without_loss(tmp_path: Path) -> None:
    path = fixture_database(tmp_path / "old.db")
    before = sqlite3.connect(path)
    old_rows = before.execute("SELECT * FROM messages ORDER BY id").fetchall()
    old_conversations = before.execute("SELECT * FROM conversations ORDER BY id").fetchall()
    before.close()
    assert len(old_rows) == 6

    with HistoryStore.open(path) as store:
        rust = store.get_conversation(1)
        assert rust is not None and (rust.title, rust.system_prompt, settings_to_json(rust.settings)) == (
            "Rust lifetimes",
            "Be brief.",
            {"temperature": 0.3},
        )
        assert not rust.pinned and not rust.archived
        messages = store.list_messages(1)
        assert [m.id for m in messages] == [1, 2, 3, 4]
        assert messages[1].energy_wh == 0.02 and messages[3].status is MessageStatus.INTERRUPTED
        assert [m.parent_id for m in messages] == [None, 1, 2, 3]
        assert [m.content for m in store.list_messages(2)] == ["Comment fait-on un café crème ?", ""]
        assert store.list_messages(3) == []
        # The old messages are searchable, and the file takes new branches.
        assert [hit.message_id for hit in store.search("lifetime")] == [2]
        assert [hit.message_id for hit in store.search("creme")] == [5]  # diacritics folded
        new = store.add_message(1, Role.ASSISTANT, "Forever.", sibling_of=4)
        assert contents(store, 1)[-1] == "Forever." and new.parent_id == 3

    after = sqlite3.connect(path)
    assert after.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    columns = len(old_rows[0])
    kept = [
        row[:columns]
        for row in after.execute(
            "SELECT id, conversation_id, role, content, status, model, backend, error, prompt_tokens,"
            " completion_tokens, ttft_s, gen_s, writer_pid, created_at, updated_at, energy_wh"
            " FROM messages WHERE id <= 6 ORDER BY id"
        )
    ]
    assert kept == old_rows
    # All but conversation 1's updated_at, which the new answer moved on.
    assert [
        row
        for row in after.execute(
            "SELECT id, title, model, backend, system_prompt, params, created_at, updated_at"
            " FROM conversations WHERE id > 1 ORDER BY id"
        )
    ] == old_conversations[1:]
    assert after.execute("SELECT title, params, created_at FROM conversations WHERE id = 1").fetchone() == (
        old_conversations[0][1],
        old_conversations[0][5],
        old_conversations[0][6],
    )
    after.close()
