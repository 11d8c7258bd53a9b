"""The TUI's history features under Pilot: the paged list, rename, pin, archive, search,
branches (regenerate, edit and resend), settings, presets, copy and the context header."""

from __future__ import annotations

from tests.scripted_engine import ScriptedEngine
from tui.config import Config, PresetConfig
from tui.domain import ConversationSettings, Role
from tui.store.codec import settings_to_json
from tui.ui.app import LchatApp
from tui.ui.screens.prompts import InputQuestion
from tui.ui.screens.search_screen import SearchScreen
from tui.ui.screens.settings_screen import SettingsScreen
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)


async def ask(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown(app) -> list[str]:
    return [view.message.content for view in app.screen.query(MessageView)]


async def settled(pilot, done, tries: int = 100) -> None:
    """Wait for the debounced search (a worker that starts after the keys are handled)."""
    for _ in range(tries):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError("the search did not finish")


def notes(app) -> str:
    return " | ".join(n.message for n in app._notifications)


def title(app) -> str:
    return str(app.screen.query_one("#chat-title").render())


def counting_engine() -> ScriptedEngine:
    """Answers "answer 1", "answer 2", ... so each regeneration differs."""
    count = iter(range(1, 1000))
    return ScriptedEngine(script=lambda turns: [f"answer {next(count)}"])


# The list


async def test_the_list_loads_a_page_then_more_as_the_cursor_nears_its_end(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    store = services.store
    for n in range(250):
        store.create_conversation(title=f"chat {n}")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        listing = app.screen.query_one(ConversationList)
        assert listing.option_count == 100 and listing.has_more
        await pilot.press("f2", "G")  # to the last loaded row: the next page arrives
        await pilot.pause()
        assert listing.option_count == 200
        await pilot.press("G")
        await pilot.pause()
        assert listing.option_count == 250 and not listing.has_more


async def test_rename_pin_and_archive_by_key(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    store = services.store
    older = store.create_conversation(title="older")
    newer = store.create_conversation(title="newer")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        listing = app.screen.query_one(ConversationList)
        await pilot.press("f2", "r")
        await pilot.pause()
        assert isinstance(app.screen, InputQuestion)
        await pilot.press("ctrl+u", *"renamed", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert store.get_conversation(newer.id).title == "renamed"
        assert title(app).startswith("renamed")  # it is the open one

        await pilot.press("j", "p")  # pin the older one: it moves to the top
        await pilot.pause()
        assert store.get_conversation(older.id).pinned
        assert listing.get_option_at_index(0).id == str(older.id)

        await pilot.press("f2", "g", "a")  # archive it
        await pilot.pause()
        assert store.get_conversation(older.id).archived
        assert listing.option_count == 1 and listing.border_title == "Chats"
        await pilot.press("A")  # the archive view
        await pilot.pause()
        assert listing.border_title == "Archive" and listing.get_option_at_index(0).id == str(older.id)
        await pilot.press("a")  # unarchive
        await pilot.pause()
        assert not store.get_conversation(older.id).archived and listing.option_count == 0
        await pilot.press("A")
        await pilot.pause()
        assert listing.option_count == 2


async def test_start_and_delete_open_the_top_of_the_list_never_an_archived_one(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    store = services.store
    pinned = store.create_conversation(title="pinned, oldest")
    plain = store.create_conversation(title="plain")
    archived = store.create_conversation(title="archived, newest")
    store.set_pinned(pinned.id, True)
    store.set_archived(archived.id, True)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.conversations.current.id == pinned.id  # what the list shows first
        await pilot.press("f2", "d")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert store.get_conversation(pinned.id) is None
        assert app.screen.conversations.current.id == plain.id


async def test_export_from_the_list_writes_markdown_and_json(open_services, fake_engine, paths) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="keep this")
    services.store.add_message(conversation.id, Role.USER, "worth keeping")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "e")
        await pilot.pause()
    written = sorted((paths.data_dir / "exports").iterdir())
    assert [p.suffix for p in written] == [".json", ".md"]
    assert "worth keeping" in written[1].read_text()


# Search


async def test_search_as_you_type_then_open_the_conversation_at_the_hit(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    store = services.store
    target = store.create_conversation(title="long one")
    ids = [
        store.add_message(target.id, Role.USER if n % 2 == 0 else Role.ASSISTANT, f"message {n}").id for n in range(80)
    ]
    needle = store.add_message(target.id, Role.USER, "the zanzibar question").id  # placed mid-way below
    store.select_message(ids[20])  # ...on a branch that is not current: a sibling of message 21
    needle_branch = store.add_message(target.id, Role.USER, "about zanzibar again", sibling_of=ids[21]).id
    store.create_conversation(title="opened first")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"zanz")
        search = app.screen
        await settled(pilot, lambda: len(search.hits) == 2 and not any(w.group == "search" for w in app.workers))
        assert [hit.message_id for hit in search.hits] == [needle_branch, needle]
        await pilot.press("down", "enter")  # the second hit: the older message
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.conversations.current.id == target.id
        chat = screen.query_one(ChatView)
        found = chat.view_for(needle)
        assert found is not None and found.has_class("-found")
        assert chat.has_older  # opened around the hit, not at the end
        assert [m.id for m in store.list_messages(target.id)][-1] == needle  # its branch is current
        # Sending from there shows the conversation's end first.
        await ask(pilot, "and then?")
        assert shown(app)[-2:] == ["and then?", "You said: and then?"]
        assert not chat.has_newer


async def test_search_hits_move_by_page_and_by_vi_keys(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="many")
    for n in range(30):
        services.store.add_message(conversation.id, Role.USER, f"needle number {n}")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", *"needle")
        search = app.screen
        await settled(pilot, lambda: len(search.hits) == 30 and not any(w.group == "search" for w in app.workers))
        results = search.query_one("#search-results")
        await pilot.press("pagedown")  # from the search box
        assert results.highlighted == 10
        await pilot.press("tab", "G")  # in the list, letters move
        assert results.highlighted == 29
        await pilot.press("g", "j", "j", "k")
        assert results.highlighted == 1


async def test_slash_in_the_list_opens_the_search_too(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    services.store.create_conversation(title="one")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2", "slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SearchScreen)


# Branches


async def test_regenerate_then_move_between_the_answers(open_services) -> None:
    services = open_services(counting_engine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "question")
        assert shown(app) == ["question", "answer 1"]
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert shown(app) == ["question", "answer 2"]
        last = app.screen.query(MessageView).last()
        assert last.branch == (2, 2) and "‹ 2/2 ›" in str(last.query_one(".header").render())
        await pilot.press("alt+left")
        await pilot.pause()
        assert shown(app) == ["question", "answer 1"]
        await pilot.press("alt+left")
        await pilot.pause()
        assert "first branch" in notes(app)
        await pilot.press("alt+right")
        await pilot.pause()
        assert shown(app) == ["question", "answer 2"]
    (conversation,) = services.store.list_conversations()
    assert [m.content for m in services.store.list_messages(conversation.id)] == ["question", "answer 2"]


async def test_edit_an_earlier_question_and_resend(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "first")
        await ask(pilot, "second")
        await pilot.press("alt+up", "alt+up", "alt+up", "alt+up")  # select "first"
        await pilot.press("ctrl+o")
        await pilot.pause()
        composer = app.screen.query_one(Composer)
        assert composer.text == "first" and "Editing" in str(composer.border_title)
        await pilot.press(*" again", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert shown(app) == ["first again", "You said: first again"]
        assert composer.border_title is None
        await pilot.press("alt+left")  # the question's other branch, with all that followed it
        await pilot.pause()
        assert shown(app) == ["first", "You said: first", "second", "You said: second"]


async def test_escape_leaves_edit_mode(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "only")
        await pilot.press("ctrl+o", "escape")
        await pilot.pause()
        assert app.screen.answers.editing_id is None and app.screen.query_one(Composer).text == ""


# Settings, presets, context


async def test_settings_dialog_saves_prompt_and_parameters(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press(*"Answer in French.")
        app.screen.query_one("#param-temperature").value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Temperature must be between 0 and 5" in str(app.screen.query_one(".problems").render())
        app.screen.query_one("#param-temperature").value = "0.25"
        app.screen.query_one("#param-seed").value = "42"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await ask(pilot, "bonjour")
    (conversation,) = services.store.list_conversations()
    assert conversation.system_prompt == "Answer in French."
    assert settings_to_json(conversation.settings) == {"temperature": 0.25, "seed": 42}
    _, turns, options = fake_engine.requests[-1]
    assert turns[0].content == "Answer in French." and (options.temperature, options.seed) == (0.25, 42)


async def test_a_preset_sets_prompt_parameters_and_model(open_services) -> None:
    engine = ScriptedEngine(models=["small-model", "big-model"])
    config = Config(
        presets={
            "reviewer": PresetConfig(
                description="Terse code reviewer",
                system_prompt="Review the code.",
                temperature=0.1,
                max_tokens=64,
                model="big",
            ),
            "poet": PresetConfig(system_prompt="Rhyme."),
        }
    )
    services = open_services(engine, config=config)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("enter")  # the first: reviewer
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "reviewer" in title(app)
        await ask(pilot, "def f(): pass")
    (conversation,) = services.store.list_conversations()
    assert (conversation.system_prompt, conversation.model) == ("Review the code.", "big-model")
    assert settings_to_json(conversation.settings) == {"temperature": 0.1, "max_tokens": 64, "preset": "reviewer"}
    model, turns, options = engine.requests[-1]
    assert model == "big-model" and turns[0].content == "Review the code."
    assert (options.temperature, options.max_tokens) == (0.1, 64)


async def test_old_turns_are_dropped_to_fit_and_the_header_says_so(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(
        title="long",
        model="fake-model",
        backend="fake",
        system_prompt="Keep me.",
        settings=ConversationSettings(context_length=200),
    )
    for n in range(10):
        services.store.add_message(conversation.id, Role.USER if n % 2 == 0 else Role.ASSISTANT, f"{n} " + "x" * 120)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await ask(pilot, "fits?")
        assert "oldest left out" in title(app) and "/ 200 tokens" in title(app)
        assert "oldest message(s) were left out" in notes(app)
    turns = fake_engine.requests[-1][1]
    assert turns[0].content == "Keep me." and turns[-1].content == "fits?" and len(turns) < 12


# Copy


async def test_copy_a_message_and_a_code_block(open_services, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TMUX", raising=False)
    answer = "Here:\n\n```python\nprint(1)\n```\n\nand\n\n```sh\necho 2\n```\n"
    services = open_services(ScriptedEngine(script=lambda turns: [answer]))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "code please")
        await pilot.press("ctrl+t")
        assert app.clipboard == answer
        await pilot.press("ctrl+b")
        assert app.clipboard == "print(1)\n"
        await pilot.press("alt+b")  # the same, for tmux users (ctrl+b is tmux's prefix)
        assert app.clipboard == "echo 2\n"
        assert "code block 2 of 2" in notes(app)


async def test_copy_falls_back_to_a_file_where_the_terminal_cannot(
    open_services, fake_engine, paths, monkeypatch
) -> None:
    monkeypatch.setenv("TERM", "linux")
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "hello")
        await pilot.press("ctrl+t")
        assert "Linux console has no clipboard" in notes(app)
        assert app.clipboard == ""
    assert (paths.data_dir / "clipboard.txt").read_text() == "You said: hello"


async def test_search_finds_a_japanese_word_inside_a_sentence(open_services, fake_engine) -> None:
    """Issue 20, item 9: 天気 typed into the search box finds it inside an unspaced sentence,
    and the hit shows the stored sentence with the word marked."""
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="天気の話")
    message = services.store.add_message(conversation.id, Role.USER, "今日は東京の天気について質問があります")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+f", "天", "気")
        search = app.screen
        await settled(pilot, lambda: len(search.hits) == 1 and not any(w.group == "search" for w in app.workers))
        assert search.hits[0].message_id == message.id
        prompt = search.query_one("#search-results").get_option_at_index(0).prompt
        assert "今日は東京の天気について質問があります" in prompt.plain
        marked = [prompt.plain[span.start : span.end] for span in prompt.spans if span.style == "reverse"]
        assert marked == ["天気"]
