"""Conversations that other lchat processes write (`lchat ask` beside the TUI) appear in the open
TUI's list by themselves, while the conversation shown and the highlighted row stay put."""

from __future__ import annotations

import asyncio

from tests.scripted_engine import ScriptedEngine
from tui.store import HistoryStore
from tui.ui.app import LchatApp
from tui.ui.widgets.conversation_list import ConversationList

SIZE = (120, 40)


def test_the_store_tells_outside_commits_from_its_own(tmp_path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as mine, HistoryStore.open(tmp_path / "h.db") as theirs:
        before = mine.outside_changes()
        mine.create_conversation(title="mine")
        assert mine.outside_changes() == before  # Its own writes are not news.
        theirs.create_conversation(title="theirs")
        assert mine.outside_changes() != before


async def test_a_conversation_written_by_another_process_appears(open_services, paths) -> None:
    services = open_services(ScriptedEngine())
    first = services.store.create_conversation(title="first")
    second = services.store.create_conversation(title="second")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        listing = app.screen.query_one(ConversationList)
        assert app.screen.conversations.current.id == second.id
        listing.highlighted = listing.get_option_index(str(first.id))  # The user looks further down.
        with HistoryStore.open(paths.database) as other:  # Another lchat's connection.
            written = other.create_conversation(title="from lchat ask")
        deadline = asyncio.get_running_loop().time() + 30
        while str(written.id) not in [listing.get_option_at_index(i).id for i in range(listing.option_count)]:
            assert asyncio.get_running_loop().time() < deadline, "the new conversation never appeared"
            await pilot.pause(0.1)
        assert app.screen.conversations.current.id == second.id  # Still the one shown.
        assert listing.highlighted_id == first.id  # And the row the user was on.
        assert listing.get_option_at_index(0).id == str(written.id)  # Newest first.
