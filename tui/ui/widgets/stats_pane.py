"""The stats pane: GPUs, CPU and memory, sparklines, warnings; it only shows what it is given."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Sparkline, Static

from tui.guard.safe_text import one_line
from tui.stats.alerts import Alert
from tui.stats.history import Series
from tui.stats.remote import remote_lines
from tui.stats.report import cpu_lines, gpu_lines
from tui.stats.sample import RemoteStats, StatsSample


class StatsSampled(Message, bubble=False):
    """A new sample, with the history and warnings that go with it; a newer one replaces it unread."""

    def __init__(self, sample: StatsSample, series: Series, alerts: Sequence[Alert]) -> None:
        super().__init__()
        self.sample = sample
        self.series = series
        self.alerts = list(alerts)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatsSampled)


class StatsPane(VerticalScroll):
    """Readings of every GPU and the CPU, with sparklines of the last minutes."""

    COMPONENT_CLASSES = {"stats-pane--title", "stats-pane--ours", "stats-pane--dim"}
    DEFAULT_CSS = """
    StatsPane { padding: 0 1; scrollbar-size-vertical: 1; }
    StatsPane > Static { height: auto; }
    StatsPane > .severe { color: $error; text-style: bold; }
    StatsPane > .warnings { color: $warning; }
    StatsPane > .remote { color: $secondary; }
    StatsPane > .missing { color: $text-muted; }
    StatsPane > .spark { height: 1; }
    StatsPane > .spark > .label { width: 14; height: 1; color: $text-muted; }
    StatsPane > .spark > Sparkline { width: 1fr; }
    StatsPane > .stats-pane--title { text-style: bold; }
    StatsPane > .stats-pane--ours { color: $accent; text-style: bold; }
    StatsPane > .stats-pane--dim { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sample: StatsSample | None = None
        """The sample shown now."""
        self.alerts: list[Alert] = []
        """The warnings shown now."""
        self.remote: RemoteStats | None = None
        """The remote backend's own figures, when the model runs elsewhere."""
        self._shown: dict[str, Text] = {}

    def compose(self) -> ComposeResult:
        yield Static("", classes="severe")
        yield Static("", classes="warnings")
        yield Static("", classes="remote")
        yield Static("Reading the hardware…", classes="readings")
        for name in ("util", "temp", "power"):
            with Horizontal(classes=f"spark spark-{name}"):
                yield Static("", classes="label")
                yield Sparkline([], id=f"spark-{name}")
        yield Static("", classes="missing")

    def on_mount(self) -> None:
        self._show_remote()
        for widget in self.query(".severe, .warnings, .missing, .spark"):
            widget.display = False

    def on_stats_sampled(self, message: StatsSampled) -> None:
        self.show(message.sample, message.series, message.alerts)

    def show(self, sample: StatsSample, series: Series, alerts: Sequence[Alert]) -> None:
        """Show `sample`, the sparklines of `series` and the warnings."""
        self.sample, self.alerts = sample, list(alerts)
        severe = [alert.text for alert in alerts if alert.severe]
        mild = [alert.text for alert in alerts if not alert.severe]
        self._set(".severe", "\n".join(f"! {one_line(line, 200)}" for line in severe))
        self._set(".warnings", "\n".join(f"• {one_line(line, 200)}" for line in mild))
        self._update(".readings", self._readings(sample))
        self._spark("util", series.util, f"{series.source} util", "%")
        self._spark("temp", series.temp, f"{series.source} temp", "°C")
        self._spark("power", series.power, "power", " W")
        self._set(".missing", "\n".join(one_line(line, 200) for line in sample.missing))

    def show_note(self, text: str) -> None:
        """Show a line instead of readings (stats switched off)."""
        self._update(".readings", Text(text))

    def show_remote(self, remote: RemoteStats | None) -> None:
        """Say that the model runs elsewhere and show what its server reports (None: it runs here)."""
        self.remote = remote
        if self.is_mounted:
            self._show_remote()

    def _show_remote(self) -> None:
        lines = remote_lines(self.remote) if self.remote else []
        self._set(".remote", "\n".join(one_line(line, 200) for line in lines))

    def _readings(self, sample: StatsSample) -> Text:
        styles = {
            kind: self.get_component_rich_style(f"stats-pane--{kind}", partial=True)
            for kind in ("title", "ours", "dim")
        }
        text = Text()
        for gpu in sample.gpus:
            for line, kind in gpu_lines(gpu):
                text.append(line + "\n", style=styles.get(kind, ""))
        for line, kind in cpu_lines(sample.cpu):
            text.append(line + "\n", style=styles.get(kind, ""))
        text.rstrip()
        return text

    def _spark(self, name: str, values: Sequence[float], label: str, unit: str) -> None:
        row = self.query_one(f".spark-{name}")
        if row.display != bool(values):
            row.display = bool(values)
        if values:
            self._update(f".spark-{name} .label", Text(f"{label} {values[-1]:.0f}{unit}"))
            row.query_one(Sparkline).data = list(values) if len(values) > 1 else []  # one bar would fill it

    def _set(self, selector: str, text: str) -> None:
        widget = self._update(selector, Text(text))
        if widget.display != bool(text):
            widget.display = bool(text)

    def _update(self, selector: str, text: Text) -> Static:
        """Update a Static only if its text changed, and lay out again only if its height did.

        A repaint of the pane's own lines costs a fraction of a relayout of the screen
        (measured: docs/benchmarks.md, "Stats sampling"), and most seconds change only figures.
        """
        widget = self.query_one(selector, Static)
        before = self._shown.get(selector)
        if before != text:
            self._shown[selector] = text
            width = widget.size.width
            same_height = before is not None and width > 0 and _height(before, width) == _height(text, width)
            widget.update(text, layout=not same_height)
        return widget


def _height(text: Text, width: int) -> int:
    """Rows `text` takes at `width` columns, counting lines that wrap."""
    return sum(max(1, -(-len(line) // width)) for line in text.plain.split("\n"))
