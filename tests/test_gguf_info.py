"""GGUF header reading and model discovery, on real and deliberately broken files."""

from __future__ import annotations

import time
from pathlib import Path

import gguf
import pytest

from tests.gguf_files import (
    starter_model,
    write_gguf_magic_then_garbage,
    write_header_only,
    write_random,
    write_tiny_llama,
    write_truncated,
)
from tui.engines.base import ModelLoadError
from tui.engines.embedded.discovery import discover_gguf_models, starter_model_path
from tui.engines.embedded.gguf_info import read_gguf_info

STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


@needs_starter
@pytest.mark.model
def test_starter_metadata() -> None:
    info = read_gguf_info(STARTER)
    assert info.name == info.path == str(STARTER.resolve())
    assert info.backend == "embedded"
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.has_chat_template
    assert info.quantization == "Q4_1"
    assert info.parameters is not None and 130e6 < info.parameters < 140e6
    assert info.size_bytes == STARTER.stat().st_size
    assert info.extra["title"].startswith("Smollm2 135M")


@needs_starter
@pytest.mark.model
def test_fast_header_reader_agrees_with_gguf_reader() -> None:
    start = time.monotonic()
    info = read_gguf_info(STARTER)
    fast = time.monotonic() - start
    start = time.monotonic()
    reader = gguf.GGUFReader(STARTER)
    assert fast < time.monotonic() - start  # the header alone, not every tensor's description
    assert info.parameters == sum(int(t.n_elements) for t in reader.tensors)
    assert info.context_length == reader.fields["llama.context_length"].contents()
    assert info.extra["title"] == reader.fields["general.name"].contents()


def test_tiny_model_metadata(tiny: Path) -> None:
    info = read_gguf_info(tiny)
    reader = gguf.GGUFReader(tiny)
    assert info.architecture == "llama"
    assert info.extra["title"] == "tiny test llama"
    assert info.parameters == sum(int(t.n_elements) for t in reader.tensors)
    assert info.quantization == "F32"
    assert info.context_length == 2048
    assert info.has_chat_template


def test_no_chat_template(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_llama(tmp_path / "plain.gguf", chat_template=None))
    assert not info.has_chat_template


def test_quantization_from_file_type(tmp_path: Path) -> None:
    path = write_header_only(
        tmp_path / "q.gguf",
        arch="qwen2",
        general__file_type=int(gguf.LlamaFileType.MOSTLY_Q4_K_M),
        qwen2__context_length=32768,
    )
    info = read_gguf_info(path)
    assert (info.architecture, info.quantization, info.context_length) == ("qwen2", "Q4_K_M", 32768)
    assert info.parameters is None


def test_quantization_falls_back_to_most_common_tensor_type(tmp_path: Path) -> None:
    writer = gguf.GGUFWriter(tmp_path / "t.gguf", "llama")
    import numpy as np

    writer.add_tensor("a", np.zeros((4, 8), dtype=np.float16))
    writer.add_tensor("b", np.zeros((4, 8), dtype=np.float16))
    writer.add_tensor("c", np.zeros(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = read_gguf_info(tmp_path / "t.gguf")
    assert info.quantization == "F16"
    assert info.parameters == 72


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p, tiny: p.write_bytes(b"") and p, "empty"),
        (lambda p, tiny: write_random(p), "bad magic"),
        (lambda p, tiny: p.write_text("just some text, not a model\n" * 20) and p, "bad magic"),
        (lambda p, tiny: write_truncated(tiny, p, 0.5), "truncated"),
        (lambda p, tiny: write_truncated(tiny, p, 0.01), "truncated"),
        (lambda p, tiny: write_gguf_magic_then_garbage(p), ""),
    ],
    ids=["empty", "random", "text", "truncated-half", "truncated-header", "garbage-after-magic"],
)
def test_broken_files_raise_model_load_error(tmp_path: Path, tiny: Path, make, reason: str) -> None:
    path = tmp_path / "broken.gguf"
    make(path, tiny)
    with pytest.raises(ModelLoadError, match="is not a usable GGUF file") as caught:
        read_gguf_info(path)
    assert reason in str(caught.value)
    assert str(path) in str(caught.value)


@needs_starter
@pytest.mark.model
def test_truncated_starter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="truncated"):
        read_gguf_info(write_truncated(STARTER, tmp_path / "cut.gguf", 0.9))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot be read"):
        read_gguf_info(tmp_path / "nope.gguf")
    with pytest.raises(ModelLoadError):
        read_gguf_info(tmp_path)


def test_discovery_order_duplicates_errors_and_shards(tmp_path: Path, tiny: Path) -> None:
    models, extra = tmp_path / "models", tmp_path / "extra"
    (models / "sub").mkdir(parents=True)
    extra.mkdir()
    write_tiny_llama(models / "b.gguf")
    write_tiny_llama(models / "sub" / "a.gguf")
    write_random(models / "broken.gguf")
    write_tiny_llama(models / "big-00001-of-00002.gguf")
    write_random(models / "big-00002-of-00002.gguf")
    (models / "notes.txt").write_text("not a model")
    write_tiny_llama(extra / "c.GGUF")
    (extra / "link.gguf").symlink_to(models / "b.gguf")

    found = discover_gguf_models(models, [extra, models, tmp_path / "missing"], include_starter=False)
    names = [Path(info.name).relative_to(tmp_path).as_posix() for info in found]
    assert names == [
        "models/b.gguf",
        "models/big-00001-of-00002.gguf",
        "models/broken.gguf",
        "models/sub/a.gguf",
        "extra/c.GGUF",
    ]
    broken = found[2]
    assert "not a usable GGUF file" in broken.extra["error"]
    assert broken.size_bytes == 4096 and broken.backend == "embedded"
    assert all("error" not in info.extra for info in found if info is not broken)
    assert discover_gguf_models(models, [extra], include_starter=False) == found


@needs_starter
@pytest.mark.model
def test_discovery_includes_starter_last(tmp_path: Path, tiny: Path) -> None:
    assert starter_model_path() == STARTER.resolve()
    found = discover_gguf_models(tiny.parent, [], include_starter=True)
    assert [info.name for info in found] == [str(tiny.resolve()), str(STARTER.resolve())]
    assert found[-1].extra.get("starter") is True
    assert discover_gguf_models(tmp_path / "none", [STARTER.parent])[0].extra.get("starter")


def test_details_rows_put_the_usual_facts_first_and_leave_arrays_out(tiny: Path, tmp_path: Path) -> None:
    from tui.engines.embedded.gguf_details import gguf_details

    rows = dict(gguf_details(tiny))
    labels = [label for label, _ in gguf_details(tiny)]
    assert labels[:6] == ["File", "Architecture", "Parameters", "Quantization", "Context length", "Capabilities"]
    assert rows["Architecture"] == "llama" and rows["Context length"] == "2048" and rows["Capabilities"] == "chat"
    assert rows["Template"].startswith("{% for message in messages %}")
    assert rows["llama.block_count"] == "2"
    assert "tokenizer.ggml.tokens" not in rows  # the vocabulary is an array: left out
    plain = dict(gguf_details(write_tiny_llama(tmp_path / "plain.gguf", chat_template=None)))
    assert plain["Capabilities"].startswith("completion") and "Template" not in plain
    with pytest.raises(ModelLoadError):
        gguf_details(write_random(tmp_path / "noise.gguf"))
