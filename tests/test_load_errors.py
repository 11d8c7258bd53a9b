"""Telling load errors apart (issue 22, item 3), with real llama.cpp on the CPU: a bad file is a
configuration error, loaded once; an allocation failure (provoked in the child with an
address-space limit, the test hook tui.engines.embedded.alloc_limit_hook) is out of memory and the load
falls back to fewer layers, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gguf_files import starter_model, write_header_only, write_tiny_llama
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.base import Finished, ModelLoadError
from tui.engines.embedded.alloc_limit_hook import VARIABLE
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.load_errors import CONFIGURATION, MEMORY, classify

STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")

# ERROR lines as llama.cpp 0.3.36's vendored build logged them here (and one of CUDA's and Vulkan's).
MEMORY_FAILURES = [
    [
        "ggml_aligned_malloc: insufficient memory (attempted to allocate  92.10 MB)",
        "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 96576768",
        "alloc_tensor_range: failed to allocate CPU buffer of size 96576768",
        "llama_model_load: error loading model: unable to allocate CPU buffer",
        "llama_model_load_from_file_impl: failed to load model",
    ],
    ["llama_model_load: error loading model: mmap failed: Cannot allocate memory"],
    ["llama_model_load: error loading model: error loading model vocabulary: std::bad_alloc"],
    ["llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache"],
    [
        "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4168.09 MiB on device 0: cudaMalloc failed: out of memory"
    ],
    ["ggml_vk_create_buffer: vk::Device::allocateMemory: ErrorOutOfDeviceMemory"],
]
CONFIGURATION_FAILURES = [
    [
        "llama_model_load: error loading model: tensor 'blk.2.ffn_down.weight' data is not within the file bounds,"
        " model is corrupted or incomplete",
        "llama_model_load_from_file_impl: failed to load model",
    ],
    ["llama_init_from_model: quantized V cache requires flash_attn to be enabled"],
    ["llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'x'"],
    ["llama_adapter_lora_init_impl: model arch and LoRA arch mismatch", "failed to load lora adapter from file"],
    ["gguf_init_from_file_impl: invalid magic characters: 'abcd', expected 'GGUF'"],
]


@pytest.mark.parametrize("lines", MEMORY_FAILURES)
def test_allocation_failures_are_out_of_memory(lines: list[str]) -> None:
    assert classify(lines, ValueError("Failed to load model from file")).kind == MEMORY


@pytest.mark.parametrize("lines", CONFIGURATION_FAILURES)
def test_other_failures_are_configuration_errors(lines: list[str]) -> None:
    assert classify(lines, ValueError("Failed to create llama_context")).kind == CONFIGURATION


def test_the_reason_is_llama_cpps_own_line() -> None:
    assert classify(MEMORY_FAILURES[0]).message() == "out of memory: unable to allocate CPU buffer"
    assert classify(CONFIGURATION_FAILURES[1]).message() == (
        "configuration error: quantized V cache requires flash_attn to be enabled"
    )
    assert classify([], MemoryError()).kind == MEMORY  # Python's own allocation failed.
    assert classify([], ValueError("Failed to load model")).message() == "configuration error: Failed to load model"


async def answer(engine: EmbeddedEngine, model: str) -> list:
    opts = GenerationOptions(temperature=0.0, max_tokens=4)
    return [e async for e in engine.chat(model, [ChatTurn(Role.USER, "hi")], opts)]


def gpu_engine(tmp_path: Path, layers: int, *, include_starter: bool = False) -> EmbeddedEngine:
    """The engine as on a CUDA build (the parent asks the child for GPU layers); the child's
    llama.cpp is the CPU build, which takes the request and puts every layer on the CPU."""
    return EmbeddedEngine(
        models_dir=tmp_path / "models",
        include_starter=include_starter,
        n_threads=1,
        n_ctx=512,
        gpu_layers=layers,
        flavour="cuda",
        log_path=tmp_path / "engine.log",
    )


def attempts(tmp_path: Path, name: str) -> list[str]:
    return [
        line
        for line in (tmp_path / "engine.log").read_text().splitlines()
        if line.startswith(f"lchat: loading {name} with")
    ]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("unknown-architecture", "unknown model architecture: 'futurenet'"),
        ("no-tensors", "key not found in model: llama.embedding_length"),
    ],
)
async def test_a_bad_gguf_is_a_configuration_error_loaded_once(tmp_path: Path, kind: str, reason: str) -> None:
    """Files the parent's header reader accepts and llama.cpp refuses (a truncated one never
    reaches llama.cpp: the parent finds its tensors short). Eight layers were asked for the GPU;
    before, a refusal was taken for want of memory and the file loaded five times (8, 4, 2, 1, 0)."""
    (tmp_path / "models").mkdir()
    tiny = write_tiny_llama(tmp_path / "models" / "tiny.gguf")
    bad = tmp_path / "models" / f"{kind}.gguf"
    if kind == "unknown-architecture":
        write_header_only(bad, arch="futurenet", futurenet__context_length=2048, futurenet__block_count=2)
    else:
        write_header_only(bad, llama__context_length=2048, llama__block_count=2)
    engine = gpu_engine(tmp_path, 8)
    try:
        with pytest.raises(ModelLoadError) as raised:
            await answer(engine, str(bad))
        message = str(raised.value)
        assert f"{kind}.gguf could not be loaded by llama.cpp: configuration error: " in message
        assert reason in message and "tried" not in message
        assert attempts(tmp_path, bad.name) == [f"lchat: loading {bad.name} with 8 layers on the GPU"]
        assert isinstance((await answer(engine, str(tiny)))[-1], Finished)  # The engine goes on.
    finally:
        await engine.aclose()


@needs_starter
async def test_an_allocation_failure_falls_back_to_fewer_layers_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 MiB of address space to spare while layers go to the "GPU": the starter's 92 MiB of
    weights cannot be mapped, so llama.cpp fails to allocate until no layer is asked for."""
    monkeypatch.setenv(VARIABLE, "16")
    engine = gpu_engine(tmp_path, 4, include_starter=True)
    model = str(STARTER)
    name = Path(model).name
    try:
        finished = (await answer(engine, model))[-1]
        assert isinstance(finished, Finished)
        assert finished.notice.startswith("4 layers did not load on the GPU (out of memory: ")
        assert finished.notice.endswith("): 0 did")
        assert [line.rsplit(" with ", 1)[1] for line in attempts(tmp_path, name)] == [
            "4 layers on the GPU",
            "2 layers on the GPU",
            "1 layers on the GPU",
            "0 layers on the GPU",
        ]
        [listed] = [m for m in await engine.list_models() if m.path == model]
        assert listed.extra["running"]["note"] == finished.notice
        assert "lchat: the load failed: out of memory: " in (tmp_path / "engine.log").read_text()
    finally:
        await engine.aclose()
