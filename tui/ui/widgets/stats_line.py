"""The stats pane folded to one line, for terminals too narrow for the pane."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.guard.safe_text import one_line
from tui.stats.report import summary
from tui.ui.widgets.stats_pane import StatsSampled


class StatsLine(Static):
    """One line: the first warning if any, then every GPU and the CPU in brief."""

    DEFAULT_CSS = """
    StatsLine { height: 1; padding: 0 1; color: $text-muted; }
    StatsLine.-alert { color: $warning; }
    StatsLine.-severe { color: $error; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text = ""

    def on_stats_sampled(self, message: StatsSampled) -> None:
        alerts = message.alerts
        text = summary(message.sample)
        if alerts:
            text = f"{'!' if alerts[0].severe else '•'} {one_line(alerts[0].text, 120)} · {text}"
        self.set_class(bool(alerts), "-alert")
        self.set_class(any(alert.severe for alert in alerts), "-severe")
        if text != self._text:
            self._text = text
            self.update(Text(text, no_wrap=True, overflow="ellipsis"), layout=False)  # always one row
