"""The stats pane in the app, driven through Pilot with scripted readings (no real hardware)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message

from tests.fake_monitor import scripted_monitor
from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.config import Config, StatsConfig
from tui.domain import ChatMessage, Role
from tui.services import _engine_pids
from tui.stats import monitor_for
from tui.stats.history import Series
from tui.stats.sample import CpuReading, GpuProcess, GpuReading, RemoteModel, RemoteStats, StatsSample
from tui.ui.app import LchatApp
from tui.ui.widgets.message_header import energy_label, header_text
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.stats_line import StatsLine
from tui.ui.widgets.stats_pane import StatsPane, StatsSampled

WIDE, NARROW = (140, 45), (80, 24)
CPU = CpuReading(util_percent=12, ram_used=12 * 2**30, ram_total=64 * 2**30, temp_c=55, package_power_w=35)


def card(temp: float = 60, **figures) -> GpuReading:
    defaults = dict(
        util_percent=45,
        vram_used=8 * 2**30,
        vram_total=24 * 2**30,
        temp_slowdown_c=87,
        power_w=215,
        power_limit_w=450,
        processes=(GpuProcess(4242, "engine", 6 * 2**30, ours=True),),
    )
    return GpuReading(0, "nvidia", "RTX 4090", temp_c=temp, **{**defaults, **figures})


def services_with(open_services, steps, *, config: Config | None = None, engine=None):
    """Services whose monitor plays `steps` one tick at a time, driven by the test."""
    monitor = scripted_monitor(steps, CPU, threaded=False)
    services = open_services(engine or ScriptedEngine(), config=config, stats=lambda config, pids, vram: monitor)
    return services, monitor


def pane_text(app: LchatApp, selector: str) -> str:
    widget = app.screen.query_one(StatsPane).query_one(selector)
    return str(widget.render()) if widget.display else ""


async def test_pane_shows_readings_and_sparklines(open_services) -> None:
    services, monitor = services_with(open_services, [[card(util_percent=u)] for u in (10, 50, 90)])
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(StatsPane)
        assert pane.border_title == "Stats" and pane.region.width > 0
        for _ in range(3):
            monitor.tick()
        await pilot.pause()
        readings = pane.query_one(".readings").render()
        text = str(readings)
        assert "GPU0 RTX 4090" in text and "util 90% · VRAM 8.0/24.0 GiB" in text and "215/450 W" in text
        assert "CPU 12% · 55°C · 35 W" in text
        # The engine's own process is marked, and styled apart from the others.
        ours = next(span for span in readings.spans if "◆ 4242 engine" in text[span.start : span.end])
        assert ours.style
        assert pane.query_one("#spark-util").data == [10, 50, 90]
        assert str(pane.query_one(".spark-util .label").render()) == "GPU util 90%"
        assert pane.query_one("#spark-power").data == [250, 250, 250]  # GPU plus CPU package
        assert pane_text(app, ".warnings") == "" and pane_text(app, ".severe") == ""


async def test_a_warning_appears_when_a_threshold_is_crossed(open_services) -> None:
    services, monitor = services_with(open_services, [[card(70)], [card(84)], [card(90, throttle=("thermal",))]])
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        monitor.tick()
        await pilot.pause()
        assert pane_text(app, ".warnings") == "" and pane_text(app, ".severe") == ""
        monitor.tick()
        await pilot.pause()
        assert pane_text(app, ".warnings") == "• GPU0 at 84°C, near slowdown at 87°C"
        monitor.tick()
        await pilot.pause()
        assert pane_text(app, ".severe").splitlines() == [
            "! GPU0 at 90°C: past its slowdown point (87°C)",
            "! GPU0 throttling (thermal)",
        ]
        assert pane_text(app, ".warnings") == ""


async def test_f5_hides_and_shows_the_pane(open_services) -> None:
    services, monitor = services_with(open_services, [[card(util_percent=u)] for u in (10, 20, 30)])
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        monitor.tick()
        await pilot.pause()
        pane = app.screen.query_one(StatsPane)
        await pilot.press("f5")
        await pilot.pause()
        assert pane.region.width == 0 and app.screen.has_class("-no-stats")
        assert app.screen.query_one("#models").region.height > 30  # the models list takes the room
        monitor.tick()  # sampling goes on while hidden (history, energy) but the pane is left alone
        await pilot.pause()
        assert pane.sample.gpus[0].util_percent == 10
        await pilot.press("f5")
        await pilot.pause()
        assert pane.region.width > 0
        assert pane.sample.gpus[0].util_percent == 20  # the latest, at once
        assert pane.query_one("#spark-util").data == [10, 20]


async def test_stats_can_start_hidden(open_services) -> None:
    services, _ = services_with(open_services, [[card()]], config=Config(stats=StatsConfig(visible=False)))
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        assert app.screen.query_one(StatsPane).region.width == 0


async def test_narrow_terminal_folds_the_pane_to_one_line(open_services) -> None:
    services, monitor = services_with(open_services, [[card(60)], [card(85)]])
    app = LchatApp(services)
    async with app.run_test(size=NARROW) as pilot:
        monitor.tick()
        await pilot.pause()
        line = app.screen.query_one(StatsLine)
        assert app.screen.query_one(StatsPane).region.width == 0
        assert line.region.height == 1 and line.region.width > 70
        assert str(line.render()).startswith("GPU0 45% 60°C 215W 8.0/24.0G · CPU 12% 55°C")
        monitor.tick()
        await pilot.pause()
        assert str(line.render()).startswith("• GPU0 at 85°C, near slowdown at 87°C · GPU0")
        assert line.has_class("-alert") and not line.has_class("-severe")
        await pilot.press("f5")
        await pilot.pause()
        assert line.region.height == 0


async def test_samples_replace_each_other_when_the_ui_is_busy(open_services) -> None:
    first = StatsSampled(StatsSample(0, 0), Series(), [])
    assert first.can_replace(StatsSampled(StatsSample(1, 1), Series(), []))
    assert not first.can_replace(Message())
    services, _ = services_with(open_services, [[card()]])
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(StatsPane)
        shown: list[float] = []
        real_show = pane.show
        pane.show = lambda sample, series, alerts: (shown.append(sample.time), real_show(sample, series, alerts))
        for n in range(50):  # a flood, all queued before the pane gets a turn
            pane.post_message(StatsSampled(StatsSample(float(n), 0, (card(),), CPU), Series(), []))
        await pilot.pause()
        assert shown[-1] == 49 and len(shown) < 5


async def test_remote_backend_note_and_figures(open_services) -> None:
    services, monitor = services_with(open_services, [[card()]])
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        monitor.tick()
        await pilot.pause()
        pane = app.screen.query_one(StatsPane)
        assert pane_text(app, ".remote") == ""
        pane.show_remote(RemoteStats("ollama", "gpu-box:11434", (RemoteModel("llama3:8b", 100, 75, None),)))
        await pilot.pause()
        lines = pane_text(app, ".remote").splitlines()
        assert lines == [
            "ollama runs on gpu-box:11434: the figures below are this machine's, not the server's.",
            "llama3:8b: 75% in VRAM (0.0 GiB), no expiry",
        ]
        assert "GPU0 RTX 4090" in str(pane.query_one(".readings").render())  # local figures stay
        pane.show_remote(None)
        await pilot.pause()
        assert pane_text(app, ".remote") == ""


async def test_remote_figures_given_before_the_pane_is_mounted() -> None:
    class Host(App[None]):
        def compose(self) -> ComposeResult:
            pane = StatsPane()
            pane.show_remote(RemoteStats("ollama", "far-away", error="connection refused"))
            yield pane

    async with Host().run_test() as pilot:
        await pilot.pause()
        remote = pilot.app.query_one(StatsPane).query_one(".remote")
        assert "server figures unavailable: connection refused" in str(remote.render())


async def test_missing_hardware_is_one_line_each(open_services) -> None:
    services, monitor = services_with(open_services, [[]])  # the scripted reader finds no GPU
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        monitor.tick()
        await pilot.pause()
        assert pane_text(app, ".missing") == "scripted: no GPU"
        assert str(app.screen.query_one(StatsPane).query_one(".spark-util .label").render()) == "CPU util 12%"


async def test_stats_switched_off(open_services) -> None:
    config = Config(stats=StatsConfig(enabled=False))
    services = open_services(ScriptedEngine(), config=config, stats=monitor_for)
    assert services.stats is None and services.chat.answers.energy is None
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        readings = app.screen.query_one(StatsPane).query_one(".readings")
        assert "Stats are off" in str(readings.render())
        await pilot.press("f5")  # still toggles, harmlessly
        await pilot.pause()


async def test_each_answer_shows_prompt_tokens_and_energy(open_services) -> None:
    monitor = scripted_monitor([[card(power_w=300.0)]], CpuReading(package_power_w=60.0), interval_s=0.01)
    engine = ScriptedEngine(script=fixed_script(*["word "] * 20), delay=0.01)
    services = open_services(engine, stats=lambda config, pids, vram: monitor)
    app = LchatApp(services)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press(*"how hot", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        stored = services.store.list_messages(answer.message.conversation_id)[-1]
        assert stored.energy_wh is not None and stored.energy_wh >= 360 * 0.2 / 3600  # 360 W for 0.2 s at least
        header = str(answer.query_one(".header").render())
        assert f"20 tok (prompt {stored.prompt_tokens})" in header
        assert energy_label(stored.energy_wh) in header and "mWh" in header


def test_header_and_energy_label() -> None:
    message = ChatMessage(
        1,
        1,
        Role.ASSISTANT,
        "x",
        model="m",
        prompt_tokens=12,
        completion_tokens=87,
        ttft_s=0.12,
        gen_s=2.0,
        energy_wh=0.42,
    )
    assert str(header_text(message)) == "Assistant · m · 87 tok (prompt 12) · 43.5 tok/s · TTFT 120 ms · 0.42 Wh"
    assert [energy_label(wh) for wh in (0.0031, 0.25, 3.456, 42.4)] == ["3.1 mWh", "0.25 Wh", "3.46 Wh", "42 Wh"]
    assert isinstance(header_text(message), Text)


def test_the_engines_child_processes_are_ours() -> None:
    class WithChild:
        child_pid = 4242

    class WithoutChild:
        child_pid = None

    assert _engine_pids({"a": WithChild(), "b": WithoutChild(), "c": ScriptedEngine()}) == {4242}
