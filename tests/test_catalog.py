"""The catalog's pure parts: the fit estimate, fuzzy search, favourites, memory and progress text."""

from __future__ import annotations

import pytest

from tui.config import Config
from tui.domain import ModelInfo
from tui.engines.ollama.engine import OllamaEngine
from tui.fit.estimate import GIB, MIB, Memory, estimate
from tui.fit.memory import MemorySnapshot, parse_nvidia, read_ram
from tui.gguf.kv_shape import KvShape
from tui.models.catalog import Catalog, fuzzy_score, label, state_text
from tui.models.transfer import TransferMeter, duration

LLAMA_8B = {"layers": 32, "kv_heads": 8, "key_length": 128, "value_length": 128}


def model(name="m", backend="embedded", size=4 * GIB, kv=LLAMA_8B, ctx=131072, **extra) -> ModelInfo:
    return ModelInfo(
        name=name,
        backend=backend,
        size_bytes=size,
        context_length=ctx,
        extra={"kv": kv, **extra} if kv else dict(extra),
    )


def test_kv_shape_from_gguf_keys() -> None:
    meta = {
        "llama.block_count": 32,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": 8,
        "llama.embedding_length": 4096,
    }
    assert KvShape.from_metadata(meta, "llama").as_extra() == LLAMA_8B | {"heads": 32}
    gemma = {
        "gemma3.block_count": 26,
        "gemma3.attention.head_count": 4,
        "gemma3.attention.head_count_kv": [1, 1],
        "gemma3.embedding_length": 1152,
        "gemma3.attention.key_length": 256,
        "gemma3.attention.value_length": 256,
    }
    assert KvShape.from_metadata(gemma, "gemma3") == KvShape(26, 1, 256, 256, heads=4)
    assert KvShape.from_metadata({}, "llama") is None


def test_fit_formula_and_verdicts() -> None:
    # 8B at 8k tokens: KV = 32 x 8192 x 8 x 256 x 2 bytes = 1 GiB exactly.
    m = model()
    fit = estimate(m, 8192, Memory("VRAM", 24 * GIB, 24 * GIB))
    assert fit.kv == GIB and fit.overhead == 256 * MIB + int(0.05 * 4 * GIB)
    assert fit.need == 4 * GIB + GIB + fit.overhead and fit.verdict == "fits"
    assert estimate(m, 8192, Memory("VRAM", int(fit.need / 0.9), 0)).verdict == "tight"
    assert estimate(m, 8192, Memory("VRAM", fit.need - 1, 0)).verdict == "won't fit"
    assert "KV cache 1.1 GB (8192 tokens)" in fit.explain() and "free VRAM" in fit.explain()
    unknown = estimate(model(kv=None), 8192, Memory("RAM", 64 * GIB, 0))
    assert unknown.kv is None and "KV cache unknown" in unknown.explain()
    assert estimate(model(size=None), 8192, Memory("RAM", GIB, GIB)) is None
    assert estimate(m, 8192, None) is None


def test_catalog_picks_memory_and_context_per_backend() -> None:
    config = Config()
    config.engine.context_length = 4096
    ollama_engine = OllamaEngine(num_ctx=config.ollama.context_length)
    catalog = Catalog(
        config, loads_into={"embedded": "RAM", "ollama": "VRAM", "lmstudio": ""}, engines={"ollama": ollama_engine}
    )
    ram, gpu = Memory("RAM", 32 * GIB, 64 * GIB), Memory("VRAM", 10 * GIB, 24 * GIB)
    catalog.memory = MemorySnapshot(ram=ram, gpu=gpu)
    embedded, ollama = model(backend="embedded"), model(backend="ollama")
    assert catalog.memory_for(embedded) is ram and catalog.memory_for(ollama) is gpu
    assert catalog.memory_for(model(backend="ollama", remote=True)) is None
    assert catalog.memory_for(model(backend="lmstudio")) is None
    assert catalog.context_for(embedded) == 4096
    assert catalog.context_for(model(backend="ollama")) == 4096
    assert catalog.context_for(model(backend="ollama", num_ctx=16384)) == 16384
    assert catalog.context_for(model(backend="ollama", running={"context_length": 32768})) == 32768
    assert catalog.context_for(model(backend="embedded", ctx=2048)) == 2048
    catalog.memory = MemorySnapshot(ram=ram, gpu=None)
    assert catalog.memory_for(ollama) is ram


def test_a_loaded_model_counts_its_own_memory_as_free() -> None:
    catalog = Catalog(Config(), loads_into={"embedded": "RAM", "ollama": "VRAM"}, engines={"ollama": OllamaEngine()})
    catalog.memory = MemorySnapshot(ram=Memory("RAM", 2 * GIB, 64 * GIB), gpu=Memory("VRAM", GIB, 24 * GIB))
    idle = model(backend="ollama", size=6 * GIB)
    loaded = model(backend="ollama", size=6 * GIB, running={"size": 7 * GIB, "size_vram": 7 * GIB})
    assert catalog.fit(idle).verdict == "won't fit"
    assert catalog.memory_for(loaded).free == 8 * GIB and catalog.fit(loaded).verdict != "won't fit"
    catalog.memory = MemorySnapshot(ram=Memory("RAM", 2 * GIB, 64 * GIB), gpu=None)
    split = model(backend="ollama", running={"size": 5 * GIB, "size_vram": 2 * GIB})
    assert catalog.memory_for(split).free == 5 * GIB  # the part Ollama keeps in RAM
    held = model(backend="embedded", size=6 * GIB, running={"size": 6 * GIB, "size_vram": 0})
    assert catalog.memory_for(held).free == 8 * GIB  # the embedded engine's loaded model, in RAM


def test_fuzzy_search_ranks_and_favourites_come_first() -> None:
    assert fuzzy_score("lma3", "llama3.2:latest") is not None
    assert fuzzy_score("xyz", "llama3.2:latest") is None
    assert fuzzy_score("qwen", "qwen2.5:7b") > fuzzy_score("qwen", "some-q-w-e-n-model")
    config = Config()
    catalog = Catalog(config)
    models = [
        model("/m/Qwen2.5-7B.Q4_K_M.gguf"),
        model("llama3.2:latest", "ollama"),
        model("qwen2.5:7b", "ollama"),
        model("/m/broken.gguf", error="not a GGUF"),
    ]
    catalog.update(models, {}, None)
    assert {label(m) for m in catalog.search("qw 7")} == {"qwen2.5:7b", "Qwen2.5-7B.Q4_K_M"}
    assert [label(m) for m in catalog.search("lama3")] == ["llama3.2:latest"]
    assert catalog.toggle_favourite(models[1]) == 1
    assert [label(m) for m in catalog.search("")][0] == "llama3.2:latest"
    assert "broken" not in [label(m) for m in catalog.search("")]
    assert catalog.favourite(1) == ("ollama", "llama3.2:latest") and catalog.favourite(2) is None
    assert config.models.favourites == ["ollama/llama3.2:latest"]
    assert catalog.toggle_favourite(models[1]) is None and config.models.favourites == []
    for index in range(9):
        catalog.toggle_favourite(model(f"m{index}"))
    with pytest.raises(ValueError, match="already 9 favourites"):
        catalog.toggle_favourite(models[0])


def test_groups_keep_backend_order_and_offline_backends() -> None:
    catalog = Catalog(Config(), order=["embedded", "ollama", "lmstudio"])
    catalog.set_backend("ollama", [model("b", "ollama"), model("a", "ollama")], None)
    catalog.set_backend("lmstudio", [], "cannot reach lmstudio: connection refused")
    catalog.set_backend("embedded", [model("/m/z.gguf")], None)
    groups = catalog.groups()
    assert [(b, o, [label(m) for m in ms]) for b, o, ms in groups] == [
        ("embedded", None, ["z"]),
        ("ollama", None, ["a", "b"]),
        ("lmstudio", "cannot reach lmstudio: connection refused", []),
    ]
    assert [label(m) for m in catalog.models] == ["z", "a", "b"]


def test_state_text() -> None:
    now = 1_700_000_000.0
    running = model(backend="ollama", running={"size_vram": 3 * 10**9, "expires_at": now + 300})
    assert state_text(running, now).startswith("loaded · 3.0 GB VRAM · until ")
    forever = model(backend="ollama", running={"size_vram": 0, "expires_at": now + 10**9})
    assert state_text(forever, now) == "loaded · kept loaded"
    assert state_text(model(error="bad"), now) == "unusable" and state_text(model(), now) == ""


def test_memory_readers(tmp_path) -> None:
    assert parse_nvidia("81000, 81559\n40000, 81559\n").free == (81000 + 40000) * MIB
    assert parse_nvidia("") is None and parse_nvidia("[N/A], [N/A]") is None
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    8192000 kB\n")
    assert read_ram(meminfo) == Memory("RAM", 8192000 * 1024, 16384000 * 1024)


def test_transfer_meter_rate_and_time_left() -> None:
    now = [0.0]
    meter = TransferMeter(clock=lambda: now[0])
    meter.update(0, 10**9)
    now[0] = 2.0
    meter.update(2 * 10**8, 10**9)
    assert meter.rate() == 10**8 and meter.eta() == 8.0
    assert meter.text() == "200.0 MB / 1.0 GB · 100.0 MB/s · 0:08 left"
    meter.update(10, 500)  # a new layer restarts the figures
    assert meter.rate() is None
    assert duration(3723) == "1:02:03" and duration(83) == "1:23"


def test_memory_from_a_stats_sample() -> None:
    from tui.fit.memory import from_sample
    from tui.stats.sample import CpuReading, GpuReading, StatsSample

    sample = StatsSample(
        time=0.0,
        wall=0.0,
        cpu=CpuReading(ram_used=6 * GIB, ram_total=16 * GIB),
        gpus=(
            GpuReading(0, "nvidia", "H200", vram_used=1 * GIB, vram_total=141 * GIB),
            GpuReading(1, "nvidia", "lost", error="GPU is lost"),
        ),
    )
    snapshot = from_sample(sample)
    assert snapshot.ram == Memory("RAM", 10 * GIB, 16 * GIB)
    assert snapshot.gpu == Memory("VRAM", 140 * GIB, 141 * GIB)
    assert from_sample(StatsSample(time=0.0, wall=0.0)).gpu is None


def test_favourites_name_their_backend_even_when_names_hold_slashes() -> None:
    config = Config()
    config.models.favourites = [
        "ollama@gpu-box:11434/hf.co/bartowski/Qwen-GGUF:Q4_K_M",
        "my/server/qwen3",
        "gone/model",
    ]
    catalog = Catalog(config, order=["embedded", "ollama@gpu-box:11434", "my/server"])
    assert catalog.favourite(1) == ("ollama@gpu-box:11434", "hf.co/bartowski/Qwen-GGUF:Q4_K_M")
    assert catalog.favourite(2) == ("my/server", "qwen3")  # the configured name, not "my"
    assert catalog.favourite(3) == ("gone", "model")  # a backend no longer configured
