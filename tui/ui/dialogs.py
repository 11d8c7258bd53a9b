"""The dialogs of the history features, listed so their key ids can be remapped in config."""

from __future__ import annotations

from tui.ui.preset_screen import PresetScreen
from tui.ui.prompt_screen import PromptScreen
from tui.ui.search_screen import SearchScreen
from tui.ui.settings_screen import SettingsScreen

DIALOGS = (SearchScreen, PromptScreen, SettingsScreen, PresetScreen)
