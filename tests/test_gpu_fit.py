"""The GPU fit's terms, each with known numbers: flash attention off, on and "auto" (the cache
types and the KQ scores), the vision projector, one GPU for the compute buffer, and calibration
from the buffers a real CPU load of the starter model logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gguf_files import starter_model, write_tiny_llama
from tui.config import ConfigError
from tui.config.read import load_config
from tui.domain import ChatTurn, GenerationOptions, ModelInfo, Role
from tui.engines.base import Finished
from tui.engines.embedded import offload_plan
from tui.engines.embedded.engine import EmbeddedEngine
from tui.fit.calibration import Calibration, compute_of, load_key
from tui.fit.estimate import GIB, MIB, OVERHEAD_FIXED, Memory
from tui.fit.offload import cache_types, kq_bytes, offload_rows, plan

STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")
QUESTION = [ChatTurn(Role.USER, "hi")]


def model(heads: int = 32, layers: int = 32, layer_mb: int = 100) -> ModelInfo:
    kv = {"layers": layers, "kv_heads": 8, "key_length": 128, "value_length": 128, "heads": heads}
    offload = {"layer_bytes": layer_mb * MIB, "output_bytes": 200 * MIB}
    size = layers * layer_mb * MIB + 200 * MIB
    return ModelInfo("/m/x.gguf", "embedded", path="/m/x.gguf", size_bytes=size, extra={"kv": kv, "offload": offload})


def test_kq_without_flash_attention_grows_with_the_context() -> None:
    """32k tokens x n_ubatch 512 x 32 heads x 4 bytes (f32) = 2 GiB; nothing with flash attention."""
    assert kq_bytes(32768, 32, False) == 2 * GIB
    assert kq_bytes(65536, 32, False) == 4 * GIB
    assert kq_bytes(256, 32, False) == 256 * 256 * 32 * 4  # A context shorter than a ubatch.
    assert kq_bytes(32768, 32, True) == kq_bytes(32768, 32, "auto") == 0
    assert kq_bytes(32768, 0, False) == 0  # Head count unknown: not guessed.
    off = plan(model(), 32768, None, flash_attention=False)
    on = plan(model(), 32768, None, flash_attention=True)
    assert off and on and off.gpu_bytes - on.gpu_bytes == 2 * GIB  # f16 K and V: only KQ differs.


def test_a_quantised_v_cache_follows_flash_attention_auto_included() -> None:
    assert cache_types("q8_0", False) == ("q8_0", "f16")
    assert cache_types("q8_0", True) == ("q8_0", "q8_0")
    assert cache_types("q4_0", "auto") == ("q4_0", "q4_0")  # llama.cpp turns flash attention on for it.
    rows = dict(offload_rows(model(), "q8_0", "auto", "auto"))
    assert rows["Load options"].startswith("GPU layers auto; KV cache K q8_0, V q8_0; flash attention auto")


def test_the_vision_projector_is_counted(tmp_path: Path) -> None:
    with_projector = plan(model(), 4096, None, flash_attention=True, projector_bytes=600 * MIB)
    without = plan(model(), 4096, None, flash_attention=True)
    assert with_projector and without and with_projector.gpu_bytes - without.gpu_bytes == 600 * MIB
    folder = tmp_path / "models"
    folder.mkdir()
    gguf = write_tiny_llama(folder / "vision.gguf")
    info = ModelInfo(str(gguf), "embedded", path=str(gguf))
    assert offload_plan.projector_bytes(info) == 0
    (folder / "mmproj-vision-f16.gguf").write_bytes(b"\0" * 12345)
    assert offload_plan.projector_bytes(info) == 12345


def test_the_compute_buffer_must_fit_on_one_gpu() -> None:
    """Two cards with 2.5 GiB free each: 5 GiB summed would hold the layers, but the compute
    buffer (2 GiB of KQ at 32k tokens, plus the runtime) fits on neither, so no layer goes."""
    cards = Memory("VRAM", 5 * GIB, 6 * GIB, (5 * GIB // 2, 5 * GIB // 2))
    small = model(layers=4, layer_mb=10)
    split = plan(small, 32768, cards, wanted=4, flash_attention=False)
    assert split is not None and split.layers == 0
    assert split.note.startswith("the compute buffer and runtime need 2.4 GB on one GPU")
    one = plan(small, 32768, Memory("VRAM", 5 * GIB, 6 * GIB), wanted=4, flash_attention=False)
    assert one is not None and one.layers == 4 and one.note == ""
    with_fa = plan(small, 32768, cards, wanted=4, flash_attention=True)
    assert with_fa is not None and with_fa.layers == 4  # No KQ: the runtime fits on either card.


def test_a_logged_compute_buffer_replaces_the_guess() -> None:
    guessed = plan(model(), 32768, None, flash_attention=False)
    measured = plan(model(), 32768, None, flash_attention=False, compute_bytes=300 * MIB)
    assert guessed and measured
    weights = 32 * 100 * MIB + 200 * MIB
    kv = 32 * 32768 * 8 * 256 * 2
    assert measured.gpu_bytes == weights + kv + OVERHEAD_FIXED + 300 * MIB  # KQ is inside the logged figure.
    assert compute_of({"CPU": {"compute_mib": 10.0}, "CUDA0": {"compute_mib": 300.0}}) == 300 * MIB
    assert compute_of({"CPU": {"compute_mib": 10.0, "model_mib": 90.0}}) == 10 * MIB
    assert compute_of({"CPU": {"model_mib": 90.0}}) is None


def test_config_takes_flash_attention_true_false_or_auto(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for value, expected in (("true", True), ("false", False), ('"auto"', "auto")):
        path.write_text(f"[engine]\nflash_attention = {value}\n")
        assert load_config(path).config.engine.flash_attention == expected
    path.write_text('[engine]\nflash_attention = "sometimes"\n')
    with pytest.raises(ConfigError, match='engine.flash_attention must be true, false or "auto"'):
        load_config(path)


async def answer(engine: EmbeddedEngine, model: str) -> Finished:
    events = [e async for e in engine.chat(model, QUESTION, GenerationOptions(temperature=0.0, max_tokens=2))]
    assert isinstance(events[-1], Finished)
    return events[-1]


@needs_starter
@pytest.mark.parametrize(("flash", "logged"), [("auto", "enabled"), (False, "disabled")])
async def test_auto_reaches_llama_cpp_and_turns_flash_attention_on_for_a_quantised_v(
    tmp_path: Path, flash: bool | str, logged: str
) -> None:
    """Real llama.cpp (CPU): with "auto" and a q8_0 cache the context logs flash attention enabled
    ("enabling flash_attn since it is required for quantized V cache"); with false it stays off and
    V stays f16, so the KV buffer is larger."""
    tiny = str(STARTER)  # Its 64-wide heads take q8_0 blocks (the tiny test model's 16 do not).
    engine = EmbeddedEngine(
        models_dir=tmp_path / "models", n_threads=1, n_ctx=512, kv_cache_type="q8_0", flash_attention=flash
    )
    try:
        await answer(engine, tiny)
        [listed] = [m for m in await engine.list_models() if m.path == tiny]
        running = listed.extra["running"]
        assert running["flash_attn"] == logged
        f16_v = EmbeddedEngine(models_dir=tmp_path / "models", n_threads=1, n_ctx=512, kv_cache_type="f16")
        try:
            await answer(f16_v, tiny)
            [plain] = [m for m in await f16_v.list_models() if m.path == tiny]
            f16_kv = plain.extra["running"]["buffers"]["CPU"]["kv_mib"]
        finally:
            await f16_v.aclose()
        q8_kv = running["buffers"]["CPU"]["kv_mib"]
        assert q8_kv < f16_kv
        # Bytes per value: K and V both q8_0 (34/32 against f16's 2) under auto; only K under false.
        ratio = (34 / 32) / 2 if flash == "auto" else (34 / 32 + 2) / 4
        assert q8_kv == pytest.approx(f16_kv * ratio, rel=0.02)
    finally:
        await engine.aclose()


@needs_starter
async def test_the_next_estimate_uses_the_compute_buffer_the_last_load_logged(tmp_path: Path, monkeypatch) -> None:
    """A real CPU load of the starter model logs its compute buffer; it is kept in the data dir's
    gpu-fit.json and a new engine's next estimate for the same model and context is given it."""
    cache = tmp_path / "gpu-fit.json"
    model_path = str(STARTER)

    def engine() -> EmbeddedEngine:
        return EmbeddedEngine(
            models_dir=tmp_path / "models",
            n_threads=1,
            n_ctx=1024,
            flavour="cuda",
            vram=lambda: Memory("VRAM", 20 * GIB, 24 * GIB),
            calibration=cache,
        )

    first = engine()
    try:
        await answer(first, model_path)
        [listed] = [m for m in await first.list_models() if m.path == model_path]
        logged_mib = listed.extra["running"]["buffers"]["CPU"]["compute_mib"]
    finally:
        await first.aclose()
    assert logged_mib > 0
    key = load_key(model_path, 1024, "f16", "f16", False)
    kept = json.loads(cache.read_text())
    assert kept[key]["compute_bytes"] == int(logged_mib * MIB)
    assert Calibration(cache).compute_bytes(key) == int(logged_mib * MIB)

    asked: list[int | None] = []
    real_plan = offload_plan.plan

    def spy(*args, **kwargs):
        asked.append(kwargs["compute_bytes"])
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(offload_plan, "plan", spy)
    second = engine()
    try:
        await answer(second, model_path)
    finally:
        await second.aclose()
    assert asked == [int(logged_mib * MIB)]
