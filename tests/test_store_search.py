"""Full-text search: the FTS5 index follows every write, and queries are built safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.domain import MATCH_END, MATCH_START, MessageStatus, Role
from tui.store import HistoryStore
from tui.store.search import fts_query


@pytest.fixture
def store(tmp_path: Path):
    with HistoryStore.open(tmp_path / "history.db") as opened:
        yield opened


def found(store: HistoryStore, text: str) -> list[int]:
    return [hit.message_id for hit in store.search(text)]


def index_is_consistent(store: HistoryStore) -> bool:
    assert store._conn is not None
    # FTS5 compares its index with the messages table and raises if they differ.
    store._conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
    return True


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("", None),
        ("   ", None),
        ("py", '"py"*'),
        ("p", '"p"'),
        ("python ", '"python"'),
        ("rust lifetimes", '"rust" "lifetimes"*'),
        ('"exact phrase" tail', '"exact phrase" "tail"*'),
        ('say "unfinished', '"say" "unfinished"'),
        ("NEAR(a b) OR c*", '"NEAR(a" "b)" "OR" "c*"'),
        ('a"b', '"a""b"*'),
        ("- * ()", None),
    ],
)
def test_typed_text_becomes_a_quoted_query(typed: str, query: str | None) -> None:
    assert fts_query(typed) == query


def test_the_index_follows_inserts_streaming_edits_and_deletes(store: HistoryStore) -> None:
    conv = store.create_conversation(title="Snakes")
    question = store.add_message(conv.id, Role.USER, "Tell me about pythons")
    assert found(store, "pythons") == [question.id]

    answer = store.add_message(conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    store.update_message_content(answer.id, "Pythons are constrictors")
    assert found(store, "constrictors") == [answer.id]
    store.finish_message(answer.id, content="Pythons squeeze their prey", status=MessageStatus.COMPLETE)
    assert found(store, "constrictors") == []
    assert found(store, "squeeze") == [answer.id]
    assert found(store, "pythons") == [answer.id, question.id]  # newest first

    other = store.create_conversation()
    kept = store.add_message(other.id, Role.USER, "pythons elsewhere")
    store.delete_conversation(conv.id)
    assert found(store, "pythons") == [kept.id]
    assert found(store, "squeeze") == []
    assert index_is_consistent(store)


def test_hits_carry_the_conversation_and_a_marked_snippet(store: HistoryStore) -> None:
    conv = store.create_conversation(title="Travel")
    store.set_archived(conv.id, True)
    long_text = " ".join(["filler"] * 40 + ["the", "Zürich", "train"] + ["filler"] * 40)
    message = store.add_message(conv.id, Role.ASSISTANT, long_text)
    (hit,) = store.search("zurich")
    assert (hit.message_id, hit.conversation_id, hit.conversation_title) == (message.id, conv.id, "Travel")
    assert hit.role is Role.ASSISTANT and hit.archived
    assert f"{MATCH_START}Zürich{MATCH_END}" in hit.snippet
    assert len(hit.snippet) < len(long_text) / 2


def test_prefixes_phrases_and_every_word(store: HistoryStore) -> None:
    conv = store.create_conversation()
    a = store.add_message(conv.id, Role.USER, "the quick brown fox").id
    b = store.add_message(conv.id, Role.USER, "a brown quick dog").id
    assert found(store, "qu") == [b, a]
    assert found(store, "brown fo") == [a]
    assert found(store, '"quick brown"') == [a]
    assert found(store, "quick cat") == []
    # Operators and stray quotes are taken as text, never as a syntax error.
    for odd in ('"', "AND", "NEAR(", "fox OR", "*", "^x", "a:b", "col:quick"):
        store.search(odd)


def test_search_is_newest_first_and_limited(store: HistoryStore) -> None:
    conv = store.create_conversation()
    ids = [store.add_message(conv.id, Role.USER, f"common word {n}").id for n in range(30)]
    assert found(store, "common") == ids[::-1][:30]
    assert [h.message_id for h in store.search("common", limit=5)] == ids[::-1][:5]


def test_search_plan_walks_the_index_backwards(store: HistoryStore) -> None:
    """Newest-first must not rank (bm25) or sort every match before the LIMIT."""
    assert store._conn is not None
    plan = [
        row[3]
        for row in store._conn.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'x'"
            " ORDER BY rowid DESC LIMIT 50"
        )
    ]
    assert plan and all("TEMP B-TREE" not in step for step in plan)
