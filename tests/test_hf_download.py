"""Hugging Face downloads: the real `huggingface_hub` code path against a loopback hub."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import namedtuple
from pathlib import Path

import pytest

from tests.fake_hub import HubState, start_hub
from tests.gguf_files import write_tiny_llama
from tests.loopback import closed_port
from tui.engines.base import EngineError, EngineUnavailable, ModelNotFound
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.models.hf import HfChoice, HubClient, choices, parse_repo, pick, quant_of

REPO = "org/Tiny-GGUF"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch) -> None:
    """The hub client reports progress per 10 MB read; the test files are smaller than that."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)


@pytest.fixture
def tiny(tmp_path: Path) -> bytes:
    return write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()


@pytest.fixture
def hub(tiny):
    state = HubState(
        repos={
            REPO: {
                "tiny-Q8_0.gguf": tiny,
                "tiny-Q4_K_M.gguf": tiny[: len(tiny) // 2] + tiny[len(tiny) // 2 :],
                "mmproj-tiny-f16.gguf": b"projector",
                "README.md": b"# Tiny",
                "big/tiny-big-Q2_K-00001-of-00002.gguf": tiny[:1000],
                "big/tiny-big-Q2_K-00002-of-00002.gguf": tiny[1000:],
            }
        }
    )
    served = start_hub(state)
    yield served
    served.stop()


@pytest.fixture
def client(hub, tmp_path) -> HubClient:
    return HubClient(endpoint=hub.url, models_dir=tmp_path / "models", token=False)


def test_repo_names_files_and_quantizations() -> None:
    assert parse_repo("Qwen/Qwen2.5-0.5B-Instruct-GGUF") == ("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "")
    assert parse_repo("hf.co/org/repo:Q4_K_M") == ("org/repo", "Q4_K_M")
    assert parse_repo("org/repo/sub/file.gguf") == ("org/repo", "sub/file.gguf")
    assert parse_repo("https://huggingface.co/org/repo/blob/main/file-Q8_0.gguf") == ("org/repo", "file-Q8_0.gguf")
    with pytest.raises(ModelNotFound, match="is not a Hugging Face repo id"):
        parse_repo("llama3")
    assert [
        quant_of(n) for n in ("a-Q4_K_M.gguf", "a.IQ3_XXS.gguf", "a-f16.gguf", "a-bf16-00001-of-00002.gguf", "x.gguf")
    ] == ["Q4_K_M", "IQ3_XXS", "F16", "BF16", ""]
    found = choices(
        {
            "m-Q8_0.gguf": 800,
            "m-Q4_0.gguf": 400,
            "mmproj-m.gguf": 1,
            "a.txt": 5,
            "m-F16-00001-of-00002.gguf": 1000,
            "m-F16-00002-of-00002.gguf": 600,
        }
    )
    assert [(c.quant, c.size, len(c.files)) for c in found] == [("Q4_0", 400, 1), ("Q8_0", 800, 1), ("F16", 1600, 2)]
    assert pick(found, "q8_0").files == ("m-Q8_0.gguf",) and pick(found, "m-F16-00002-of-00002.gguf").quant == "F16"
    assert pick(found, "Q5_K_M") is None


async def test_file_list_and_clear_errors(client, hub) -> None:
    found = await asyncio.to_thread(client.list_choices, REPO)
    assert {c.quant for c in found} == {"Q8_0", "Q4_K_M", "Q2_K"}
    assert next(c for c in found if c.quant == "Q2_K").files == (
        "big/tiny-big-Q2_K-00001-of-00002.gguf",
        "big/tiny-big-Q2_K-00002-of-00002.gguf",
    )
    with pytest.raises(ModelNotFound, match="no Hugging Face repo named 'org/nope'"):
        await asyncio.to_thread(client.list_choices, "org/nope")
    hub.state.gated.add(REPO)
    with pytest.raises(EngineUnavailable, match="is gated"):
        await asyncio.to_thread(client.list_choices, REPO)
    hub.state.repos["org/text-only"] = {"model.safetensors": b"x"}
    with pytest.raises(ModelNotFound, match="has no GGUF files"):
        await asyncio.to_thread(client.list_choices, "org/text-only")


async def test_no_network_is_said_at_once(tmp_path) -> None:
    offline = HubClient(endpoint=f"http://127.0.0.1:{closed_port()}", models_dir=tmp_path, token=False)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="cannot reach .*no network"):
        await asyncio.to_thread(offline.list_choices, REPO)
    assert time.monotonic() - started < 5


async def test_download_lands_in_the_models_folder_with_progress(client, tiny) -> None:
    found = await asyncio.to_thread(client.list_choices, REPO)
    choice = pick(found, "Q8_0")
    steps = [step async for step in client.download(REPO, choice)]
    path = client.models_dir / "tiny-Q8_0.gguf"
    assert path.read_bytes() == tiny
    assert read_gguf_info(path).architecture == "llama"
    completed = [s.completed for s in steps]
    assert completed == sorted(completed) and completed[-1] == len(tiny) and steps[-1].total == len(tiny)
    assert len(steps) > 3  # several chunks reported
    # Shards: every part is fetched, progress counts across them.
    big = pick(found, "Q2_K")
    steps = [step async for step in client.download(REPO, big)]
    assert (client.models_dir / "big/tiny-big-Q2_K-00002-of-00002.gguf").stat().st_size == len(tiny) - 1000
    assert steps[-1].completed == len(tiny)


async def test_cancelled_download_keeps_its_part_and_resumes(client, hub, tiny) -> None:
    hub.state.chunk, hub.state.delay = 4096, 0.02
    choice = HfChoice(("tiny-Q8_0.gguf",), len(tiny), "Q8_0")
    seen = []

    async def consume() -> None:
        async for step in client.download(REPO, choice):
            seen.append(step)

    task = asyncio.create_task(consume())
    while not seen or (seen[-1].completed or 0) < 20000:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    partial = list((client.models_dir / ".partial").glob("*.part"))
    assert partial and partial[0].stat().st_size >= 20000
    assert not (client.models_dir / "tiny-Q8_0.gguf").exists()
    hub.state.delay = 0
    steps = [step async for step in client.download(REPO, choice)]
    assert (client.models_dir / "tiny-Q8_0.gguf").read_bytes() == tiny
    assert hub.state.ranges and int(hub.state.ranges[-1].split("=")[1].rstrip("-")) >= 20000
    assert steps[0].completed >= 20000  # the progress starts where the part ended


async def test_missing_file_and_full_disk(client, tiny, monkeypatch) -> None:
    with pytest.raises(ModelNotFound, match="has no file 'nope.gguf'"):
        [s async for s in client.download(REPO, HfChoice(("nope.gguf",), None, ""))]
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 1000))
    with pytest.raises(EngineError, match="not enough disk space: tiny-Q8_0.gguf needs .* free in"):
        [s async for s in client.download(REPO, HfChoice(("tiny-Q8_0.gguf",), len(tiny), "Q8_0"))]


async def test_a_broken_connection_resumes_where_it_broke(client, hub, tiny) -> None:
    hub.state.chunk, hub.state.die_after = 16 * 1024, 100_000
    choice = HfChoice(("tiny-Q8_0.gguf",), len(tiny), "Q8_0")
    [step async for step in client.download(REPO, choice)]
    assert (client.models_dir / "tiny-Q8_0.gguf").read_bytes() == tiny
    assert hub.state.ranges and int(hub.state.ranges[0].split("=")[1].rstrip("-")) >= 100_000
