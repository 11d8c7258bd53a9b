"""A history that cannot grow (SQLITE_FULL without root) and an engine child that stops mid-answer,
under Pilot: a clear message, nothing lost, and lchat keeps working.

The disk is "full" through `PRAGMA max_page_count` on lchat's own connection: writes that need a
new page fail with SQLITE_FULL, as on a full disk (RLIMIT_FSIZE would kill the process instead,
and a small tmpfs needs root).
"""

from __future__ import annotations

import os
import signal
import time

from tests.scripted_engine import ScriptedEngine, fixed_script
from tests.test_faults import deterministic_config, embedded, needs_starter, send, wait_until
from tui.domain import MessageStatus, Role
from tui.engines.embedded import engine as embedded_module
from tui.ui.app import LchatApp
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)
LINE = "a line of the answer that takes room in the history file, " * 2
"""About 120 bytes: 300 of them need new pages."""


def limit_pages(services, pages: int | None) -> None:
    """Let lchat's history connection grow to `pages` pages at most (None: its size now)."""
    conn = services.store.db.connection()  # max_page_count belongs to one connection
    if pages is None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_full_history_refuses_the_question_and_keeps_it(open_services) -> None:
    pieces = [LINE] * 20
    services = open_services(ScriptedEngine(script=fixed_script(*pieces)))
    before = services.store.create_conversation(title="before", model="fake-model", backend="fake")
    services.store.add_message(before.id, Role.USER, "kept from before")
    app = LchatApp(services)
    question = "a long question " * 2000  # 32 KB: it needs pages the file may not have
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        limit_pages(services, None)
        app.screen.query_one(Composer).text = question
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("could not be saved" in n and "full" in n for n in notes(app)), notes(app)
        assert app.screen.query_one(Composer).text == question  # nothing lost: the text is back
        limit_pages(services, 1_000_000)  # space returns
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
    saved = [m.content for c in services.store.list_conversations() for m in services.store.list_messages(c.id)]
    assert sorted(saved) == sorted(["kept from before", question, "".join(pieces)])  # each once, whole
    assert services.store.db.connection().execute("PRAGMA quick_check").fetchone()[0] == "ok"


async def test_the_history_fills_up_mid_answer(open_services) -> None:
    pieces = [f"{n} {LINE}" for n in range(300)]
    engine = ScriptedEngine(script=fixed_script(*pieces), delay=0.01)
    services = open_services(engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "fill it")
        await wait_until(
            pilot,
            lambda: (
                len(app.screen.query(MessageView)) == 2
                and app.screen.query(MessageView).last().query_one(".body").source
            ),
        )
        limit_pages(services, None)  # the remaining 35 KB need pages the file may not have
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.message.content == "".join(pieces)  # shown in full
        assert any("could not be saved" in n for n in notes(app)), notes(app)
        (conversation,) = services.store.list_conversations()
        kept = services.store.list_messages(conversation.id)[-1]
        assert kept.content and "".join(pieces).startswith(kept.content)  # what was committed is intact
        limit_pages(services, 1_000_000)  # space returns: the next question saves the whole answer first
        engine.script = fixed_script("ok")
        await send(pilot, "again")
        await app.workers.wait_for_complete()
    question, saved, *_ = services.store.list_messages(conversation.id)
    assert question.content == "fill it"
    assert saved.content == "".join(pieces) and saved.status is MessageStatus.COMPLETE


def state_of(pid: int) -> str:
    """A process's state letter from /proc ("T": stopped)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]


@needs_starter
async def test_a_stopped_engine_child(open_services, paths, monkeypatch) -> None:
    # Waiting on the stopped child (to drain the cancelled answer) would now take a minute: the
    # bounds below, loose enough for a loaded 2-core machine, tell that apart from not waiting.
    monkeypatch.setattr(embedded_module, "DRAIN_TIMEOUT_S", 60.0)
    engine = embedded(paths)
    services = open_services(engine, config=deterministic_config())
    app = LchatApp(services)
    stopped = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "Count from 1 to 300, one number per line.")
            await wait_until(
                pilot,
                lambda: (
                    len(app.screen.query(MessageView)) == 2
                    and len(app.screen.query(MessageView).last().query_one(".body").source) > 20
                ),
            )
            stopped = engine.child_pid
            os.kill(stopped, signal.SIGSTOP)
            await pilot.press("escape")
            await wait_until(
                pilot,
                lambda: app.screen.query(MessageView).last().message.status is MessageStatus.INTERRUPTED,
                timeout=30,
            )
            assert state_of(stopped) == "T"  # Esc came back while the child could not have said a word
            assert app.screen.query(MessageView).last().message.content
            started = time.monotonic()
            await send(pilot, "Say hello.")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
            assert engine.child_pid not in (None, stopped)  # a new child answered...
            assert time.monotonic() - started < 45  # ...without waiting out the drain on the stopped one
        (conversation,) = services.store.list_conversations()
        statuses = [m.status for m in services.store.list_messages(conversation.id)]
        assert statuses == [
            MessageStatus.COMPLETE,
            MessageStatus.INTERRUPTED,
            MessageStatus.COMPLETE,
            MessageStatus.COMPLETE,
        ]
    finally:
        if stopped is not None:
            try:
                os.kill(stopped, signal.SIGKILL)
            except ProcessLookupError:
                pass
