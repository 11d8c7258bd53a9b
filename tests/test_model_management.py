"""The model-management service without a UI: pull, download, import, delete, unload and LoRA,
each done and each refused or failed, against the loopback Ollama and hub and real GGUF files."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from tests.fake_hub import HubState, start_hub
from tests.fake_ollama import GIB, OllamaState, start_ollama
from tests.gguf_files import write_random, write_tiny_llama
from tests.gguf_lora import write_tiny_lora
from tests.loopback import closed_port
from tests.scripted_engine import ScriptedEngine
from tui.config import Config
from tui.config.read import load_config
from tui.domain import ConversationSettings, ModelInfo
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.ollama.engine import OllamaEngine
from tui.fit.estimate import Memory
from tui.fit.memory import MemorySnapshot
from tui.models.management import ModelManagement
from tui.models.outcome import Done, Failed, ManageError, Refused, Transfer, TransferProgress

REPO = "org/Tiny-GGUF"
SMALL_RAM = MemorySnapshot(ram=Memory("RAM", 8 * GIB, 16 * GIB), gpu=None)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)


@pytest.fixture
def daemon():
    state = OllamaState()
    state.add("llama3.2:latest", size=2 * GIB)
    served = start_ollama(state)
    yield served
    served.stop()


@pytest.fixture
async def ollama(daemon):
    engine = OllamaEngine(host=daemon.url)
    yield engine
    await engine.aclose()


def service(paths, *engines, config: Config | None = None) -> ModelManagement:
    return ModelManagement({e.name: e for e in engines}, config=config or Config(), paths=paths, environ={})


async def run(transfer: Transfer) -> list[TransferProgress]:
    async with aclosing(transfer.progress()) as steps:
        return [step async for step in steps]


async def test_pull_reports_progress_and_its_outcome(paths, daemon, ollama) -> None:
    daemon.state.pull_sizes["phi3:mini"] = 2_000_000_000
    manage = service(paths, ScriptedEngine(), ollama)
    assert manage.pullers() == ["ollama"]
    assert manage.pull_target("fake") == "ollama" and manage.pull_target(None) == "ollama"
    asked: list[str] = []

    async def go_on(question: str) -> bool:
        asked.append(question)
        return True

    transfer = manage.pull("phi3:mini", "ollama", memory=SMALL_RAM, go_on=go_on)
    assert transfer.title == "Pulling phi3:mini (ollama)" and transfer.done == Done("Pulled phi3:mini.")
    steps = await run(transfer)
    moving = [s for s in steps if s.total]
    assert moving and moving[-1].fraction == 1.0 and moving[-1].status == "fits in RAM"
    assert "2.0 GB / 2.0 GB" in moving[-1].rate and moving[-1].detail.startswith("fits in RAM · ")
    assert "phi3:mini" in daemon.state.models and asked == []


async def test_pull_refusals_and_failures(paths, daemon, ollama) -> None:
    with pytest.raises(Refused) as none:
        service(paths, ScriptedEngine()).pull_target(None)
    assert none.value.message == "No Ollama backend is configured (see [ollama] in the config)."
    assert none.value.reason == "no Ollama backend is configured (see [ollama] in the config)."
    manage = service(paths, ScriptedEngine(), ollama)
    with pytest.raises(Refused, match="^fake cannot pull; these can: ollama$"):
        manage.pull_target("fake", exact=True)
    with pytest.raises(Failed, match=r"^'llama 3' is not a model name \(e.g. llama3.2:3b\).$"):
        manage.pull("llama 3", "ollama")
    with pytest.raises(Failed) as failed:
        await run(manage.pull("no-such-model", "ollama"))
    assert failed.value.message.startswith("Pulling no-such-model (ollama) failed: ")
    assert "file does not exist" in failed.value.reason and failed.value.severity == "error"


async def test_a_pull_that_will_not_fit_asks_and_a_no_stops_it(paths, daemon, ollama) -> None:
    daemon.state.pull_sizes["big:70b"] = 40_000_000_000
    daemon.state.pull_steps, daemon.state.pull_delay = 40, 0.02
    asked: list[str] = []

    async def go_on(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(Failed, match="stopped: 40.0 GB will not fit"):
        await run(service(paths, ollama).pull("big:70b", "ollama", memory=SMALL_RAM, go_on=go_on))
    assert len(asked) == 1 and asked[0].startswith("big:70b (40.0 GB) will not fit: ")
    await asyncio.sleep(1.2)  # longer than the daemon's whole pull: the pull itself was stopped
    assert "big:70b" not in daemon.state.models


async def test_a_cancelled_transfer_stops_its_steps(paths) -> None:
    stopped = asyncio.Event()

    async def endless():
        from tui.engines.manage import Progress

        try:
            step = 0
            while True:
                step += 1
                yield Progress("pulling", step, 10**9)
                await asyncio.sleep(0.01)
        finally:
            stopped.set()

    transfer = Transfer("Pulling big:70b", endless(), "done")
    seen: list[TransferProgress] = []

    async def consume() -> None:
        async with aclosing(transfer.progress()) as steps:
            async for step in steps:
                seen.append(step)

    task = asyncio.create_task(consume())
    while len(seen) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stopped.is_set() and transfer.cancelled == "Pulling big:70b: cancelled."


async def test_delete_asks_with_what_goes_then_says_so(paths, daemon, ollama) -> None:
    config = Config()
    config.models.favourites = ["ollama/llama3.2:latest"]
    manage = service(paths, ollama, config=config)
    model = ModelInfo("llama3.2:latest", "ollama")
    plan = manage.plan_delete("ollama", "llama3.2:latest", model)
    assert plan.question == "Delete llama3.2:latest from ollama? Its files are removed."
    assert await manage.delete(plan) == Done("Deleted llama3.2:latest from ollama.")
    assert daemon.state.models == {}
    manage.forget_favourite("ollama", "llama3.2:latest")
    assert config.models.favourites == [] and load_config(paths.config_file).config.models.favourites == []
    # Gone behind lchat's back: the server's answer is the reason.
    with pytest.raises(Failed) as failed:
        await manage.delete(plan)
    assert failed.value.message.startswith("Could not delete llama3.2:latest: model '")
    assert "not found" in failed.value.reason and failed.value.lasting


async def test_delete_is_refused_before_anything_is_asked(paths, tmp_path) -> None:
    embedded = EmbeddedEngine(models_dir=paths.models_dir, include_starter=False, n_threads=1)
    manage = service(paths, ScriptedEngine(), embedded)
    with pytest.raises(Refused) as refused:
        manage.plan_delete("fake", "m", ModelInfo("m", "fake", extra={"label": "My M"}), width=60)
    assert refused.value.message == "lchat cannot delete models on fake; remove My M there."
    assert refused.value.reason == "lchat cannot delete models on fake; remove it there"
    reused = ModelInfo("x", "embedded", path=str(tmp_path / "x.gguf"), extra={"read_only": True, "source": "LM Studio"})
    with pytest.raises(Refused, match="only reuses this model from LM Studio") as other_app:
        manage.plan_delete("embedded", "x", reused)
    assert other_app.value.lasting and other_app.value.severity == "warning"


async def test_unload_frees_a_model_and_says_why_it_could_not(paths, daemon, ollama) -> None:
    daemon.state.load("llama3.2:latest")
    manage = service(paths, ScriptedEngine(), ollama)
    assert await manage.unload("ollama", "llama3.2:latest") == Done("Unloaded llama3.2:latest: its memory is free.")
    assert "llama3.2:latest" not in daemon.state.running
    with pytest.raises(Refused, match="^fake has no unload; its models are loaded as they are used.$"):
        await manage.unload("fake", "m")
    gone = OllamaEngine(name="far", host=f"http://127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(Failed, match="^Could not unload llama3.2:latest: "):
            await service(paths, gone).unload("far", "llama3.2:latest")
    finally:
        await gone.aclose()


async def test_download_offers_the_files_then_fetches_one(paths, tmp_path) -> None:
    tiny = write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()
    hub = start_hub(HubState(repos={REPO: {"tiny-Q8_0.gguf": tiny, "tiny-Q4_0.gguf": tiny}}))
    try:
        config = Config()
        config.models.hf_endpoint = hub.url
        manage = service(paths, config=config)
        offer = await manage.offer_download(REPO, lambda: SMALL_RAM)
        assert offer.chosen is None and offer.note is None
        assert offer.question == f"Which GGUF of {REPO}? (best fit on this machine first)"
        assert [label.split()[0] for _, label in offer.options()] == ["Q4_0", "Q8_0"]
        choice = offer.choice("1")
        assert offer.too_big(choice) is None
        transfer = manage.download(offer.repo, choice)
        assert transfer.title == "Downloading tiny-Q8_0.gguf"
        assert transfer.done.message == "Downloaded tiny-Q8_0.gguf into the models folder."
        steps = await run(transfer)
        assert steps[-1].fraction == 1.0 and (paths.models_dir / "tiny-Q8_0.gguf").read_bytes() == tiny
        named = await manage.offer_download(f"{REPO}:Q4_0", lambda: None)
        assert named.chosen is not None and named.chosen.quant == "Q4_0"
        missing = await manage.offer_download(f"{REPO}:Q2_K", lambda: None)
        assert missing.chosen is None and missing.note == f"{REPO} has no file or quantization 'Q2_K'; choose one."
        with pytest.raises(Failed) as failed:
            await manage.offer_download("org/nope", lambda: None)
        assert failed.value.message.startswith("Cannot download org/nope: no Hugging Face repo named 'org/nope'")
    finally:
        hub.stop()


async def test_import_copies_a_gguf_file_and_refuses_others(paths, tmp_path) -> None:
    good = write_tiny_llama(tmp_path / "my-model.gguf")
    manage = service(paths)
    transfer = await manage.import_file(str(good))
    assert transfer.title == "Importing my-model.gguf" and transfer.done == Done("Imported my-model.gguf.")
    steps = await run(transfer)
    assert steps[-1].status == "done" and (paths.models_dir / "my-model.gguf").read_bytes() == good.read_bytes()
    with pytest.raises(Failed, match="^Cannot import: my-model.gguf is already in the models folder$"):
        await manage.import_file(str(good))
    with pytest.raises(Failed, match="^Cannot import: .*not a usable GGUF file"):
        await manage.import_file(str(write_random(tmp_path / "notes.gguf")))


class LoraEngine(ScriptedEngine):
    supports_lora = True


async def test_lora_is_checked_and_becomes_the_conversations_param(paths, tmp_path) -> None:
    manage = service(paths, LoraEngine(name="embedded", models=["tiny"]), ScriptedEngine(name="other"))
    model = manage.lora_model("embedded", ModelInfo("tiny", "embedded", architecture="llama"))
    adapter = write_tiny_lora(tmp_path / "lora.gguf")
    choice = await manage.choose_lora(str(adapter), model)
    assert choice.path == str(adapter.resolve())
    old = ConversationSettings(temperature=0.5, lora="old.gguf")
    assert choice.applied_to(old) == ConversationSettings(temperature=0.5, lora=choice.path)
    assert choice.done == Done("LoRA lora.gguf applies from the next answer on.")
    none = await manage.choose_lora("", model)
    assert none.applied_to(old) == ConversationSettings(temperature=0.5) and none.done == Done("LoRA adapter removed.")
    with pytest.raises(Failed, match="^Cannot use that adapter: junk.gguf is not a GGUF file"):
        await manage.choose_lora(str(write_random(tmp_path / "junk.gguf")), model)
    for backend, found in (("other", ModelInfo("m", "other")), ("embedded", None)):
        with pytest.raises(Refused, match="^LoRA adapters apply to the embedded engine's GGUF models.$"):
            manage.lora_model(backend, found)


def test_the_service_needs_no_ui() -> None:
    """Every outcome is one family, and the service module loads without Textual."""
    import subprocess
    import sys

    assert issubclass(Refused, ManageError) and issubclass(Failed, ManageError)
    code = "import sys, tui.models.management; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
