"""Conversation history in SQLite; no Textual here."""

from tui.store.errors import DatabaseCorrupt, NotFound, SchemaTooNew, StoreError, StoreFull
from tui.store.history import HistoryStore

__all__ = [
    "DatabaseCorrupt",
    "HistoryStore",
    "NotFound",
    "SchemaTooNew",
    "StoreError",
    "StoreFull",
]
