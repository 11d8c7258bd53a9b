"""Every modal dialog, listed so that their key ids can be remapped in config."""

from __future__ import annotations

from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.model_details import ModelDetailsScreen
from tui.ui.screens.model_switcher import ModelSwitcher
from tui.ui.screens.preset_screen import PresetScreen
from tui.ui.screens.prompts import ChoiceQuestion, InputQuestion
from tui.ui.screens.search_screen import SearchScreen
from tui.ui.screens.settings_screen import SettingsScreen
from tui.ui.screens.tool_approval_screen import ToolApprovalScreen
from tui.ui.screens.tool_select_screen import ToolSelectScreen

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
