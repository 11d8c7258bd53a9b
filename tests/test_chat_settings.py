"""A conversation's settings beyond the numbers: F8 and presets keep its LoRA adapter, and stop
strings come from the config, F8 and presets and reach the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripted_engine import ScriptedEngine
from tests.test_app_history import ask
from tests.test_models_pane import SIZE, settle
from tui.chat.presets import parse_stops, stops_text
from tui.chat.service import ChatService
from tui.config import ChatConfig, Config, ConfigError, PresetConfig
from tui.config.read import load_config
from tui.config.write import save_config
from tui.domain import ConversationSettings
from tui.store import HistoryStore
from tui.store.codec import settings_from_json, settings_to_json
from tui.ui.app import LchatApp
from tui.ui.screens.settings_screen import SettingsScreen

LORA = "/adapters/style-lora.gguf"


@pytest.mark.parametrize("stops", [["\n\nUser:", "END"], ["a\\nb", "tab\there", "\\"], []])
def test_stop_strings_round_trip_through_the_text_field(stops) -> None:
    assert parse_stops(stops_text(stops)) == stops


def test_stop_strings_in_config_and_presets(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[chat]\nstop = ["\\nUser:", "###"]\n[presets.terse]\nstop = ["END"]\n')
    config = load_config(path).config
    assert config.chat.stop == ["\nUser:", "###"] and config.presets["terse"].stop == ["END"]
    save_config(config, path)
    assert load_config(path).config.chat.stop == ["\nUser:", "###"]
    path.write_text('[chat]\nstop = "###"\n')
    with pytest.raises(ConfigError, match="chat.stop must be a list of str"):
        load_config(path)


def test_the_options_carry_the_stop_strings(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {}, ChatConfig(stop=["User:"]))
        assert service.settings.options_for(store.create_conversation()).stop == ("User:",)
        own = store.create_conversation(settings=settings_from_json({"stop": ["END", "\n\n"]}))
        assert service.settings.options_for(own).stop == ("END", "\n\n")


async def test_f8_and_a_preset_keep_the_adapter_and_set_stop_strings(open_services) -> None:
    engine = ScriptedEngine(name="embedded", models=["tiny"])
    engine.supports_lora = True  # As the embedded engine declares.
    config = Config(presets={"terse": PresetConfig(temperature=0.1, stop=["\n\n", "END"])})
    config.chat.stop = ["User:"]
    services = open_services(engine, config=config)
    conversation = services.store.create_conversation(
        title="styled", model="tiny", backend="embedded", settings=ConversationSettings(lora=LORA)
    )
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(pilot, "one")
        options = engine.requests[-1][2]
        assert (options.stop, options.lora) == (("User:",), LORA)  # the [chat] default
        # F8: stop strings one a line, "\n" typed as backslash-n; the adapter stays.
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#stop").text = "###\\n\nEND"
        app.screen.query_one("#param-temperature").value = "0.3"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert settings_to_json(services.store.get_conversation(conversation.id).settings) == {
            "lora": LORA,
            "temperature": 0.3,
            "stop": ["###\n", "END"],
        }
        assert "+ LoRA style-lora" in str(app.screen.query_one("ModelPane .current").render())
        await ask(pilot, "two")
        options = engine.requests[-1][2]
        assert (options.stop, options.lora, options.temperature) == (("###\n", "END"), LORA, 0.3)
        # F8 again shows what was saved, as it was typed.
        await pilot.press("f8")
        await pilot.pause()
        assert app.screen.query_one("#stop").text == "###\\n\nEND"
        await pilot.press("escape")
        await pilot.pause()
        # A preset replaces the sampling settings and stop strings, not the adapter.
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert settings_to_json(services.store.get_conversation(conversation.id).settings) == {
            "lora": LORA,
            "temperature": 0.1,
            "stop": ["\n\n", "END"],
            "preset": "terse",
        }
        await ask(pilot, "three")
        options = engine.requests[-1][2]
        assert (options.stop, options.lora, options.temperature) == (("\n\n", "END"), LORA, 0.1)


async def test_thinking_from_f8_a_preset_and_alt_t_reaches_the_engine(open_services) -> None:
    engine = ScriptedEngine(name="embedded", models=["tiny"], reasoning=["hmm"])
    config = Config(presets={"deep": PresetConfig(think="high")})
    services = open_services(engine, config=config)
    conversation = services.store.create_conversation(title="t", model="tiny", backend="embedded")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # A model whose abilities are unknown offers its default, off and on.
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#think").value = "off"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert settings_to_json(services.store.get_conversation(conversation.id).settings) == {"think": "off"}
        assert "think: off" in str(app.screen.query_one("#chat-title").render())
        await ask(pilot, "one")
        assert engine.requests[-1][2].think == "off"
        await pilot.press("alt+t")  # off -> on
        await pilot.pause()
        assert settings_to_json(services.store.get_conversation(conversation.id).settings) == {"think": "on"}
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert settings_to_json(services.store.get_conversation(conversation.id).settings) == {
            "think": "high",
            "preset": "deep",
        }
        await ask(pilot, "two")
        assert engine.requests[-1][2].think == "high"
        # The reasoning streamed into its block, folded once the answer began; alt+r opens it.
        block = app.screen.query("ReasoningBlock").last()
        assert block.folded
        await pilot.press("alt+r")
        await pilot.pause()
        assert not block.folded


def test_a_preset_with_a_bad_thinking_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[presets.deep]\nthink = "hard"\n')
    with pytest.raises(ConfigError, match="presets.deep.think must be one of"):
        load_config(path)
