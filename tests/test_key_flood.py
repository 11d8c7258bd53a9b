"""Keystroke floods (a paste the terminal does not bracket): runs of typed keys become one paste."""

from __future__ import annotations

import asyncio
import threading
import time

from textual import events
from textual.drivers.headless_driver import HeadlessDriver

from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.domain import Role
from tui.ui.app import LchatApp
from tui.ui.key_flood import HOLD_ENTER_S, KeyGate, absorbing_floods, coalesce
from tui.ui.widgets.composer import Composer

SIZE = (120, 40)


def keys_for(text: str) -> list[events.Key]:
    """The events a terminal sends for `text` typed (or pasted unbracketed): a line break is Enter."""
    return [events.Key("enter", "\r") if c == "\n" else events.Key(c if c != " " else "space", c) for c in text]


def test_a_run_of_typed_keys_becomes_one_paste_with_its_line_breaks() -> None:
    out, held = coalesce([*keys_for("ab\ncd\n\ne"), events.Key("ctrl+x", "\x18"), *keys_for("f")])
    assert [type(e) for e in out] == [events.Paste, events.Key, events.Key]
    assert out[0].text == "ab\ncd\n\ne"  # type: ignore[attr-defined]
    assert [e.key for e in out[1:]] == ["ctrl+x", "f"]  # type: ignore[attr-defined]
    assert held == []


def test_a_single_key_and_keys_with_modifiers_pass_unchanged() -> None:
    alt = events.Key("alt+a", "a")
    out, held = coalesce([*keys_for("a"), events.Key("enter", "\r"), alt, events.Key("f2", None)])
    assert [e.key for e in out] == ["a", "enter", "alt+a", "f2"]  # type: ignore[attr-defined]
    assert held == []


def test_an_enter_ending_a_run_is_held_then_joins_the_text_that_follows() -> None:
    out, held = coalesce(keys_for("line one\n"))
    assert [e.text for e in out] == ["line one"]  # type: ignore[attr-defined]
    assert [k.key for k in held] == ["enter"]
    out, held = coalesce(keys_for("line two"), held=held)
    assert [e.text for e in out] == ["\nline two"]  # type: ignore[attr-defined]
    # A held Enter followed by a key that is not text is delivered as the key it was, first.
    out, _ = coalesce([events.Key("escape", "\x1b")], held=coalesce(keys_for("x y\n"))[1])
    assert [e.key for e in out] == ["enter", "escape"]  # type: ignore[attr-defined]


async def test_an_enter_after_typed_text_is_delivered_once_input_stops() -> None:
    delivered: list[object] = []
    gate = KeyGate(loop=asyncio.get_running_loop(), deliver=delivered.append, takes_text=lambda: True)
    feeder = threading.Thread(target=lambda: [gate.put(event) for event in keys_for("hi there\n")])
    feeder.start()
    feeder.join()
    await asyncio.sleep(0)  # The gate's drain runs.
    assert [type(event) for event in delivered] == [events.Paste]  # The Enter is held back...
    started = time.monotonic()
    while len(delivered) < 2:  # ... until no more input came for HOLD_ENTER_S.
        assert time.monotonic() - started < 5, delivered
        await asyncio.sleep(HOLD_ENTER_S / 4)
    paste, enter = delivered
    assert isinstance(paste, events.Paste) and paste.text == "hi there"
    assert isinstance(enter, events.Key) and enter.key == "enter"


async def test_a_held_enter_waits_while_the_terminal_has_unread_input() -> None:
    delivered: list[object] = []
    unread = True
    gate = KeyGate(
        loop=asyncio.get_running_loop(), deliver=delivered.append, takes_text=lambda: True, input_pending=lambda: unread
    )
    for event in keys_for("first line\n"):
        gate.put(event)
    # The input thread stalls with the rest of the paste unread, for longer than the hold.
    await asyncio.sleep(3 * HOLD_ENTER_S)
    assert [type(event) for event in delivered] == [events.Paste]
    unread = False
    for event in keys_for("second line"):
        gate.put(event)
    await asyncio.sleep(3 * HOLD_ENTER_S)
    assert [event.text for event in delivered] == ["first line", "\nsecond line"]  # type: ignore[attr-defined]


async def test_an_unbracketed_paste_lands_in_the_composer_as_text_and_sends_nothing(open_services) -> None:
    services = open_services(ScriptedEngine(script=fixed_script("Got it.")))
    app = LchatApp(services)
    pasted = "\n".join(f"line {n}: the quick brown fox" for n in range(500))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()  # The model list is in: nothing moves the focus now.
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.pause()
        posted: list[object] = []
        post = app.post_message
        app.post_message = lambda message: posted.append(message) or post(message)  # type: ignore[method-assign]
        driver = absorbing_floods(HeadlessDriver)(app)  # Fed below as the terminal's input thread feeds it.
        del app.post_message

        def type_it() -> None:
            stalled = False
            for n, event in enumerate(keys_for(pasted)):
                driver.process_message(event)
                if not stalled and n > len(pasted) // 2 and event.key == "enter":
                    # A loaded machine starves the input thread mid-paste, just after a line
                    # break, for longer than the gate waits for more keys: still not a send.
                    time.sleep(3 * HOLD_ENTER_S)
                    stalled = True

        feeder = threading.Thread(target=type_it)
        driver.key_gate.input_pending = feeder.is_alive  # Until it is done, the "terminal" has unread input.
        feeder.start()
        started = time.monotonic()
        while feeder.is_alive() or composer.text != pasted:
            assert services.store.list_conversations() == [], "a pasted line break sent the message"
            assert time.monotonic() - started < 60, (len(composer.text), len(pasted), app.focused, posted[-3:])
            await asyncio.sleep(0.05)
        feeder.join()
        print("pasted", time.monotonic() - started)
        assert len(posted) < len(pasted) // 20  # Thousands of keys, a few pastes.
        assert services.store.list_conversations() == []  # No pasted line break sent anything.
        # Enter on its own, typed after the paste, sends all of it.
        driver.process_message(events.Key("enter", "\r"))
        started = time.monotonic()
        while not services.store.list_conversations():
            assert time.monotonic() - started < 5
            await pilot.pause(HOLD_ENTER_S)
        print("sent", time.monotonic() - started)
        await app.workers.wait_for_complete()
        print("answered", time.monotonic() - started)
    (conversation,) = services.store.list_conversations()
    question = services.store.list_messages(conversation.id)[0]
    assert question.role is Role.USER and question.content == pasted
