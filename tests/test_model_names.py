"""Model names as users write them: NAME or BACKEND/NAME, the configured default, and errors that
say which backends matched or why a backend could not list its models."""

from __future__ import annotations

import pytest

from tui.domain import ModelInfo
from tui.engines.base import ModelNotFound
from tui.models.names import ModelChoice, Waiting, configured, resolve, split_name

BACKENDS = ["embedded", "ollama", "ollama@gpu-box:11434", "lmstudio", "team"]
MODELS = [
    ModelInfo("/m/SmolLM2-135M-Instruct.Q4_1.gguf", "embedded", extra={"starter": True}),
    ModelInfo("qwen3:0.6b", "ollama"),
    ModelInfo("team/coder:7b", "ollama"),
    ModelInfo("llama3.2:3b", "ollama@gpu-box:11434"),
    ModelInfo("qwen3:0.6b", "lmstudio"),
    ModelInfo("mistral-7b", "team"),
]
OFFLINE = {"lmstudio": "lmstudio at http://localhost:1234/v1 refused the request (HTTP 401): check the key"}


def find(query: str, **kwargs) -> ModelChoice:
    return resolve(query, MODELS, backends=BACKENDS, **kwargs)


def test_a_configured_backend_name_is_the_prefix_and_the_longest_wins() -> None:
    assert split_name("ollama/qwen3:0.6b", BACKENDS) == ("ollama", "qwen3:0.6b")
    assert split_name("ollama@gpu-box:11434/llama3.2:3b", BACKENDS) == ("ollama@gpu-box:11434", "llama3.2:3b")
    assert split_name("hf.co/bartowski/Qwen-GGUF:Q4_K_M", BACKENDS) == (None, "hf.co/bartowski/Qwen-GGUF:Q4_K_M")
    assert split_name("ollama/hf.co/x:latest", BACKENDS) == ("ollama", "hf.co/x:latest")
    assert split_name("ollama/", BACKENDS) == (None, "ollama/")


def test_two_backends_serving_one_name_are_told_apart_by_backend() -> None:
    for query in ("qwen3", "qwen3:0.6b"):
        with pytest.raises(ModelNotFound) as error:
            find(query)
        assert str(error.value) == (
            f"{query!r} matches several models: lmstudio/qwen3:0.6b, ollama/qwen3:0.6b; name one as BACKEND/NAME"
        )
    assert find("lmstudio/qwen3:0.6b") == ModelChoice("lmstudio", "qwen3:0.6b")
    assert find("ollama/qwen3") == ModelChoice("ollama", "qwen3:0.6b")
    assert find("qwen3", backend="lmstudio") == ModelChoice("lmstudio", "qwen3:0.6b")
    assert find("ollama@gpu-box:11434/llama") == ModelChoice("ollama@gpu-box:11434", "llama3.2:3b")
    assert find("smollm2") == ModelChoice("embedded", "/m/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert find("embedded/SmolLM2-135M-Instruct.Q4_1.gguf").backend == "embedded"


def test_an_ollama_name_with_a_slash_is_found_even_where_its_namespace_is_a_backend() -> None:
    assert find("team/coder:7b") == ModelChoice("ollama", "team/coder:7b")  # "team" has no coder:7b
    assert find("team/mistral-7b") == ModelChoice("team", "mistral-7b")
    assert find("ollama/team/coder:7b") == ModelChoice("ollama", "team/coder:7b")


def test_no_match_lists_what_is_known_and_why_each_failed_backend_failed() -> None:
    with pytest.raises(ModelNotFound) as error:
        find("gemma", offline=OFFLINE)
    text = str(error.value)
    assert text.startswith("'gemma' matches no model; known: embedded/SmolLM2-135M-Instruct.Q4_1.gguf, ")
    assert text.endswith(
        "; not listed: lmstudio: lmstudio at http://localhost:1234/v1 refused the request (HTTP 401): check the key"
    )
    with pytest.raises(ModelNotFound, match=r"'lmstudio/gemma': lmstudio could not list its models: .*HTTP 401"):
        find("lmstudio/gemma", offline=OFFLINE)
    with pytest.raises(ModelNotFound, match=r"no backend named 'vllm'; backends: embedded, ollama, "):
        find("qwen3", backend="vllm")


def test_the_configured_model_is_waited_for_then_named_never_replaced() -> None:
    listed = [m for m in MODELS if m.backend == "embedded"]
    waiting = configured("qwen3:0.6b", listed, backends=BACKENDS, offline={}, pending=("ollama", "lmstudio"))
    assert waiting == Waiting("qwen3:0.6b", ("ollama", "lmstudio"))
    assert "Waiting for ollama, lmstudio to list models (the configured model is qwen3:0.6b)" in str(waiting)
    # Only the backend it names is waited for.
    assert configured(
        "ollama/qwen3:0.6b", listed, backends=BACKENDS, offline={}, pending=("ollama", "lmstudio")
    ) == Waiting("ollama/qwen3:0.6b", ("ollama",))
    with pytest.raises(ModelNotFound, match="the configured model .* not available: 'ollama/qwen3:0.6b' matches no"):
        configured("ollama/qwen3:0.6b", listed, backends=BACKENDS, offline={}, pending=("lmstudio",))
    with pytest.raises(ModelNotFound) as error:
        configured("qwen3:0.6b", listed, backends=BACKENDS, offline=OFFLINE)
    assert "not listed: lmstudio: " in str(error.value) and "HTTP 401" in str(error.value)
    # Exact names only: a part of a name is not the configured model.
    with pytest.raises(ModelNotFound):
        configured("qwen", MODELS, backends=BACKENDS, offline={})
    assert configured("ollama/qwen3:0.6b", MODELS, backends=BACKENDS, offline={}) == ModelChoice("ollama", "qwen3:0.6b")
    broken = [ModelInfo("/m/a.gguf", "embedded", extra={"error": "not a GGUF"})]
    with pytest.raises(ModelNotFound):
        configured("a.gguf", broken, backends=BACKENDS, offline={})
