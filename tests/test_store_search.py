"""Full-text search: the FTS5 index follows every write, and queries are built safely."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    """The index holds exactly what indexing today's messages afresh gives (no token a delete
    missed), and FTS5 finds its own structure sound."""
    conn = store.db.connection()
    assert conn is not None
    conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
    conn.execute(
        "CREATE VIRTUAL TABLE temp.fresh USING fts5(content, chars, content='',"
        " tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
    )
    conn.execute(
        "INSERT INTO temp.fresh (rowid, content, chars)"
        " SELECT id, lchat_search_text(content), lchat_search_chars(content) FROM messages"
    )
    conn.execute("CREATE VIRTUAL TABLE temp.kept_terms USING fts5vocab(main, messages_fts, 'instance')")
    conn.execute("CREATE VIRTUAL TABLE temp.fresh_terms USING fts5vocab(temp, fresh, 'instance')")
    try:
        kept = conn.execute("SELECT term, doc, col, offset FROM temp.kept_terms ORDER BY 1, 2, 3, 4").fetchall()
        fresh = conn.execute("SELECT term, doc, col, offset FROM temp.fresh_terms ORDER BY 1, 2, 3, 4").fetchall()
    finally:
        for table in ("kept_terms", "fresh_terms", "fresh"):
            conn.execute(f"DROP TABLE temp.{table}")
    assert [tuple(row) for row in kept] == [tuple(row) for row in fresh]
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
        # CJK runs become the phrase of their bigrams; a lone character is a prefix of them.
        ("天気", '"天気"*'),
        ("天気 ", '"天気"'),
        ("天", 'chars : "天"'),
        ("天 ", 'chars : "天"'),
        ("天気予報 ", '"天気 気予 予報"'),
        ("東京 tower", '"東京" "tower"*'),
        ('"東京 tower"', '"東京 京 tower"'),
        ("Python入門 ", '"Python 入門"'),
        ('"tower 天"', '"tower 天"*'),
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
    assert store.db.connection() is not None
    plan = [
        row[3]
        for row in store.db.connection().execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'x'"
            " ORDER BY rowid DESC LIMIT 50"
        )
    ]
    assert plan and all("TEMP B-TREE" not in step for step in plan)


# CJK: words inside unspaced sentences


JAPANESE = "今日は東京の天気について質問があります。明日は晴れですか？"
CHINESE = "我想了解一下北京明天的天气情况，谢谢。"
KOREAN = "서울에서 내일 날씨가 어떻습니까?"


@pytest.fixture
def cjk(store: HistoryStore) -> dict[str, int]:
    conv = store.create_conversation(title="天気")
    texts = {
        "ja": JAPANESE,
        "zh": CHINESE,
        "ko": KOREAN,
        "kana": "新しいコンピューターでPythonプログラミングを始めました",
        "latin": "Python is a programming language; the quick brown fox",
    }
    return {key: store.add_message(conv.id, Role.USER, text).id for key, text in texts.items()}


@pytest.mark.parametrize(
    ("typed", "keys"),
    [
        ("天気", {"ja"}),  # two characters, inside the sentence
        ("天気 ", {"ja"}),
        ("東京の天気", {"ja"}),  # across a particle
        ("質問", {"ja"}),
        ("晴れ", {"ja"}),  # after a full stop: a second run
        ("天", {"ja", "zh"}),  # one character: 天 starts a bigram in both
        ("す", {"ja"}),  # one character that ends its run (ます。)
        ("北京", {"zh"}),
        ("天气情况", {"zh"}),  # four characters
        ("明天的", {"zh"}),  # three characters
        ("コンピューター", {"kana"}),  # katakana word with a long-vowel mark
        ("プログラミング", {"kana"}),
        ("날씨", {"ko"}),  # Korean: a word with its particle attached (날씨가)
        ("서울", {"ko"}),
        ("東京 質問", {"ja"}),  # every word must match
        ("東京 北京", set()),
        ("Python プログラミング", {"kana"}),  # Latin and CJK in one query
        ("Python", {"kana", "latin"}),
        ("pyth", {"kana", "latin"}),  # a Latin prefix still works
        ("pyth ", set()),  # ...and a finished Latin word is whole
        ('"quick brown"', {"latin"}),  # phrases still work
        ('"brown quick"', set()),
        ('"Pythonプログラミング"', {"kana"}),
        ('"東京の天気"', {"ja"}),
        ("大阪", set()),
        ("京東", set()),  # the characters, but not in this order
    ],
)
def test_cjk_words_are_found_inside_sentences(
    store: HistoryStore, cjk: dict[str, int], typed: str, keys: set[str]
) -> None:
    assert set(found(store, typed)) == {cjk[key] for key in keys}


@pytest.mark.parametrize(
    ("typed", "marked"),
    [
        ("天気", "東京の\x02天気\x03について"),
        ("天", "東京の\x02天\x03気について"),
        ("날씨", "내일 \x02날씨\x03가"),
        ("コンピューター", "新しい\x02コンピューター\x03で"),
        ("pyth", "\x02Python\x03プログラミング"),
        ('"Pythonプログラミング"', "\x02Pythonプログラミング\x03"),
    ],
)
def test_cjk_snippets_show_the_original_text(store: HistoryStore, cjk: dict[str, int], typed: str, marked: str) -> None:
    hits = store.search(typed)
    assert hits, typed
    # The stored text, marked where it matched: no bigrams, no added spaces.
    assert any(marked in hit.snippet for hit in hits), [hit.snippet for hit in hits]
    for hit in hits:
        plain = hit.snippet.replace(MATCH_START, "").replace(MATCH_END, "").strip("…")
        assert any(plain in text for text in (JAPANESE, CHINESE, KOREAN)) or plain.isascii() or "Python" in plain


def test_a_long_cjk_text_gets_a_short_snippet_around_its_match(store: HistoryStore) -> None:
    conv = store.create_conversation()
    text = "あ" * 300 + "東京の天気" + "い" * 300
    store.add_message(conv.id, Role.ASSISTANT, text)
    (hit,) = store.search("天気")
    assert f"の{MATCH_START}天気{MATCH_END}い" in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(hit.snippet) < 60


def test_cjk_in_reasoning_and_tool_results_is_found_when_asked(store: HistoryStore) -> None:
    from tui.domain import MessagePart, PartKind

    conv = store.create_conversation()
    reasoning = MessagePart(kind=PartKind.REASONING, text="ユーザーは東京の天気を知りたい")
    answer = store.add_message(conv.id, Role.ASSISTANT, "晴れです", parts=[(reasoning, None)])
    assert found(store, "天気") == []
    (hit,) = store.search("天気", include_parts=True)
    assert (hit.message_id, hit.in_part) == (answer.id, True)
    assert f"東京の{MATCH_START}天気{MATCH_END}を" in hit.snippet


def test_the_cjk_index_follows_edits_and_deletes(store: HistoryStore) -> None:
    conv = store.create_conversation()
    answer = store.add_message(conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    store.update_message_content(answer.id, "東京の天気")
    assert found(store, "天気") == [answer.id]
    store.finish_message(answer.id, content="大阪の雨", status=MessageStatus.COMPLETE)
    assert found(store, "天気") == [] and found(store, "大阪") == [answer.id]
    assert index_is_consistent(store)
    store.delete_conversation(conv.id)
    assert found(store, "大阪") == [] and found(store, "雨") == []
    assert index_is_consistent(store)


_KANA_AND_HAN = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(0x3041, 0x3097)]
        + [chr(c) for c in range(0x30A1, 0x30FB)]
        + [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
        + [chr(c) for c in range(0xAC00, 0xAC00 + 200)]
    ),
    min_size=2,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_KANA_AND_HAN, data=st.data())
def test_any_cjk_substring_is_found(store: HistoryStore, text: str, data: st.DataObject) -> None:
    conv = store.create_conversation()
    message = store.add_message(conv.id, Role.USER, text)
    start = data.draw(st.integers(0, len(text) - 2))
    end = data.draw(st.integers(start + 2, len(text)))
    # Typed as the last word (a prefix) and as a finished one; and as a "phrase".
    for typed in (text[start:end], text[start:end] + " ", f'"{text[start:end]}"'):
        hits = store.search(typed, limit=1)
        assert [hit.message_id for hit in hits] == [message.id], typed
        assert f"{MATCH_START}{text[start:end]}{MATCH_END}" in hits[0].snippet
    # One character alone is found too, wherever it sits in its run.
    assert [hit.message_id for hit in store.search(text[start], limit=1)] == [message.id]
