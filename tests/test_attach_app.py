"""Attaching files in the TUI, driven through Pilot: alt+a, chips, sending, a pasted path."""

from __future__ import annotations

from pathlib import Path

from textual import events

from tests.scripted_engine import ScriptedEngine
from tui.domain import PartKind, Role
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import InputQuestion
from tui.ui.widgets.attachment_chips import AttachmentChips
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)


async def attach_by_keys(app: LchatApp, pilot, path: Path) -> None:
    await pilot.press("alt+a")
    await pilot.pause()
    assert isinstance(app.screen, InputQuestion)
    await pilot.press(*str(path))
    await pilot.press("enter")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_attached_file_is_sent_with_the_question_and_stored(open_services, fake_engine, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is pelican\n")
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await attach_by_keys(app, pilot, notes)
        chips = app.screen.query_one(AttachmentChips)
        assert chips.display and chips.option_count == 1
        assert "notes.txt" in str(chips.get_option_at_index(0).prompt) and "27 B" in str(
            chips.get_option_at_index(0).prompt
        )
        assert isinstance(app.focused, Composer)
        await pilot.press(*"what is the word?", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert chips.option_count == 0 and not chips.display
        assert app.screen.attach.pending == []
        question = app.screen.query(MessageView).first()
        assert question.message.role is Role.USER
        assert "📎 notes.txt · 27 B" in str(question.query_one(".attachments").render())
    _model, turns, _options = fake_engine.requests[-1]
    sent = turns[-1]
    assert sent.content == "what is the word?"
    assert [(a.name, a.mime, a.data) for a in sent.attachments] == [("notes.txt", "text/plain", notes.read_bytes())]
    (conversation,) = services.store.list_conversations()
    stored = services.store.list_messages(conversation.id)[0]
    (part,) = stored.parts_of(PartKind.ATTACHMENT)
    assert part.data["name"] == "notes.txt" and part.data["size"] == 27


async def test_delete_takes_a_chip_off_before_sending(open_services, fake_engine, tmp_path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("alpha\n")
    second.write_text("beta\n")
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await attach_by_keys(app, pilot, first)
        await attach_by_keys(app, pilot, second)
        chips = app.screen.query_one(AttachmentChips)
        assert chips.option_count == 2
        chips.focus()
        await pilot.pause()
        chips.highlighted = 0
        await pilot.press("delete")
        await pilot.pause()
        assert [a.name for a in app.screen.attach.pending] == ["b.txt"] and chips.option_count == 1
        app.screen.query_one(Composer).focus()
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    _model, turns, _options = fake_engine.requests[-1]
    assert [a.name for a in turns[-1].attachments] == ["b.txt"]


async def test_a_binary_file_is_refused_with_a_toast(open_services, fake_engine, tmp_path, notified) -> None:
    blob = tmp_path / "program.bin"
    blob.write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await attach_by_keys(app, pilot, blob)
        assert app.screen.attach.pending == []
        assert not app.screen.query_one(AttachmentChips).display
        assert any("program.bin" in n.message and "neither text nor an image" in n.message for n in notified)


async def test_a_pasted_path_asks_and_attaches(open_services, fake_engine, tmp_path) -> None:
    notes = tmp_path / "pasted notes.md"
    notes.write_text("# Notes\n")
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        composer = app.screen.query_one(Composer)
        app.post_message(events.Paste(f"  '{notes}'\n"))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [a.name for a in app.screen.attach.pending] == ["pasted notes.md"]
        assert composer.text == ""
        # Declined: the text goes in as pasted.
        app.post_message(events.Paste(str(notes)))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert composer.text == str(notes) and len(app.screen.attach.pending) == 1


async def test_a_pasted_text_that_is_no_file_is_pasted(open_services, fake_engine, tmp_path) -> None:
    (tmp_path / "folder").mkdir()
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        composer = app.screen.query_one(Composer)
        for text in (str(tmp_path / "missing.txt"), str(tmp_path / "folder"), "hello world"):
            composer.clear()
            app.post_message(events.Paste(text))
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert composer.text == text


async def test_a_refused_send_keeps_the_chips_and_the_text(open_services, tmp_path, notified) -> None:
    big = tmp_path / "big.log"
    big.write_text("a line of a long log file\n" * 200)
    engine = ScriptedEngine(context_cap=256)
    services = open_services(engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await attach_by_keys(app, pilot, big)
        assert [a.name for a in app.screen.attach.pending] == ["big.log"]
        await pilot.press(*"look", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        # It cannot fit the 256-token context: refused before anything is stored or sent.
        assert any(n.severity == "error" and "nothing was sent" in n.message for n in notified)
        assert [a.name for a in app.screen.attach.pending] == ["big.log"]
        assert app.screen.query_one(AttachmentChips).option_count == 1
        assert app.screen.query_one(Composer).text == "look"
    assert engine.requests == []
    assert all(not services.store.list_messages(c.id) for c in services.store.list_conversations())


async def test_alt_a_from_a_real_terminal_opens_the_dialog_and_types_nothing(open_services, fake_engine) -> None:
    """A terminal sends alt+a as ESC a, which Textual reports with the character "a": the composer
    must not type it (it did, in tmux) but leave it to the screen's binding."""
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.pause()
        app.post_message(events.Key("alt+a", "a"))  # as the driver delivers it
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, InputQuestion) and composer.text == ""
