"""Typed conversation settings: the stored JSON reads and writes as before (unknown keys kept), and
one service call changes them and returns the conversation as it is now."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tui.chat.presets import dialog_settings, preset_settings
from tui.chat.settings import SettingsService
from tui.config import ChatConfig, PresetConfig
from tui.domain import ConversationSettings
from tui.models.names import ModelChoice
from tui.store import HistoryStore, NotFound
from tui.store.codec import settings_from_json, settings_to_json

OLD = {"temperature": 0.5, "stop": ["END"], "future_knob": {"a": 1}, "seed": 7}


def test_old_json_with_an_unknown_key_round_trips() -> None:
    settings = settings_from_json(OLD)
    assert settings.temperature == 0.5 and settings.seed == 7 and settings.stop == ("END",)
    assert settings.extra == {"future_knob": {"a": 1}}
    assert settings_to_json(settings) == OLD


def test_a_value_of_the_wrong_type_is_unset_but_kept() -> None:
    settings = settings_from_json({"temperature": "hot", "max_tokens": 1.5, "think": True})
    assert (settings.temperature, settings.max_tokens, settings.think) == (None, None, None)
    assert settings_to_json(settings) == {"temperature": "hot", "max_tokens": 1.5, "think": True}


def test_keys_are_written_in_a_fixed_order() -> None:
    settings = ConversationSettings(preset="p", seed=1, tools=("t",), temperature=0.1)
    assert list(settings_to_json(settings)) == ["tools", "temperature", "seed", "preset"]


def test_a_row_written_in_the_old_form_reads_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    HistoryStore.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO conversations (title, model, backend, system_prompt, params, created_at, updated_at)"
            " VALUES ('old', 'm', 'fake', '', ?, 1, 1)",
            (json.dumps({"tools": ["weather"], "lora": "/a.gguf", "future_knob": 3}),),
        )
    db.close()
    store = HistoryStore.open(path)
    try:
        (conversation,) = store.list_conversations()
        assert conversation.settings.tools == ("weather",) and conversation.settings.lora == "/a.gguf"
        assert conversation.settings.extra == {"future_knob": 3}
        service = SettingsService(store, ChatConfig())
        service.change(conversation, replace(conversation.settings, temperature=0.2))
        with sqlite3.connect(path) as db:
            (stored,) = db.execute("SELECT params FROM conversations").fetchone()
        db.close()
        assert json.loads(stored) == {"tools": ["weather"], "temperature": 0.2, "lora": "/a.gguf", "future_knob": 3}
    finally:
        store.close()


def test_change_returns_the_new_conversation_without_reading_it_back(tmp_path: Path) -> None:
    store = HistoryStore.open(tmp_path / "history.db")
    try:
        service = SettingsService(store, ChatConfig())
        made = service.new_conversation(ModelChoice("fake", "tiny"))
        reads: list[int] = []
        get = store.get_conversation
        store.get_conversation = lambda cid: reads.append(cid) or get(cid)  # type: ignore[method-assign]
        changed = service.change(
            made, ConversationSettings(think="off"), system_prompt="Be kind.", model=ModelChoice("fake", "big")
        )
        assert reads == []
        assert (changed.settings.think, changed.system_prompt, changed.model) == ("off", "Be kind.", "big")
        assert get(made.id) == changed
        assert service.set_tools(changed, ["s"]).settings.tools == ("s",) == get(made.id).settings.tools
        store.delete_conversation(made.id)
        with pytest.raises(NotFound):
            service.change(changed, ConversationSettings())
    finally:
        store.close()


def test_the_settings_dialog_and_presets_keep_the_tools_and_unknown_keys() -> None:
    """F8 and F9 change sampling; the tools chosen with F10 and keys of a newer lchat stay."""
    current = settings_from_json({"tools": ["files"], "temperature": 0.9, "future_key": 1, "lora": "a.gguf"})
    after_dialog = dialog_settings({"temperature": 0.3}, current)
    assert after_dialog.tools == ("files",) and after_dialog.lora == "a.gguf" and after_dialog.temperature == 0.3
    assert after_dialog.extra == {"future_key": 1}
    after_preset = preset_settings("precise", PresetConfig(temperature=0.1), keep=current)
    assert after_preset.tools == ("files",) and after_preset.extra == {"future_key": 1}
    assert after_preset.temperature == 0.1 and after_preset.preset == "precise"
