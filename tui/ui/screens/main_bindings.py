"""The main screen's keys: each with a dotted id users can remap, each an action of the screen."""

from __future__ import annotations

from textual.binding import Binding, BindingType

# Most are listed by F1 and the palette, not the footer: each footer key is a widget that
# Textual rebuilds at every focus change, and 21 of them cost a fifth of a second at start.
# The footer's keys have one-word descriptions so that all fit at 80 columns; their tooltip
# is the full name F1 and the palette show (see keys.BoundAction.what).
MAIN_BINDINGS: list[BindingType] = [
    Binding("ctrl+l", "switch_model", "Model", tooltip="Switch model", id="models.switch"),
    Binding("f10", "choose_tools", "Tools", tooltip="Tools for this chat", id="tools.choose"),  # F6, F7: composer
    Binding("f2", "focus_pane('conversations')", "Chats", tooltip="Go to the chats pane", id="panes.conversations"),
    Binding("f4", "focus_pane('models')", "Models", tooltip="Go to the models pane", id="panes.models"),
    Binding("ctrl+n", "new_conversation", "New", tooltip="New chat", id="conversations.new"),
    Binding("escape", "cancel_answer", "Stop", tooltip="Cancel the answer", id="chat.cancel"),
    Binding("f3", "focus_pane('composer')", "Chat", show=False, tooltip="Go to the message box", id="panes.chat"),
    Binding("f5", "toggle_stats", "Stats", show=False, tooltip="Show or hide the stats", id="stats.toggle"),
    Binding("shift+pageup", "scroll_chat(-1)", "Chat page up", show=False, id="chat.page_up"),
    Binding("shift+pagedown", "scroll_chat(1)", "Chat page down", show=False, id="chat.page_down"),
    Binding("ctrl+f", "open_search", "Search", show=False, id="search.open"),
    Binding("alt+up", "select_message(-1)", "Select previous message", show=False, id="chat.select_previous"),
    Binding("alt+down", "select_message(1)", "Select next message", show=False, id="chat.select_next"),
    Binding("ctrl+r", "regenerate", "Regenerate", show=False, id="chat.regenerate"),
    Binding("ctrl+o", "edit_message", "Edit & resend", show=False, id="chat.edit"),
    Binding("alt+left", "switch_branch(-1)", "Previous branch", show=False, id="chat.branch_previous"),
    Binding("alt+right", "switch_branch(1)", "Next branch", show=False, id="chat.branch_next"),
    Binding("ctrl+t", "copy_message", "Copy message", show=False, id="chat.copy"),
    # alt+b too: inside tmux, ctrl+b is the prefix and never reaches lchat.
    Binding("ctrl+b,alt+b", "copy_code", "Copy code block", show=False, id="chat.copy_code"),
    Binding("alt+r", "toggle_reasoning", "Show or fold reasoning", show=False, id="chat.reasoning"),
    Binding("alt+u", "toggle_tool_calls", "Show or fold tool calls", show=False, id="chat.tools_unfold"),
    Binding("alt+t", "cycle_think", "Thinking: default, off, on, levels", show=False, id="chat.think"),
    Binding("f8", "edit_settings", "Chat settings", show=False, id="chat.settings"),
    Binding("f9", "pick_preset", "Presets", show=False, id="chat.presets"),
    Binding("alt+a", "attach", "Attach a file", show=False, id="chat.attach"),
    *(
        Binding(
            f"alt+{n}",
            f"use_favourite({n})",
            f"Favourite {n}",
            show=False,
            priority=True,
            id=f"models.favourite_{n}",
        )
        for n in range(1, 10)
    ),
]
"""Every key of the main screen (F1, the palette and `[keys]` in the config list them by id)."""
