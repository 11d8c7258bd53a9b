"""lchat itself, run by `lchat`'s own entry point, with measuring hooks; the bench drives it in a pty.

Run as ``python -m bench.app_probe SPEC`` (JSON). Events go to the file descriptor in
$LCHAT_BENCH_FD as JSON lines: "paint" at the main screen's first refresh, then what the
scenario measures. Nothing in lchat changes: the hooks wrap a few methods from outside.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_out = None
_tasks: list[asyncio.Task] = []


def emit(event: str, **values: Any) -> None:
    """Send one event to the bench."""
    global _out
    if _out is None:
        _out = os.fdopen(int(os.environ["LCHAT_BENCH_FD"]), "w", buffering=1)
    _out.write(json.dumps({"event": event, **values}) + "\n")


def rss_kb() -> dict[str, int]:
    """Resident memory now and at its peak, from /proc."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


class LagMonitor:
    """How late a 5 ms timer fires on the app's event loop: the loop's lag, sampled."""

    PERIOD = 0.005

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.PERIOD)
            now = time.perf_counter()
            self.samples.append((now, now - before - self.PERIOD))


class StreamRecorder:
    """Times every piece after the UI worker wrote it into the Markdown stream."""

    def __init__(self, mark_every: int) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.mark_every = mark_every
        self.marks: list[tuple[int, float, float]] = []
        """(pieces so far, perf_counter, process CPU seconds) every `mark_every` pieces."""

    def wrote(self) -> None:
        now = time.perf_counter()
        self.count += 1
        self.first = self.first or now
        self.last = now
        if self.count == 1 or self.count % self.mark_every == 0:
            self.marks.append((self.count, now, time.process_time()))


def install(spec: dict) -> None:
    from tui.ui.screens.main_screen import MainScreen
    from tui.ui.widgets.message_view import MessageView
    from tui.ui.widgets.streamed_markdown import LiveLines

    lag = LagMonitor()
    recorder = StreamRecorder(spec.get("mark_every", 1000))
    original_mount = MainScreen.on_mount

    async def on_mount(self: MainScreen) -> None:
        await original_mount(self)
        self.call_after_refresh(first_paint, self)

    def first_paint(screen: MainScreen) -> None:
        emit("paint", t=time.perf_counter())
        lag.start()
        # A task of its own: a callback awaited by the app would hold up its message queue.
        _tasks.append(asyncio.get_running_loop().create_task(run_scenario(screen)))

    async def run_scenario(screen: MainScreen) -> None:
        scenario = spec.get("scenario", "paint")
        if scenario == "paint":
            await asyncio.sleep(spec.get("settle_s", 0.0))
            emit("memory", **rss_kb())
            for conversation_id in spec.get("opens", []):
                started = time.perf_counter()
                await screen.open_conversation(conversation_id)
                painted = asyncio.get_running_loop().create_future()
                screen.call_after_refresh(_wake, painted)
                await painted
                emit("opened", id=conversation_id, s=time.perf_counter() - started)
            emit("memory_after", **rss_kb())
            emit("done")
        elif scenario == "idle":
            await asyncio.sleep(spec.get("settle_s", 0.0))
            cpu, wall = _cpu(), time.perf_counter()
            await asyncio.sleep(spec["idle_s"])
            emit("idle", cpu_s=_cpu() - cpu, wall_s=time.perf_counter() - wall, **_stats_counts())
            emit("done")
        else:  # "stream": the bench types the question; the answer's end is reported.
            await screen.models.loaded.wait()
            for _ in range(600):  # A model from a server is listed once that server answered.
                if not spec.get("model") or any(m.name == spec["model"] for m in screen.models.models):
                    break
                await asyncio.sleep(0.05)
            emit("ready")

    original_write = MessageView.write
    original_finish = MessageView.finish
    original_draw = LiveLines.draw
    drained: list[float] = []

    def draw(self: LiveLines) -> None:
        original_draw(self)
        drained.append(time.perf_counter())  # Everything written so far is drawn now.

    async def write(self: MessageView, piece: str) -> None:
        await original_write(self, piece)
        recorder.wrote()

    profiler = None
    if spec.get("profile"):  # cProfile over the streamed answer, written where the spec says.
        import cProfile

        profiler = cProfile.Profile()
    original_start = MessageView.start_stream

    def start_stream(self: MessageView) -> None:
        if profiler is not None:
            profiler.enable()
        original_start(self)

    async def finish(self: MessageView, message) -> None:
        ended = time.perf_counter()
        await original_finish(self, message)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(spec["profile"])
        if str(message.role) == "assistant" and str(message.status) != "streaming":
            finished = time.perf_counter()
            emit(
                "answer",
                tokens=message.completion_tokens,
                pieces=recorder.count,
                first=recorder.first,
                last=recorder.last,
                ended=ended,
                finished=finished,
                # Shown by the live lines, else by the final render.
                drained=drained[-1] if drained and drained[-1] >= (recorder.last or 0) else finished,
                status=str(message.status),
                error=message.error,
                marks=recorder.marks,
                lag=[(t, d) for t, d in lag.samples],
                cpu=_cpu(),
            )

    _patch(MainScreen, on_mount=on_mount)
    _patch(MessageView, write=write, finish=finish, start_stream=start_stream)
    _patch(LiveLines, draw=draw)


def _patch(owner: type, **methods: Callable[..., Any]) -> None:
    """Replace methods of `owner`, so the probe sees what the app does."""
    for name, method in methods.items():
        setattr(owner, name, method)


def _wake(future: asyncio.Future[None]) -> None:
    """Resolve `future` unless a previous call already did."""
    if not future.done():
        future.set_result(None)


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and of the children it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


_monitors: list = []


def _stats_counts() -> dict:
    return {"samples": sum(getattr(m, "samples_taken", 0) for m in _monitors), "monitors": len(_monitors)}


def _track_monitors() -> None:
    try:
        from tui.stats.monitor import StatsMonitor
    except ImportError:
        return
    original = StatsMonitor.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        _monitors.append(self)

    _patch(StatsMonitor, __init__=init)


def _use_paced_engine(spec: dict) -> None:
    """Replace the configured backends with the synthetic one."""
    from bench.synthetic import PacedEngine, markdown_pieces
    from tui.engines import registry

    engine = PacedEngine(markdown_pieces(spec["tokens"]), spec["rate"])
    registry.build_engines = lambda config, paths, **_: {engine.name: engine}


def main(spec: dict) -> int:
    import tui.cli

    run_tui = tui.cli._run_tui

    def hooked_run_tui(services) -> int:
        # Textual is imported here, as in lchat, after the frame cap is set from the config.
        os.environ.setdefault("TEXTUAL_FPS", str(services.config.ui.max_fps))
        install(spec)
        return run_tui(services)

    tui.cli._run_tui = hooked_run_tui
    _track_monitors()
    if spec.get("engine") == "paced":
        _use_paced_engine(spec)
    return tui.cli.main(["--data-dir", spec["data_dir"], "--config", spec["config"]])


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
