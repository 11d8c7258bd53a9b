"""Between the hardware monitor and the stats widgets: samples in on the sampling thread, messages out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.screen import Screen
from textual.widget import Widget

from tui.config import StatsConfig
from tui.stats.alerts import Limits, alerts_for
from tui.stats.monitor import StatsMonitor
from tui.stats.sample import StatsSample
from tui.ui.widgets.stats_pane import StatsPane, StatsSampled

HIDDEN_CLASS = "-no-stats"
"""Set on the screen while the user has the stats hidden (app.tcss hides the pane and the line)."""


class StatsFeed:
    """Subscribes to the monitor while the screen lives and posts each sample to `targets`."""

    def __init__(
        self, screen: Screen, monitor: StatsMonitor | None, settings: StatsConfig, targets: Sequence[Widget]
    ) -> None:
        self.screen = screen
        self.monitor = monitor
        self.targets = list(targets)
        self.limits = Limits(settings.temp_margin_c, settings.vram_warn_percent)
        self.visible = settings.visible
        """Whether the user wants the stats shown; hidden stats are still sampled (for history and energy)."""
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self.screen.set_class(not self.visible, HIDDEN_CLASS)
        if self.monitor is None:
            for pane in self.targets:
                if isinstance(pane, StatsPane):
                    pane.show_note("Stats are off ([stats] enabled = false in the config).")
            return
        self._unsubscribe = self.monitor.subscribe(self._deliver)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def toggle(self) -> bool:
        """Show or hide the stats; returns whether they are shown now."""
        self.visible = not self.visible
        self.screen.set_class(not self.visible, HIDDEN_CLASS)
        if self.visible and self.monitor is not None and self.monitor.latest is not None:
            self._deliver(self.monitor.latest)  # no blank pane until the next sample
        return self.visible

    def _deliver(self, sample: StatsSample) -> None:
        """Runs on the sampling thread: post_message is thread-safe, widgets are not touched here."""
        if not self.visible or self.monitor is None:
            return
        series = self.monitor.history.series()
        alerts = alerts_for(sample, self.limits)
        for target in self.targets:
            try:
                target.post_message(StatsSampled(sample, series, alerts))
            except RuntimeError:  # the app's loop closed between unmount and this sample
                return
