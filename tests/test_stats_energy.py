"""Per-answer energy: integration against synthetic power traces, the meter, and what ChatService stores."""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import aclosing

import pytest

from tests.fake_monitor import scripted_monitor
from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.chat.events import AnswerEnded
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import MessageStatus
from tui.models.names import ModelChoice
from tui.stats.energy import EnergyMeter, integrate_wh
from tui.stats.sample import CpuReading, GpuReading
from tui.store import HistoryStore

FAKE = ModelChoice("fake", "fake-model")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_constant_power() -> None:
    trace = [(t, 360.0) for t in range(0, 11)]
    assert integrate_wh(trace, 0, 10) == pytest.approx(1.0)  # 360 W for 10 s = 3600 J


def test_linear_ramp_is_exact() -> None:
    trace = [(float(t), 100.0 * t / 36) for t in range(0, 37)]
    assert integrate_wh(trace, 0, 36) == pytest.approx(0.5)  # the mean, 50 W, for 36 s


def test_sine_wave_sampled_once_a_second() -> None:
    """A load that swings 100..300 W over a minute, sampled at 1 Hz: within 0.2% of the true value."""

    def power(t: float) -> float:
        return 200 + 100 * math.sin(2 * math.pi * t / 60)

    trace = [(float(t), power(t)) for t in range(0, 91)]
    start, end = 3.3, 87.6
    exact = (
        200 * (end - start)
        - 100 * 60 / (2 * math.pi) * (math.cos(2 * math.pi * end / 60) - math.cos(2 * math.pi * start / 60))
    ) / 3600
    assert integrate_wh(trace, start, end) == pytest.approx(exact, rel=2e-3)


def test_window_between_two_samples_is_interpolated() -> None:
    trace = [(0.0, 100.0), (10.0, 200.0)]
    assert integrate_wh(trace, 4, 6) == pytest.approx(150 * 2 / 3600)


def test_beyond_the_samples_power_is_held() -> None:
    assert integrate_wh([(5.0, 72.0)], 0, 10) == pytest.approx(72 * 10 / 3600)
    assert integrate_wh([(5.0, 72.0), (6.0, 36.0)], 0, 10) == pytest.approx((72 * 5.5 + 36 * 4.5) / 3600)


def test_nothing_to_integrate() -> None:
    assert integrate_wh([], 0, 10) is None
    assert integrate_wh([(0.0, 10.0)], 5, 4) is None
    assert integrate_wh([(0.0, 10.0)], 5, 5) == 0


def power_monitor(watts: list[float], clock: Clock, cpu_watts: float | None = None):
    gpus = [[GpuReading(0, "nvidia", "test", power_w=w)] for w in watts]
    cpu = CpuReading(package_power_w=cpu_watts)
    return scripted_monitor(gpus, cpu, interval_s=1.0, threaded=False, clock=clock)


def test_meter_integrates_the_samples_taken_during_the_answer() -> None:
    clock = Clock()
    monitor = power_monitor([100, 300, 200, 50], clock, cpu_watts=20)
    meter = EnergyMeter(monitor, clock=clock)
    assert not monitor.tick().generating  # t=0: 120 W, taken just before the answer started
    clock.now = 0.5
    run = meter.begin()
    for t in (1, 2):
        clock.now = t
        assert monitor.tick().generating  # 320 W at t=1, 220 W at t=2
    clock.now = 2.5
    wh = run.end()
    # Linear between samples (220 W at t=0.5), held after the last one.
    expected = ((220 + 320) / 2 * 0.5 + (320 + 220) / 2 * 1 + 220 * 0.5) / 3600
    assert wh == pytest.approx(expected)
    assert run.end() == wh  # ended once
    clock.now = 3
    assert not monitor.tick().generating  # 70 W, after the answer: not counted


def test_meter_without_readable_power_gives_none() -> None:
    clock = Clock()
    monitor = scripted_monitor([[GpuReading(0, "nvidia", "no power sensor")]], threaded=False, clock=clock)
    run = EnergyMeter(monitor, clock=clock).begin()
    clock.now = 1
    monitor.tick()
    clock.now = 2
    assert run.end() is None


def test_a_stale_sample_is_not_used_as_the_start() -> None:
    clock = Clock()
    monitor = power_monitor([500, 100], clock)
    monitor.tick()  # 500 W, long ago
    clock.now = 100
    run = EnergyMeter(monitor, clock=clock).begin()
    clock.now = 101
    monitor.tick()
    clock.now = 102
    assert run.end() == pytest.approx(100 * 2 / 3600)


def test_meter_starts_the_sampling_thread_and_stops_it() -> None:
    monitor = power_monitor([250.0], Clock())
    monitor.threaded = True
    monitor.interval_s = 0.01
    run = EnergyMeter(monitor).begin()
    assert monitor.running
    deadline = time.monotonic() + 30
    while monitor.samples_taken < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert monitor.samples_taken >= 3, "the sampling thread took no samples"
    assert run.end() is not None
    assert not monitor.running
    monitor.close()


# What ChatService does with it


class FixedEnergy:
    def __init__(self, wh: float | None = 0.25, fail: bool = False) -> None:
        self.wh, self.fail, self.begun, self.ended = wh, fail, 0, 0

    def begin(self):
        self.begun += 1
        return self

    def end(self):
        self.ended += 1
        if self.fail:
            raise RuntimeError("meter broke")
        return self.wh


@pytest.fixture
def store(tmp_path):
    with HistoryStore.open(tmp_path / "history.db") as store:
        yield store


async def run_answer(service: ChatService, text: str = "hi") -> AnswerEnded:
    conversation = service.settings.new_conversation(FAKE)
    async with aclosing(service.answers.send(conversation.id, text, FAKE)) as updates:
        return [update async for update in updates][-1]


async def test_energy_is_stored_with_the_answer(store) -> None:
    energy = FixedEnergy(0.25)
    service = ChatService(store, {"fake": ScriptedEngine()}, ChatConfig(), energy=energy)
    ended = await run_answer(service)
    assert ended.message.energy_wh == 0.25
    (_, answer) = store.list_messages(ended.message.conversation_id)
    assert answer.energy_wh == 0.25 and answer.prompt_tokens is not None
    assert (energy.begun, energy.ended) == (1, 1)


async def test_an_interrupted_answer_keeps_its_energy(store) -> None:
    engine = ScriptedEngine(script=fixed_script(*["w "] * 200), delay=0.01)
    service = ChatService(store, {"fake": engine}, ChatConfig(), energy=FixedEnergy(0.5))
    conversation = service.settings.new_conversation(FAKE)

    async def consume() -> None:
        async with aclosing(service.answers.send(conversation.id, "go", FAKE)) as updates:
            async for _ in updates:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = store.list_messages(conversation.id)[-1]
    assert answer.status is MessageStatus.INTERRUPTED and answer.energy_wh == 0.5


async def test_a_broken_meter_costs_the_figure_not_the_answer(store) -> None:
    service = ChatService(store, {"fake": ScriptedEngine()}, ChatConfig(), energy=FixedEnergy(fail=True))
    ended = await run_answer(service, "still answered")
    assert ended.message.status is MessageStatus.COMPLETE and ended.message.energy_wh is None
    assert ended.message.content == "You said: still answered"


async def test_without_a_meter_no_energy_is_stored(store) -> None:
    ended = await run_answer(ChatService(store, {"fake": ScriptedEngine()}, ChatConfig()))
    assert ended.message.energy_wh is None


async def test_energy_is_measured_only_for_engines_on_this_machine(store) -> None:
    """A model served by another machine draws none of this machine's power: no figure, no meter."""
    energy = FixedEnergy(0.25)
    engines = {"fake": ScriptedEngine(), "far": ScriptedEngine(name="far", local=False)}
    service = ChatService(store, engines, ChatConfig(), energy=energy)
    here = await run_answer(service)
    far = ModelChoice("far", "fake-model")
    conversation = service.settings.new_conversation(far)
    async with aclosing(service.answers.send(conversation.id, "hi", far)) as updates:
        there = [update async for update in updates][-1]
    assert there.message.status is MessageStatus.COMPLETE and there.message.content == "You said: hi"
    assert here.message.energy_wh == 0.25 and there.message.energy_wh is None
    assert store.list_messages(conversation.id)[-1].energy_wh is None
    assert (energy.begun, energy.ended) == (1, 1)  # The remote answer never started the meter.


async def test_real_meter_through_the_service(store) -> None:
    """The meter on a sampling thread, a scripted 300 W GPU: the figure is 300 W times the answer's time."""
    monitor = power_monitor([300.0], Clock())
    monitor.threaded, monitor.interval_s = True, 0.01
    engine = ScriptedEngine(script=fixed_script(*["w "] * 20), delay=0.01)
    service = ChatService(store, {"fake": engine}, ChatConfig(), energy=EnergyMeter(monitor))
    ended = await run_answer(service)
    monitor.close()
    elapsed = 20 * 0.01  # at least; the scheduler adds some
    assert 300 * elapsed / 3600 <= ended.message.energy_wh < 300 * (elapsed * 5) / 3600
