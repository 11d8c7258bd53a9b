"""One transfer at a time: a pull runs while an answer streams, and a second pull, download or
import asked for meanwhile is refused with a message, under Pilot against the Ollama double."""

from __future__ import annotations

import asyncio

from textual.notifications import Notification

from tests.fake_ollama import OllamaState, start_ollama
from tests.scripted_engine import ScriptedEngine, fixed_script
from tests.test_models_pane import SIZE, pane, settle
from tui.engines.ollama.engine import OllamaEngine
from tui.ui.app import LchatApp
from tui.ui.controllers.model_manager import ONE_AT_A_TIME
from tui.ui.screens.main_screen import MainScreen


def refusals(notified: list[Notification]) -> int:
    return sum(note.message == ONE_AT_A_TIME for note in notified)


async def until(pilot, done, tries: int = 200) -> None:
    for _ in range(tries):
        await pilot.pause()
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def test_a_second_transfer_is_refused_and_an_answer_does_not_block_one(open_services, notified) -> None:
    state = OllamaState()
    # Sizes that fit this machine, so no "will not fit" question comes first.
    state.pull_sizes |= {"big:70b": 400_000_000, "other:7b": 300_000_000}
    state.pull_steps, state.pull_delay = 400, 0.05
    daemon = start_ollama(state)
    slow = ScriptedEngine(name="fake", models=["m"], script=fixed_script(*[f" w{n}" for n in range(2000)]), delay=0.02)
    try:
        app = LchatApp(open_services(slow, OllamaEngine(host=daemon.url)))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.screen.models.use("fake", "m")
            await pilot.press(*"go on", "enter")
            await until(pilot, lambda: app.screen.answers.generating)
            # An answer streams: a pull still starts (it used to be refused as "an answer is being written").
            await pilot.press("f4", "p")
            await pilot.pause()
            await pilot.press(*"big:70b", "enter")
            await until(pilot, lambda: "Pulling big:70b" in str(pane(app).query_one(".transfer").render()))
            # Two more requests while it runs: a second pull, then a download and an import.
            for key in ("p", "h", "o"):
                await pilot.press("f4", key)
                await pilot.pause()
                assert isinstance(app.screen, MainScreen)  # refused before any question is asked
            assert refusals(notified) == 3
            assert "Pulling big:70b" in str(pane(app).query_one(".transfer").render())
            assert [r.path for r in daemon.requests if r.path == "/api/pull"] == ["/api/pull"]
            assert app.screen.answers.generating  # the answer was left alone
            # x cancels the pull; then the next one may start.
            await pilot.press("f4", "x")
            await until(pilot, lambda: not app.screen.manager.transferring)
            assert app.screen.answers.generating  # cancelling the pull left the answer alone too
            await pilot.press("f3", "escape")
            await until(pilot, lambda: not app.screen.answers.generating)
            state.pull_steps, state.pull_delay = 5, 0.0
            await pilot.press("f4", "p")
            await pilot.pause()
            await pilot.press(*"other:7b", "enter")
            await app.workers.wait_for_complete()
            await settle(app, pilot)
            assert "other:7b" in [r.name for r in pane(app).visible_rows] and refusals(notified) == 3
    finally:
        daemon.stop()


async def test_two_transfers_asked_for_at_once_run_one(open_services, notified) -> None:
    """Two requests in the same moment (the second before the first's worker has started)."""
    state = OllamaState()
    state.pull_sizes |= {"a:1b": 1_000_000_000, "b:1b": 1_000_000_000}
    state.pull_steps, state.pull_delay = 100, 0.05
    daemon = start_ollama(state)
    try:
        engine = OllamaEngine(host=daemon.url)
        app = LchatApp(open_services(engine))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            manager = app.screen.manager
            started = [
                manager.start_transfer(f"Pulling {name}", engine.pull(name), "done") for name in ("a:1b", "b:1b")
            ]
            assert started == [True, False] and refusals(notified) == 1
            await until(pilot, lambda: "Pulling a:1b" in str(pane(app).query_one(".transfer").render()))
            manager.cancel_transfer()
            await until(pilot, lambda: not manager.transferring)
            assert any(note.message == "Pulling a:1b: cancelled." for note in notified)
    finally:
        daemon.stop()
