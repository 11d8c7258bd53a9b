"""The models pane's file management under Pilot: a Hugging Face download with progress, a GGUF
import, deleting an own file, refusing to delete a reused one, and clear messages for bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fake_hub import HubState, start_hub
from tests.gguf_files import write_random, write_tiny_llama
from tests.test_models_pane import SIZE, pane, settle
from tui.config import Config
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.stores import reused_models
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import ChoiceQuestion

REPO = "org/Tiny-GGUF"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)


def embedded(paths, **kwargs) -> EmbeddedEngine:
    return EmbeddedEngine(models_dir=paths.models_dir, include_starter=False, n_threads=1, **kwargs)


async def press_keys(pilot, *keys: str) -> None:
    """Focus the models pane, then press `keys` one by one."""
    await pilot.press("f4")
    await pilot.pause()
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


async def answer(pilot, text: str) -> None:
    """Fill the open question's line (long paths would be slow to type key by key), then Enter."""
    from textual.widgets import Input

    for _ in range(50):
        if pilot.app.screen.query(Input):
            break
        await pilot.pause()
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


def notes(app) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_download_from_hugging_face_with_progress(open_services, paths, tmp_path) -> None:
    tiny = write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()
    hub = start_hub(HubState(repos={REPO: {"tiny-Q8_0.gguf": tiny, "tiny-Q4_0.gguf": tiny}}, chunk=8192, delay=0.01))
    try:
        config = Config()
        config.models.hf_endpoint = hub.url
        app = LchatApp(open_services(embedded(paths), config=config))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert pane(app).visible_rows == []
            await press_keys(pilot, "h")
            await pilot.press(*REPO, "enter")
            for _ in range(100):  # two files: the user chooses
                await pilot.pause()
                if isinstance(app.screen, ChoiceQuestion):
                    break
                await asyncio.sleep(0.02)
            assert isinstance(app.screen, ChoiceQuestion)
            assert [label.split()[0] for _, label in app.screen.choices] == ["Q4_0", "Q8_0"]
            await pilot.press("down", "enter")
            seen = []
            for _ in range(200):
                await asyncio.sleep(0.02)
                text = str(pane(app).query_one(".transfer").render())
                if "KB / 488.2 KB" in text:
                    seen.append(text)
                if not pane(app).query_one(".transfer").display and seen:
                    break
            assert seen and "Downloading tiny-Q8_0.gguf" in seen[0]
            await app.workers.wait_for_complete()
            await settle(app, pilot)
            assert [r.label for r in pane(app).visible_rows] == ["tiny-Q8_0"]
            assert (paths.models_dir / "tiny-Q8_0.gguf").read_bytes() == tiny
            # Bad input: a repo that does not exist, a quantization it does not have.
            await press_keys(pilot, "h")
            await pilot.press(*"org/nope", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "no Hugging Face repo named 'org/nope'" in notes(app)
            await press_keys(pilot, "h")
            await pilot.press(*f"{REPO}:Q4_0", "enter")  # a named quantization needs no choice
            await app.workers.wait_for_complete()
            await settle(app, pilot)
            assert (paths.models_dir / "tiny-Q4_0.gguf").exists()
    finally:
        hub.stop()


async def test_import_and_delete_own_files(open_services, paths, tmp_path) -> None:
    (tmp_path / "outside").mkdir()
    good = write_tiny_llama(tmp_path / "outside" / "my-model.gguf")
    bad = write_random(tmp_path / "outside" / "notes.gguf")
    app = LchatApp(open_services(embedded(paths)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press_keys(pilot, "o")
        await answer(pilot, str(bad))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "not a usable GGUF file" in notes(app)
        await press_keys(pilot, "o")
        await answer(pilot, str(tmp_path / "missing.gguf"))
        await app.workers.wait_for_complete()
        assert "no file" in notes(app)
        await press_keys(pilot, "o")
        await answer(pilot, str(good))
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert (paths.models_dir / "my-model.gguf").read_bytes() == good.read_bytes() and good.exists()
        assert [r.label for r in pane(app).visible_rows] == ["my-model"]
        await press_keys(pilot, "o")
        await answer(pilot, str(good))
        await app.workers.wait_for_complete()
        assert "already in the models folder" in notes(app)
        # Delete asks first.
        await press_keys(pilot, "d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert (paths.models_dir / "my-model.gguf").exists()
        await press_keys(pilot, "d")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert not (paths.models_dir / "my-model.gguf").exists() and pane(app).visible_rows == []
        assert good.exists()  # the original is untouched


async def test_reused_models_are_listed_but_never_deleted(open_services, paths, tmp_path) -> None:
    home = Path(tmp_path / "user-home")
    lms = home / ".lmstudio" / "models" / "pub" / "repo"
    lms.mkdir(parents=True)
    write_tiny_llama(lms / "Tiny-Q4_K_M.gguf")
    config = Config()
    engine = embedded(paths, reused=lambda: reused_models(config.models, {}, home))
    app = LchatApp(open_services(engine, config=config))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        (row,) = pane(app).visible_rows
        assert row.label == "Tiny-Q4_K_M" and "LM Studio" in row.state
        await press_keys(pilot, "d")
        await app.workers.wait_for_complete()
        assert "only reuses this model from LM Studio" in notes(app)
        assert (lms / "Tiny-Q4_K_M.gguf").exists()
