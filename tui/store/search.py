"""Full-text search over every message, through the FTS5 index the schema keeps in step."""

from __future__ import annotations

import re

from tui.domain import MATCH_END, MATCH_START, Role, SearchHit
from tui.store.cjk import RUN, query_text
from tui.store.db import Database
from tui.store.snippet import snippet, term_pattern

SNIPPET_TOKENS = 12
"""Words of context around a match in a result's snippet."""
MAX_TERMS = 32
"""Words and phrases of one search that are looked for; any more are left out (each one more
costs FTS5 a pass, and a pasted page of text would take minutes)."""
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _terms(text: str) -> list[tuple[str, bool]]:
    """The words and "quoted phrases" typed, each with whether it is searched as a prefix:
    the last bare word is, from two characters on, so results follow the typing."""
    # Control characters separate words anyway; a NUL would end FTS5's reading of the query.
    text = _CONTROL.sub(" ", text)
    terms: list[tuple[str, bool]] = []
    matches = list(_TERM.finditer(text))
    for index, match in enumerate(matches):
        phrase, word = match.group(1), match.group(2)
        term = phrase if phrase is not None else word
        if not re.search(r"\w", term):
            continue
        last_typed = index == len(matches) - 1 and word is not None and not text[-1:].isspace()
        found = (term, last_typed and len(re.sub(r"\W", "", word)) >= 2)
        if found not in terms:
            terms.append(found)
        if len(terms) == MAX_TERMS:
            break
    return terms


def fts_query(text: str) -> str | None:
    """The FTS5 query for what the user typed, or None when there is nothing to look for.

    Every word must match; "quoted words" match as a phrase; the last bare word also
    matches as a prefix (from two characters on). Each term is quoted, so FTS5's own
    operators in the text are taken literally; CJK in it becomes the phrase of its bigrams
    (one CJK character alone, a look-up in the index's chars column).
    """
    return _fts_query(_terms(text))


def _fts_query(terms: list[tuple[str, bool]]) -> str | None:
    quoted: list[str] = []
    for term, prefix in terms:
        phrase, needs_prefix = query_text(term)
        if needs_prefix and RUN.fullmatch(phrase) and len(phrase) == 1:
            quoted.append(f'chars : "{phrase}"')  # One CJK character alone: one term to look up.
            continue
        quoted.append('"' + phrase.replace('"', '""') + '"' + ("*" if prefix or needs_prefix else ""))
    return " ".join(quoted) or None


class Search:
    """The part of :class:`HistoryStore` that answers searches."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def search(self, text: str, *, limit: int = 50, include_parts: bool = False) -> list[SearchHit]:
        """Messages matching ``text``, newest first; ``include_parts`` also looks in their
        reasoning and tool results (a hit there is marked ``in_part``).

        Newest first rather than by rank: bm25 must score every match before it can return
        the best, which on a common word over a million messages takes about a second, while
        walking the index backwards by id stops after ``limit`` matches.
        """
        terms = _terms(text)
        query = _fts_query(terms)
        if query is None:
            return []
        found = self._db.read(
            "SELECT m.id, m.conversation_id, c.title, m.role, m.content, m.created_at, c.archived, 0"
            " FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f"
            " JOIN messages m ON m.id = f.rowid"
            " JOIN conversations c ON c.id = m.conversation_id",
            (query, limit),
        )
        if include_parts:
            found += self._db.read(
                "SELECT m.id, m.conversation_id, c.title, m.role, p.text, m.created_at, c.archived, 1"
                " FROM (SELECT rowid FROM parts_fts WHERE parts_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f"
                " JOIN message_parts p ON p.id = f.rowid"
                " JOIN messages m ON m.id = p.message_id"
                " JOIN conversations c ON c.id = m.conversation_id",
                (query, limit),
            )
        found.sort(key=lambda row: row[0], reverse=True)
        patterns = [p for p in (term_pattern(term, prefix) for term, prefix in terms) if p is not None]
        return [
            SearchHit(
                message_id=row[0],
                conversation_id=row[1],
                conversation_title=row[2],
                role=Role(row[3]),
                snippet=snippet(row[4], patterns, words=SNIPPET_TOKENS, start=MATCH_START, end=MATCH_END, ellipsis="…"),
                created_at=row[5],
                archived=bool(row[6]),
                in_part=bool(row[7]),
            )
            for row in found[:limit]
        ]
