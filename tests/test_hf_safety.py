"""The Hugging Face token stays with the hub, and the hub's file names stay inside the models folder.

The real `huggingface_hub` download path against a loopback hub that sends file downloads on to a
second loopback server (another origin), as the real hub sends them to its CDN.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fake_hub import HubState, start_hub
from tests.gguf_files import write_tiny_llama
from tui.engines.base import EngineError
from tui.models.hf import HfChoice, HubClient, choices, unsafe_name

REPO = "org/Tiny-GGUF"
TOKEN = "hf_secret_token_0123456789"


def authorizations(served) -> list[str | None]:
    return [{k.lower(): v for k, v in r.headers.items()}.get("authorization") for r in served.requests]


@pytest.fixture
def tiny(tmp_path: Path) -> bytes:
    return write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()


async def test_the_token_does_not_follow_a_redirect_to_another_host(tmp_path, tiny) -> None:
    files = {"tiny-Q8_0.gguf": tiny}
    cdn = start_hub(HubState(repos={REPO: files}))
    hub = start_hub(HubState(repos={REPO: files}, redirect_to=cdn.url))
    try:
        client = HubClient(endpoint=hub.url, models_dir=tmp_path / "models", token=TOKEN)
        (choice,) = await asyncio.to_thread(client.list_choices, REPO)
        steps = [step async for step in client.download(REPO, choice)]
        assert (tmp_path / "models" / "tiny-Q8_0.gguf").read_bytes() == tiny and steps[-1].completed == len(tiny)
        assert f"Bearer {TOKEN}" in authorizations(hub)  # the hub itself gets the token...
        assert any(r.path.endswith("/tiny-Q8_0.gguf") for r in cdn.requests)  # ...the file came from the CDN...
        assert authorizations(cdn) == [None] * len(cdn.requests)  # ...which never saw the token
    finally:
        hub.stop()
        cdn.stop()


async def test_a_file_on_the_hub_itself_is_fetched_with_the_token(tmp_path, tiny) -> None:
    hub = start_hub(HubState(repos={REPO: {"tiny-Q8_0.gguf": tiny}}))
    try:
        client = HubClient(endpoint=hub.url, models_dir=tmp_path / "models", token=TOKEN)
        [s async for s in client.download(REPO, HfChoice(("tiny-Q8_0.gguf",), len(tiny), "Q8_0"))]
        gets = [r for r in hub.requests if r.method == "GET" and r.path.endswith(".gguf")]
        assert gets and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in gets)
    finally:
        hub.stop()


HOSTILE = [
    "../evil-Q4_0.gguf",
    "a/../../evil-Q4_0.gguf",
    "/etc/evil-Q4_0.gguf",
    "a\\..\\evil-Q4_0.gguf",
    "C:evil-Q4_0.gguf",
    "a//evil-Q4_0.gguf",
    "./evil-Q4_0.gguf",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_file_names_that_are_no_safe_path_are_refused(name: str) -> None:
    assert unsafe_name(name)
    assert choices({name: 10, "good-Q8_0.gguf": 20}) == choices({"good-Q8_0.gguf": 20})


def test_ordinary_names_pass() -> None:
    assert not unsafe_name("tiny-Q8_0.gguf") and not unsafe_name("big/tiny-big-Q2_K-00001-of-00002.gguf")
    assert not unsafe_name("a..b-Q4_0.gguf")  # dots inside a name are not a parent folder


async def test_a_hostile_name_never_becomes_a_path(tmp_path, tiny) -> None:
    hub = start_hub(HubState(repos={REPO: {"../evil-Q8_0.gguf": tiny, "tiny-Q8_0.gguf": tiny}}))
    try:
        models = tmp_path / "models"
        client = HubClient(endpoint=hub.url, models_dir=models, token=False)
        found = await asyncio.to_thread(client.list_choices, REPO)
        assert [c.files for c in found] == [("tiny-Q8_0.gguf",)]  # not even offered
        with pytest.raises(EngineError, match=r"'\.\./evil-Q8_0\.gguf', which lchat will not write"):
            [s async for s in client.download(REPO, HfChoice(("../evil-Q8_0.gguf",), len(tiny), "Q8_0"))]
        assert not (tmp_path / "evil-Q8_0.gguf").exists()
        assert not any("evil" in r.path for r in hub.requests)  # refused before asking the hub
    finally:
        hub.stop()
