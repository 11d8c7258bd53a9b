"""The Textual application: themes, the main screen, and saving the user's theme choice."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen

from tui.config.write import save_config
from tui.services import Services
from tui.ui.exit_signals import ExitSignals
from tui.ui.key_flood import absorbing_floods
from tui.ui.keys import bound_actions, check_keymap, keys_for
from tui.ui.links import confirm_and_open
from tui.ui.quitting import wind_down
from tui.ui.screens.dialogs import DIALOGS
from tui.ui.screens.help_screen import HelpScreen, help_rows
from tui.ui.screens.main_screen import MainScreen
from tui.ui.textual_compat import crop_partial_updates
from tui.ui.themes import builtin_themes_dir, load_themes
from tui.ui.toast import tell
from tui.ui.widgets.composer import Composer

FALLBACK_THEME = "lchat-dark"
NARROW_WIDTH = 120
"""Below this many columns the models pane folds away so the chat keeps the room."""
TINY_WIDTH = 100
"""Below this many columns the conversations pane folds away too (so at 80x24 only the chat shows)."""


class LchatApp(App[None]):
    """lchat's TUI; everything it works with arrives through `services`."""

    CSS_PATH = "app.tcss"
    TITLE = "lchat"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("f1", "show_help", "Keys", tooltip="Every key (this list)", id="app.help"),
        Binding("question_mark", "show_help", "Keys", tooltip="Every key (this list)", id="app.help_alt", show=False),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self._exit_signals: ExitSignals | None = None
        self._quitting = False
        crop_partial_updates()  # A streamed token repaints its line, not every widget's lines.

    def get_driver_class(self) -> type[Driver]:
        """The platform's driver, with runs of typed keys already waiting made one paste (see key_flood)."""
        return absorbing_floods(super().get_driver_class())

    async def on_mount(self) -> None:
        self._install_themes()
        await self.push_screen(MainScreen(self.services))  # Mounted, so its widgets' ids are known.
        self._install_keymap()
        self.theme_changed_signal.subscribe(self, self._save_theme)
        self._quit_on_hangup()

    def _quit_on_hangup(self) -> None:
        """A polite kill (SIGTERM) quits as ctrl+q does; a dropped SSH session (SIGHUP) saves the
        answer on screen as interrupted, then leaves at once: both even while the loop is busy."""
        # A hang-up never waits for the loop: once the terminal is gone Textual's output thread
        # dies on its first failed write, and the next full queue of screen updates (or
        # restoring the terminal at exit) blocks the loop for ever.
        self._exit_signals = ExitSignals(
            loop=asyncio.get_running_loop(),
            quit_politely=partial(self.call_later, self.quit_with, 128 + signal.SIGTERM),
            save=self.services.close,
        )
        self._exit_signals.install()

    def on_unmount(self) -> None:
        if self._exit_signals is not None:
            self._exit_signals.uninstall()

    def _install_keymap(self) -> None:
        known = {action.binding.id for action in bound_actions(self) if action.binding.id}
        known |= {binding.id for binding in HelpScreen.BINDINGS if isinstance(binding, Binding) and binding.id}
        known |= {
            binding.id
            for dialog in DIALOGS
            for binding in dialog.BINDINGS
            if isinstance(binding, Binding) and binding.id
        }
        keymap, problems = check_keymap(self.services.config.keys, known)
        self.set_keymap(keymap)
        for composer in self.screen.query(Composer):
            composer.show_keys()
        if problems:
            tell(self, "Key settings skipped: " + "; ".join(problems), severity="warning", timeout=10)

    def action_show_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(help_rows(bound_actions(self), (HelpScreen, *DIALOGS), partial(keys_for, self))))

    def open_url(self, url: str, *, new_tab: bool = True) -> None:
        """Every link (in an answer or anywhere): http(s) only, after the user confirms the address."""
        self.run_worker(confirm_and_open(self, url, partial(super().open_url, new_tab=new_tab)), group="dialogs")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, then every lchat action (so each is reachable by name)."""
        yield from super().get_system_commands(screen)
        for action in bound_actions(self, screen):
            binding = action.binding
            if action.in_palette and binding.id not in ("app.quit", "app.help_alt"):
                yield SystemCommand(
                    action.what,
                    f"{keys_for(self, binding)} · {binding.id}",
                    partial(self.run_action, binding.action, action.node),
                )

    def _install_themes(self) -> None:
        loaded = load_themes(builtin_themes_dir(), self.services.paths.user_themes_dir)
        for theme in loaded.themes:
            self.register_theme(theme)
        if loaded.problems:
            tell(self, "Skipped broken themes: " + "; ".join(loaded.problems), severity="warning", timeout=10)
        wanted = self.services.config.ui.theme
        if wanted not in self.available_themes:
            tell(self, f"Theme {wanted!r} not found; using {FALLBACK_THEME}.", severity="warning")
            wanted = FALLBACK_THEME
        self.theme = wanted

    def _save_theme(self, theme) -> None:
        config = self.services.config
        if config.ui.theme != theme.name:
            config.ui.theme = theme.name
            try:
                save_config(config, self.services.paths.config_file)
            except OSError as error:
                tell(self, f"Could not save the theme choice: {error}", severity="error")

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "-narrow")
        self.set_class(self.size.width < TINY_WIDTH, "-tiny")

    async def action_quit(self) -> None:
        await self.quit_with(0)

    async def quit_with(self, return_code: int) -> None:
        """Quit from any state (an answer streaming, a dialog open, a transfer running): the
        answer is saved as interrupted, the services closed, and lchat exits with `return_code`."""
        if self._quitting:  # A second ctrl+q while the first is winding down.
            return
        self._quitting = True
        await wind_down(self.workers, self.services)
        self.exit(return_code=return_code)
