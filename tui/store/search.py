"""Full-text search over every message, through the FTS5 index the schema keeps in step."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from tui.domain import MATCH_END, MATCH_START, Role, SearchHit

SNIPPET_TOKENS = 12
"""Words of context around a match in a result's snippet."""
_TERM = re.compile(r'"([^"]*)"?|(\S+)')


def fts_query(text: str) -> str | None:
    """The FTS5 query for what the user typed, or None when there is nothing to look for.

    Every word must match; "quoted words" match as a phrase; the last bare word also
    matches as a prefix (from two characters on) so results follow the typing. Each term
    is quoted, so FTS5's own operators in the text are taken literally.
    """
    terms: list[str] = []
    matches = list(_TERM.finditer(text))
    for index, match in enumerate(matches):
        phrase, word = match.group(1), match.group(2)
        term = phrase if phrase is not None else word
        if not re.search(r"\w", term):
            continue
        quoted = '"' + term.replace('"', '""') + '"'
        last_typed = index == len(matches) - 1 and word is not None and not text[-1:].isspace()
        if last_typed and len(re.sub(r"\W", "", word)) >= 2:
            quoted += "*"
        terms.append(quoted)
    return " ".join(terms) or None


class SearchMixin:
    """The part of :class:`HistoryStore` that answers searches."""

    _read: Callable[[str, Sequence[Any]], list[sqlite3.Row]]

    def search(self, text: str, *, limit: int = 50, include_parts: bool = False) -> list[SearchHit]:
        """Messages matching ``text``, newest first; ``include_parts`` also looks in their
        reasoning and tool results (a hit there is marked ``in_part``).

        Newest first rather than by rank: bm25 must score every match before it can return
        the best, which on a common word over a million messages takes about a second, while
        walking the index backwards by id stops after ``limit`` matches.
        """
        query = fts_query(text)
        if query is None:
            return []
        marks = (MATCH_START, MATCH_END, SNIPPET_TOKENS, query, limit)
        found = self._read(
            "SELECT m.id, m.conversation_id, c.title, m.role, f.snippet, m.created_at, c.archived, 0"
            " FROM (SELECT rowid, snippet(messages_fts, 0, ?, ?, '…', ?) AS snippet"
            "       FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f"
            " JOIN messages m ON m.id = f.rowid"
            " JOIN conversations c ON c.id = m.conversation_id",
            marks,
        )
        if include_parts:
            found += self._read(
                "SELECT m.id, m.conversation_id, c.title, m.role, f.snippet, m.created_at, c.archived, 1"
                " FROM (SELECT rowid, snippet(parts_fts, 0, ?, ?, '…', ?) AS snippet"
                "       FROM parts_fts WHERE parts_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f"
                " JOIN message_parts p ON p.id = f.rowid"
                " JOIN messages m ON m.id = p.message_id"
                " JOIN conversations c ON c.id = m.conversation_id",
                marks,
            )
        found.sort(key=lambda row: row[0], reverse=True)
        return [
            SearchHit(
                message_id=row[0],
                conversation_id=row[1],
                conversation_title=row[2],
                role=Role(row[3]),
                snippet=row[4],
                created_at=row[5],
                archived=bool(row[6]),
                in_part=bool(row[7]),
            )
            for row in found[:limit]
        ]
