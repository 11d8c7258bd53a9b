"""The reference lchat is measured against: llama-cpp-python driven directly, in its own process.

Run as ``python -m bench.raw_llama SPEC`` (SPEC is JSON); prints one JSON object. Modes:
``chat`` streams ``Llama.create_chat_completion``, ``generate`` loops over ``Llama.generate`` on
the chat-templated prompt, ``load`` times loading the model after another one, and its first token
(the files are in the page cache after the first load, so this is the mmap load time).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage, CreateChatCompletionStreamResponse


def main(spec: dict) -> dict:
    import llama_cpp

    from tui.engines.embedded import llama_compat

    threads = spec["threads"]

    def load(path: str | None = None) -> llama_cpp.Llama:
        return llama_cpp.Llama(
            model_path=path or spec["model"],
            n_ctx=spec.get("n_ctx", 4096),
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    if spec["mode"] == "load":  # Model B, then A again, as a switch does; A's load and first token timed.
        loads, firsts = [], []
        for _ in range(spec.get("loads", 3)):
            load(spec["other_model"]).close()
            started = time.perf_counter()
            llm = load()
            loaded = time.perf_counter()
            next(llm.generate(_prompt_tokens(llm, [{"role": "user", "content": spec["prompt"]}]), temp=0.0))
            loads.append(loaded - started)
            firsts.append(time.perf_counter() - loaded)
            llm.close()
        return {"load_s": loads, "first_token_s": firsts}
    llm = load()
    messages: list[ChatCompletionRequestMessage] = [{"role": "user", "content": spec["prompt"]}]
    stamps: list[float] = []
    text: list[str] = []
    if spec["mode"] == "chat":
        # stream=True returns chunks; llama-cpp-python types the result as either kind.
        chunks = cast(
            "Iterator[CreateChatCompletionStreamResponse]",
            llm.create_chat_completion(messages, temperature=0.0, max_tokens=spec["max_tokens"], stream=True),
        )
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if isinstance(piece, str) and piece:
                stamps.append(time.perf_counter())
                text.append(piece)
    else:
        tokens = _prompt_tokens(llm, messages)
        vocab = llama_compat.vocab(llm)
        for token in llm.generate(tokens, temp=0.0):
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            text.append(llm.detokenize([token]).decode("utf-8", "replace"))
            stamps.append(time.perf_counter())
            if len(stamps) >= spec["max_tokens"]:
                break
    return {
        "tokens": len(stamps),
        "first": stamps[0] if stamps else None,
        "last": stamps[-1] if stamps else None,
        "text": "".join(text),
    }


def _prompt_tokens(llm, messages: list[ChatCompletionRequestMessage]) -> list[int]:
    """The prompt as the model's own chat template renders it (as the engine child does)."""
    from tui.engines.embedded import llama_compat  # The same internals the engine child reaches.

    eos, bos = llm.token_eos(), llm.token_bos()
    result = llama_compat.format_prompt(
        llm.metadata["tokenizer.chat_template"],
        eos_token=llama_compat.token_text(llm, eos) if eos != -1 else "",
        bos_token=llama_compat.token_text(llm, bos) if bos != -1 else "",
        messages=messages,
        tools=None,
        variables={},
    )
    return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
