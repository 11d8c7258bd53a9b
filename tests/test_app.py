"""The TUI driven through Pilot against the scripted engine, real SQLite underneath."""

from __future__ import annotations

import re
from io import StringIO

from rich.console import Console

from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.domain import MessageStatus, Role
from tui.engines.base import EngineCrashed
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.main_screen import PAGE_SIZE, MainScreen
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)


async def ask_in_app(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")


def terminal_bytes(app: LchatApp) -> str:
    """The exact characters Textual would write to the terminal for a full repaint."""
    update = app.screen._compositor.render_update(full=True)
    console = Console(file=StringIO(), force_terminal=True, color_system="truecolor", width=SIZE[0])
    return update.render_segments(console)


async def test_question_streams_an_answer_that_is_saved(open_services, engine) -> None:
    services = open_services(engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await ask_in_app(pilot, "hello there")
        await app.workers.wait_for_complete()
        await pilot.pause()
        views = app.screen.query(MessageView)
        assert [view.message.role for view in views] == [Role.USER, Role.ASSISTANT]
        answer = views.last()
        assert answer.message.status is MessageStatus.COMPLETE, answer.message.error
        assert answer.message.content.strip()
        assert answer.query_one(".body").source == answer.message.content
        # Title comes from the first message.
        title, _, tokens = str(app.screen.query_one("#chat-title").render()).partition(" · ")
        assert title == "hello there" and tokens.endswith("tokens")  # tokens against the context
    (conversation,) = services.store.list_conversations()
    stored = services.store.list_messages(conversation.id)
    assert [(m.role, m.status) for m in stored] == [
        (Role.USER, MessageStatus.COMPLETE),
        (Role.ASSISTANT, MessageStatus.COMPLETE),
    ]
    assert stored[0].content == "hello there" and stored[1].content == answer.message.content
    assert stored[1].backend == engine.name and stored[1].completion_tokens > 0
    if engine.name == "fake":
        assert stored[1].content == "You said: hello there"


async def test_escape_cancels_and_keeps_the_partial_answer(open_services) -> None:
    words = [f" word{n}" for n in range(400)]
    engine = ScriptedEngine(script=fixed_script(*words), delay=0.01)
    services = open_services(engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask_in_app(pilot, "go on")
        await pilot.pause(0.3)
        reads: list[int] = []  # The stopped answer comes from the service, not a re-read of the history.
        list_messages = services.store.list_messages
        services.store.list_messages = lambda cid, **kw: reads.append(cid) or list_messages(cid, **kw)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.message.status is MessageStatus.INTERRUPTED
        assert answer.has_class("-interrupted")
        assert reads == [] and answer.message == services.store.get_message(answer.message.id)
        assert services.chat.answers.take_stopped(answer.message.id) is None  # Handed over once, to the view.
    (conversation,) = services.store.list_conversations()
    stored = services.store.list_messages(conversation.id)[-1]
    assert stored.status is MessageStatus.INTERRUPTED
    assert 0 < len(stored.content) < len("".join(words))
    assert "".join(words).startswith(stored.content)


async def test_engine_failure_is_shown_and_the_partial_answer_kept(open_services) -> None:
    engine = ScriptedEngine(
        script=fixed_script("partial", " answer", " lost"),
        fail_after=2,
        error=EngineCrashed("engine crashed (SIGSEGV)"),
    )
    services = open_services(engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask_in_app(pilot, "boom")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.has_class("-error")
        assert "engine crashed (SIGSEGV)" in str(answer.query_one(".error-text").render())
        # The app is alive and the next question works.
        engine.fail_after = None
        await ask_in_app(pilot, "again")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
    (conversation,) = services.store.list_conversations()
    failed = services.store.list_messages(conversation.id)[1]
    assert (failed.status, failed.content, failed.error) == (
        MessageStatus.ERROR,
        "partial answer",
        "engine crashed (SIGSEGV)",
    )


async def test_switching_conversations_shows_each_history(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    store = services.store
    first = store.create_conversation(title="first chat", model="fake-model", backend="fake")
    store.add_message(first.id, Role.USER, "question one")
    second = store.create_conversation(title="second chat", model="fake-model", backend="fake")
    store.add_message(second.id, Role.USER, "question two")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.conversations.current.id == second.id  # the newest opens first
        await pilot.press("f2")
        assert app.focused is screen.query_one(ConversationList)
        await pilot.press("j", "enter")
        await pilot.pause()
        assert screen.conversations.current.id == first.id
        assert [v.message.content for v in screen.query(MessageView)] == ["question one"]
        await pilot.press("f2", "k", "enter")
        await pilot.pause()
        assert [v.message.content for v in screen.query(MessageView)] == ["question two"]


async def test_history_survives_a_restart(open_services, paths, fake_engine) -> None:
    services = open_services(fake_engine)
    async with LchatApp(services).run_test(size=SIZE) as pilot:
        await ask_in_app(pilot, "remember me")
        await pilot.app.workers.wait_for_complete()
    services.store.close()
    again = open_services(ScriptedEngine())
    app = LchatApp(again)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = [v.message.content for v in app.screen.query(MessageView)]
        assert shown == ["remember me", "You said: remember me"]


async def test_interrupted_answer_from_a_dead_process_is_marked(open_services, paths, fake_engine, notified) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="cut off")
    services.store.add_message(conversation.id, Role.USER, "tell me")
    answer = services.store.add_message(conversation.id, Role.ASSISTANT, "half an ans", status=MessageStatus.STREAMING)
    services.store.close()  # as if the process died: the row is still 'streaming'
    again = open_services(fake_engine)
    app = LchatApp(again)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query(MessageView).last()
        assert view.message_id == answer.id
        assert view.message.status is MessageStatus.INTERRUPTED
        assert view.has_class("-interrupted")
        assert any("cut off" in n.message for n in notified)


async def test_delete_asks_first(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    keep = services.store.create_conversation(title="keep me")
    doomed = services.store.create_conversation(title="delete me")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert services.store.get_conversation(doomed.id) is not None
        await pilot.press("f2", "d")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert services.store.get_conversation(doomed.id) is None
        assert services.store.get_conversation(keep.id) is not None
        assert app.screen.conversations.current.id == keep.id


async def test_long_conversation_mounts_a_page_then_more_on_scroll(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="long")
    for n in range(200):
        role = Role.USER if n % 2 == 0 else Role.ASSISTANT
        services.store.add_message(conversation.id, role, f"message {n}")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.screen.query_one(ChatView)
        assert len(chat.message_views) == PAGE_SIZE
        assert chat.message_views[-1].message.content == "message 199"
        chat.focus()
        await pilot.press("home")
        await pilot.pause(0.2)
        assert len(chat.message_views) >= 2 * PAGE_SIZE
        contents = [v.message.content for v in chat.message_views]
        assert contents == [f"message {n}" for n in range(200 - len(contents), 200)]


async def test_composer_ctrl_j_makes_a_new_line(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "ctrl+j", "b", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).first().message.content == "a\nb"


HOSTILE = (
    "safe start \x1b]52;c;ZWNobyBwd25lZA==\x07 clipboard"
    " \x1b[2J clear \x1b]2;owned title\x07 \x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\"
    " \x9b31m c1 \u202eevil\u202c end"
)


async def test_hostile_escape_sequences_never_reach_the_terminal(open_services) -> None:
    engine = ScriptedEngine(models=["\x1b]2;model-title\x07evil"], script=fixed_script(HOSTILE))
    services = open_services(engine)
    services.store.create_conversation(title="\x1b]2;pwned\x07 \x1b[2J title")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask_in_app(pilot, "hi")
        await app.workers.wait_for_complete()
        await pilot.pause()
        output = terminal_bytes(app)
    # Only SGR (colours) and cursor moves may be written: no OSC, no clears, no C1, no BEL.
    sequences = set(re.findall(r"\x1b(?:\[[0-9;?]*[A-Za-z]|.)", output))
    assert all(re.fullmatch(r"\x1b\[[0-9;]*[mH]", seq) for seq in sequences), sequences
    assert not re.search(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output)
    assert "clipboard" in output and "title" in output  # the text itself is shown
    (conversation,) = services.store.list_conversations()
    assert services.store.list_messages(conversation.id)[-1].content == HOSTILE  # raw text stored
