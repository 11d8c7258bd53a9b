"""The llama-cpp-python internals lchat relies on are where tui/engines/embedded/llama_compat.py expects them:
an upgrade that moves one fails here, by name, before an answer misbehaves. Each shim runs against
the installed llama-cpp-python on a tiny real GGUF (tests/gguf_files.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest
from llama_cpp import _internals, llama_chat_format

from tests.gguf_files import CHATML, write_tiny_llama
from tui.engines.embedded import llama_compat
from tui.engines.embedded.llama_compat import LlamaMoved

TUI = Path(llama_compat.__file__).parents[1]
PARTS_TEMPLATE = "{% for m in messages %}{% for p in m.content %}[{{ p.text }}]{% endfor %}{% endfor %}"
"""A vision template: each message's content is a list of parts."""


def _load(path: Path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=64, n_threads=1, verbose=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compat")


@pytest.fixture(scope="module")
def tiny(folder: Path) -> Path:
    return write_tiny_llama(folder / "tiny.gguf")


@pytest.fixture(scope="module")
def llm(tiny: Path) -> Iterator[llama_cpp.Llama]:
    model = _load(tiny)
    yield model
    model.close()


def test_every_internal_is_where_lchat_expects_it(llm: llama_cpp.Llama) -> None:
    version = llama_cpp.__version__
    owners: list[tuple[object, tuple[str, ...]]] = [
        (llm, ("_model", "_ctx", "_is_recurrent", "_is_hybrid")),
        (llm._model, ("vocab", "token_get_text")),
        (llm._ctx, ("kv_cache_seq_rm", "kv_cache_clear")),
        (_internals, ("LlamaContext",)),
        (llama_chat_format, ("Jinja2ChatFormatter", "MTMDChatHandler")),
        (llama_chat_format.Jinja2ChatFormatter, ("IgnoreGenerationTags", "tojson", "strftime_now")),
        (llama_chat_format.MTMDChatHandler, ("_get_chat_template", "_get_template_messages")),
    ]
    for owner, names in owners:
        missing = [name for name in names if not hasattr(owner, name)]
        assert not missing, f"llama-cpp-python {version} moved {owner!r}.{missing}"
    assert sorted(sum(llama_compat.INTERNALS.values(), ())) == sorted(sum((names for _, names in owners), ()))


def test_vocab_and_token_text_read_the_models_vocabulary(llm: llama_cpp.Llama) -> None:
    vocab = llama_compat.vocab(llm)
    [start] = llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert llama_cpp.llama_vocab_is_control(vocab, start)
    assert not llama_cpp.llama_vocab_is_eog(vocab, start) and llama_cpp.llama_vocab_is_eog(vocab, llm.token_eos())
    assert llama_compat.token_text(llm, start) == "<|im_start|>"
    assert (llama_compat.token_text(llm, llm.token_bos()), llama_compat.token_text(llm, llm.token_eos())) == (
        "<s>",
        "</s>",
    )


def test_the_kv_cache_is_cut_to_a_prefix_and_cleared(llm: llama_cpp.Llama) -> None:
    memory = llama_cpp.llama_get_memory(llm.ctx)
    assert llama_compat.whole_state_only(llm) is False  # a llama's cache can be cut back
    llm.reset()
    llm.eval(llm.tokenize(b"hello world", add_bos=False))
    assert llm.n_tokens == 11 and llama_cpp.llama_memory_seq_pos_max(memory, 0) == 10
    assert llama_compat.keep_prefix(llm, 3) == 3
    assert llm.n_tokens == 3 and llama_cpp.llama_memory_seq_pos_max(memory, 0) == 2
    llama_compat.clear_cache(llm)
    assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == -1
    llm.reset()


def test_templates_are_not_compiled_while_a_model_loads(folder: Path) -> None:
    broken = write_tiny_llama(folder / "broken-template.gguf", chat_template="{% for %}")
    real = llama_chat_format.Jinja2ChatFormatter
    with pytest.raises(Exception, match="Expected an expression"):  # Llama() compiles it: jinja's error
        _load(broken)
    with llama_compat.templates_not_compiled():
        assert llama_chat_format.Jinja2ChatFormatter is not real
        _load(broken).close()
    assert llama_chat_format.Jinja2ChatFormatter is real


def test_flash_attention_auto_reaches_the_context(tiny: Path) -> None:
    real = _internals.LlamaContext
    plain = _load(tiny)
    assert plain.context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    plain.close()
    with llama_compat.flash_attention_auto(True):
        auto = _load(tiny)
    assert auto.context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
    auto.close()
    with llama_compat.flash_attention_auto(False):
        assert _internals.LlamaContext is real
    assert _internals.LlamaContext is real


def test_a_prompt_is_rendered_as_llama_cpp_python_renders_it() -> None:
    result = llama_compat.format_prompt(
        CHATML,
        eos_token="</s>",
        bos_token="<s>",
        messages=[{"role": "user", "content": "hi"}],
        tools=None,
        variables={"enable_thinking": False},
    )
    assert result.prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert result.stop == ["</s>"]


def test_vision_handlers_are_found_by_name_and_render_the_template(folder: Path) -> None:
    probe_loads = True
    try:
        import llama_cpp.mtmd_cpp  # noqa: F401
    except Exception:  # noqa: BLE001 - a build without libmtmd
        probe_loads = False
    assert llama_compat.has_libmtmd() is probe_loads
    if not probe_loads:
        pytest.skip("this llama-cpp-python has no libmtmd")
    projector = folder / "mmproj.gguf"
    projector.write_bytes(b"GGUF")  # the handler opens it only when it first answers
    gemma = llama_compat.vision_handler("Gemma4ChatHandler", str(projector))
    assert type(gemma) is llama_chat_format.Gemma4ChatHandler and gemma.clip_model_path == str(projector)
    generic = llama_compat.vision_handler("NoSuchHandler", str(projector))
    assert type(generic) is llama_chat_format.MTMDChatHandler
    seeing = _load(write_tiny_llama(folder / "parts-template.gguf", chat_template=PARTS_TEMPLATE))
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}]
    assert llama_compat.render_vision_template(seeing, generic, messages, "<m>") == "[what?][<m>]"
    seeing.close()


def test_a_moved_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LlamaMoved, match=r"object\._model is gone; update tui/engines/embedded/llama_compat\.py"):
        llama_compat.vocab(object())  # type: ignore[arg-type]
    monkeypatch.delattr(llama_chat_format, "Jinja2ChatFormatter")
    with pytest.raises(LlamaMoved, match=r": llama_cpp\.llama_chat_format\.Jinja2ChatFormatter is gone"):
        with llama_compat.templates_not_compiled():
            pass


PRIVATE = {name for names in llama_compat.INTERNALS.values() for name in names} | {"_internals"}


def test_no_other_module_reaches_into_llama_cpp_python() -> None:
    """Outside llama_compat, no module that drives llama-cpp-python (it imports llama_cpp or
    llama_compat) names an internal llama_compat lists; the benchmarks' raw reference included."""
    offenders = []
    for path in sorted(TUI.rglob("*.py")):
        if path.name != "llama_compat.py":
            offenders += [f"{path.relative_to(TUI)}:{found}" for found in _reaches(ast.parse(path.read_text()))]
    assert not offenders, offenders


def test_the_check_finds_a_planted_reach() -> None:
    planted = "import llama_cpp\nfrom llama_cpp import _internals\ndef f(llm):\n    return llm._model.vocab\n"
    assert _reaches(ast.parse(planted)) == ["2 from llama_cpp", "4 llm._model.vocab", "4 llm._model"]
    assert _reaches(ast.parse(planted.replace("import llama_cpp\nfrom llama_cpp import _internals", "import os"))) == []


def _reaches(tree: ast.Module) -> list[str]:
    """Where a module that drives llama-cpp-python names one of its internals ("line what")."""
    if not _drives_llama(tree):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "llama_compat")):
                found.append(f"{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llama_cpp"):
            if any(alias.name in PRIVATE or alias.name == "llama_chat_format" for alias in node.names):
                found.append(f"{node.lineno} from {node.module}")
        if isinstance(node, ast.ImportFrom) and node.module in ("llama_cpp.llama_chat_format", "llama_cpp._internals"):
            found.append(f"{node.lineno} from {node.module}")
    return found


def _drives_llama(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name.startswith("llama_cpp") for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llama_cpp"):
            return True
        if isinstance(node, ast.ImportFrom) and any(alias.name == "llama_compat" for alias in node.names):
            return True
    return False
