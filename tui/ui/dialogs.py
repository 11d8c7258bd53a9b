"""Every modal dialog, listed so that their key ids can be remapped in config."""

from __future__ import annotations

from tui.ui.confirm import ConfirmScreen
from tui.ui.model_details import ModelDetailsScreen
from tui.ui.model_switcher import ModelSwitcher
from tui.ui.preset_screen import PresetScreen
from tui.ui.prompts import ChoiceQuestion, InputQuestion
from tui.ui.search_screen import SearchScreen
from tui.ui.settings_screen import SettingsScreen
from tui.ui.tool_approval_screen import ToolApprovalScreen
from tui.ui.tool_select_screen import ToolSelectScreen

DIALOGS = (
    ConfirmScreen,
    InputQuestion,
    ChoiceQuestion,
    SearchScreen,
    SettingsScreen,
    PresetScreen,
    ModelSwitcher,
    ModelDetailsScreen,
    ToolApprovalScreen,
    ToolSelectScreen,
)
