"""The embedded engine's child process: with tui.engines.embedded.llama_compat (its internals), the only
module that imports llama_cpp.

It loads one GGUF at a time and keeps it warm, answers one request at a time over a Pipe,
and exits when the parent's end of the pipe closes. Messages, all tuples (typed in
tui.engines.embedded.child_messages):

    parent -> child  ("chat", req, path, n_ctx, messages, options) | ("cancel", req) | ("quit",)
    child -> parent  ("loaded", req, offload) | ("piece", req, text) | ("reasoning", req, text)
                     | ("done", req, stats) | ("error", req, kind, message)   kind: "load" or "request"
                     | ("log", req, line)   llama.cpp's ERROR lines while answering, sent at once

Reasoning is split from the answer here, on the markers of the model's own chat template
(tui.engines.reasoning_split); the special tokens those markers are made of are decoded for it.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import random
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from tui.domain import THINK_LEVELS as LEVELS
from tui.engines.base import ReasoningPiece
from tui.engines.embedded import llama_compat
from tui.engines.embedded.alloc_limit_hook import limited_while_offloading
from tui.engines.embedded.child_messages import AnswerStats, ChildOptions, OffloadOptions, VisionSampling, WireMessage
from tui.engines.embedded.confined import run_confined
from tui.engines.embedded.ggml_devices import list_devices
from tui.engines.embedded.gpu_build import library_dirs
from tui.engines.embedded.llama_log import LlamaLog
from tui.engines.embedded.load_errors import LoadFailure, classify
from tui.engines.embedded.oom_abort_hook import abort_out_of_memory, oom_at_token
from tui.engines.embedded.vision_chat import load_handler, render_check, stream_answer
from tui.engines.reasoning_split import Splitter, ignored_think, splitter_for_template
from tui.engines.tool_wire import NO_TOOLS
from tui.engines.wire import without_tool_roles

if TYPE_CHECKING:
    from types import ModuleType

    from tui.engines.embedded.llama_compat import Llama, MTMDChatHandler, llama_vocab_p

LoadKey = tuple[str, int, str | None, tuple[tuple[str, object], ...]]
"""What a load is keyed by: path, context, adapter and the offload options' items."""

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Prompt format for a GGUF without a chat template of its own."""

DEFAULTS = {"temperature": 0.8, "top_p": 0.95}
TEMPLATE_TIME_LIMIT_S = 5.0
"""A chat template comes from the GGUF file, i.e. from a stranger: it gets this long to render."""
TEMPLATE_MEMORY_LIMIT = 512 << 20
"""... and this much new memory (in a fork: tui.engines.embedded.confined)."""
TEMPLATE_OUTPUT_LIMIT = 64 << 20
"""... and its prompt may be this big, pickled (a context of a million tokens is about 4 MB of text)."""


class TextStream:
    """Turns token bytes into text: UTF-8 decoded across token boundaries, stop strings cut off.

    Text that could be the start of a stop string is held back until it is known not to be.
    """

    def __init__(self, stops: list[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """The text that can be shown now; sets `stopped` when a stop string appeared."""
        text = self._held + self._decoder.decode(data)
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self._held = ""
            self.stopped = True
            return text[:cut]
        keep = max((_overlap(text, s) for s in self._stops), default=0)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """What is left once the answer has ended."""
        text = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return text


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of `text` that is a beginning of `stop`."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0


class _Cancelled(Exception):
    pass


class _Worker:
    """Holds the loaded model and answers requests."""

    def __init__(self, conn: Connection, n_threads: int | None) -> None:
        self.conn = conn
        self.n_threads = n_threads
        self.llm: Llama | None = None
        self.key: LoadKey | None = None
        self.offload: dict[str, Any] = {}
        """What the last load did on the GPU (tui.engines.embedded.offload_child.report)."""
        self.handlers: dict[tuple[LoadKey | None, str, str], MTMDChatHandler] = {}
        """Vision chat handlers by (model key, handler, projector): each holds libmtmd's context."""
        self._sending = threading.Lock()
        """llama.cpp may log (LlamaLog.on_error) from a thread of its own."""
        self.oom_at = oom_at_token()

    def serve(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "quit":
                return
            if msg[0] == "chat":
                self.chat(*msg[1:])

    @property
    def loaded(self) -> Llama:
        """The model held now (a request loads one before anything else)."""
        if self.llm is None:
            raise RuntimeError("no model is loaded")
        return self.llm

    def send(self, *msg: object) -> None:
        try:
            with self._sending:
                self.conn.send(msg)
        except OSError:
            sys.exit(0)  # The parent is gone.

    def check_cancel(self, req: int) -> None:
        """Raises _Cancelled when the parent asked to stop; exits when the parent is gone."""
        while self.conn.poll():
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                sys.exit(0)
            if msg[0] == "quit":
                sys.exit(0)
            if msg[0] == "cancel" and msg[1] == req:
                raise _Cancelled

    def load(self, path: str, n_ctx: int, lora: str | None = None, offload: OffloadOptions | None = None) -> bool:
        """Hold this model (with this context, adapter and GPU offload); False if it already was.

        `offload`: gpu_layers (-1: all), k_type, v_type, flash_attn (tui.engines.embedded)."""
        import llama_cpp

        from tui.engines.embedded import offload_child

        offload = offload or {}
        key: LoadKey = (path, n_ctx, lora, tuple(sorted(offload.items())))
        if self.key == key:
            return False
        if self.llm is not None:
            self.llm.close()
            self.llm, self.key = None, None
        threads = self.n_threads or None
        LlamaLog.install(llama_cpp)  # Importing llama_cpp put its own callback in.
        kv = offload_child.KV_TYPE_IDS

        def make(layers: int) -> Llama:
            LlamaLog.start()
            print(f"lchat: loading {os.path.basename(path)} with {_gpu_layers(layers)}", file=sys.stderr, flush=True)
            try:
                with (
                    limited_while_offloading(layers),
                    llama_compat.flash_attention_auto(offload.get("flash_attn") == "auto"),
                ):
                    return llama_cpp.Llama(
                        model_path=path,
                        n_ctx=n_ctx,
                        n_threads=threads,
                        n_threads_batch=threads,
                        lora_path=lora,
                        n_gpu_layers=layers,
                        type_k=kv[offload.get("k_type", "f16")],
                        type_v=kv[offload.get("v_type", "f16")],
                        flash_attn=offload.get("flash_attn") is True,
                        verbose=False,
                    )
            finally:
                LlamaLog.finish()

        def failure_of(exc: Exception) -> LoadFailure:
            # llama-cpp-python only says "Failed to load model"; llama.cpp said why, to us alone.
            failure = classify(LlamaLog.record.errors, exc)
            print(f"lchat: the load failed: {failure.message()}", file=sys.stderr, flush=True)
            return failure

        with llama_compat.templates_not_compiled():
            llm, layers, note = offload_child.load_with_fallback(
                make, int(offload.get("gpu_layers", 0)), int(offload.get("layers", 0)), failure_of
            )
        self.llm = llm
        try:
            devices = list_devices(library_dirs())
        except (OSError, AttributeError) as error:  # An older ggml without the device calls.
            print(f"lchat: listing ggml's devices failed: {error}", file=sys.stderr, flush=True)
            devices = []
        self.offload = offload_child.report(llama_cpp, llm, layers, note, LlamaLog.record, devices)
        self.key = key
        return True

    def chat(self, req: int, path: str, n_ctx: int, messages: list[WireMessage], options: ChildOptions) -> None:
        # An ERROR logged while answering goes to the parent at once: CUDA aborts right after.
        LlamaLog.on_error = lambda line: self.send("log", req, line)
        try:
            self.answer(req, path, n_ctx, messages, options)
        finally:
            LlamaLog.on_error = None

    def answer(self, req: int, path: str, n_ctx: int, messages: list[WireMessage], options: ChildOptions) -> None:
        started = time.perf_counter()
        try:
            fresh = self.load(path, n_ctx, options.get("lora"), options.get("offload"))
        except Exception as exc:  # llama_cpp raises ValueError; be safe with the rest.
            self.send("error", req, "load", str(exc) or type(exc).__name__)
            return
        self.send("loaded", req, self.offload | {"fresh": fresh})
        loaded = time.perf_counter()
        if options.get("vision"):
            self.chat_with_images(req, messages, options, load_s=loaded - started if fresh else None)
            return
        think = options.get("think")
        try:
            tools = [{"type": "function", "function": tool} for tool in options.get("tools") or ()]
            prompt, stops, add_bos, template = run_confined(
                lambda: self.format(messages, think, tools),
                seconds=TEMPLATE_TIME_LIMIT_S,
                memory_bytes=TEMPLATE_MEMORY_LIMIT,
                max_result_bytes=TEMPLATE_OUTPUT_LIMIT,
            )
            tokens = self.loaded.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        except _NoTools:
            self.send("error", req, "request", NO_TOOLS)
            return
        except Exception as exc:  # The template's own raise_exception, Jinja errors...
            self.send("error", req, "request", f"the chat template failed: {exc}")
            return
        room = self.loaded.n_ctx() - len(tokens)
        if room <= 0:
            self.send(
                "error",
                req,
                "request",
                f"the conversation is too long: {len(tokens)} tokens, the context holds {self.loaded.n_ctx()}",
            )
            return
        stats: AnswerStats = {
            "prompt_tokens": len(tokens),
            "completion_tokens": 0,
            "cached_tokens": 0,
            "load_s": loaded - started if fresh else None,
            "started": loaded,
        }
        splitter = splitter_for_template(template, prompt)
        try:
            stats["cached_tokens"] = self.prefill(req, tokens)
            self.generate(req, tokens, stops + list(options.get("stop") or ()), room, options, stats, splitter)
        except _Cancelled:
            stats["stop_reason"] = "cancelled"
        except Exception as exc:  # llama_decode failures surface as RuntimeError.
            llama_compat.reset(self.loaded)
            self.send("error", req, "request", f"generation failed: {exc}")
            return
        stats.pop("started", None)  # No token came (an empty answer): no prompt_s.
        stats["notice"] = ignored_think(think, thought=bool(splitter and splitter.saw_reasoning))
        self.send("done", req, stats)

    def chat_with_images(
        self, req: int, messages: list[WireMessage], options: ChildOptions, *, load_s: float | None
    ) -> None:
        """A turn with images: llama-cpp-python's vision handler renders, evaluates and samples
        (tui.engines.embedded.vision_chat); its template is tried in a confined fork first."""
        vision = options["vision"]
        stats: AnswerStats = {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cached_tokens": 0,
            "load_s": load_s,
            "started": time.perf_counter(),
        }
        try:
            key = (self.key, vision["handler"], vision["projector"])
            if key not in self.handlers:
                self.handlers = {key: load_handler(vision["handler"], vision["projector"])}
            handler = self.handlers[key]
            run_confined(
                lambda: render_check(self.loaded, handler, messages),
                seconds=TEMPLATE_TIME_LIMIT_S,
                memory_bytes=TEMPLATE_MEMORY_LIMIT,
                max_result_bytes=TEMPLATE_OUTPUT_LIMIT,
            )
        except Exception as exc:  # No libmtmd, a projector llama.cpp refuses, a failing template.
            self.send("error", req, "request", str(exc) or type(exc).__name__)
            return
        temp, top_p, seed = options.get("temperature"), options.get("top_p"), options.get("seed")
        sampling: VisionSampling = {
            "temperature": DEFAULTS["temperature"] if temp is None else temp,
            "top_p": DEFAULTS["top_p"] if top_p is None else top_p,
            "max_tokens": options.get("max_tokens"),
            "stop": list(options.get("stop") or ()),
            "seed": seed if seed is not None else random.getrandbits(31),
        }
        try:
            stream_answer(
                self.loaded,
                handler,
                messages,
                sampling,
                stats,
                on_text=lambda text: self.send("piece", req, text),
                check_cancel=lambda: self.check_cancel(req),
            )
        except _Cancelled:
            stats["stop_reason"] = "cancelled"
        except Exception as exc:  # Decoding an image or the prompt failed.
            self.send("error", req, "request", f"generation failed: {exc}")
            return
        stats.pop("started", None)
        self.send("done", req, stats)

    def format(
        self, messages: list[WireMessage], think: str | None = None, tools: list[WireMessage] | None = None
    ) -> tuple[str, list[str], bool, str]:
        """The prompt, its stop strings, whether tokenizing should add BOS, and the template used.

        The think setting reaches the template as the variables templates read: `enable_thinking`
        (Qwen3) and `reasoning_effort` (gpt-oss). The tools are rendered by the model's own
        template; a template that never mentions them cannot call them."""
        llm = self.loaded
        eos, bos = llm.token_eos(), llm.token_bos()
        template = llm.metadata.get("tokenizer.chat_template")
        if tools and (not template or "tools" not in template):
            raise _NoTools()
        if "tool" not in (template or ""):  # Tool turns of another model's, as plain turns.
            messages = without_tool_roles(messages)
        result = llama_compat.format_prompt(
            template or CHATML,
            eos_token=llama_compat.token_text(llm, eos) if eos != -1 else "",
            bos_token=llama_compat.token_text(llm, bos) if bos != -1 else "",
            messages=messages,
            tools=tools or None,
            variables=_think_variables(think),
        )
        stops = result.stop if isinstance(result.stop, list) else [result.stop or ""]
        if not template:
            stops.append("<|im_end|>")
        # The ChatML fallback has no BOS of its own: let the model's add_bos setting decide.
        add_bos = not result.added_special if template else True
        return result.prompt, stops, add_bos, template or ""

    def prefill(self, req: int, tokens: list[int]) -> int:
        """Evaluates all but the last prompt token, a batch at a time, reusing the KV cache.

        Returns how many prompt tokens were already cached. Llama.generate then finds the
        prompt evaluated but for one token; doing it here lets a cancel stop a long prompt.
        """
        llm = self.loaded
        if llama_compat.whole_state_only(llm):
            return 0  # Their state cannot be cut back; Llama.generate starts them afresh.
        cached = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), tokens):
            if a != b:
                break
            cached += 1
        cached = min(cached, len(tokens) - 1)
        if cached < llm.n_tokens:
            cached = llama_compat.keep_prefix(llm, cached)
        for start in range(cached, len(tokens) - 1, llm.n_batch):
            self.check_cancel(req)
            llm.eval(tokens[start : min(start + llm.n_batch, len(tokens) - 1)])
        return cached

    def generate(
        self,
        req: int,
        tokens: list[int],
        stops: list[str],
        room: int,
        options: ChildOptions,
        stats: AnswerStats,
        splitter: Splitter | None = None,
    ) -> None:
        import llama_cpp

        llm = self.loaded
        vocab = llama_compat.vocab(llm)
        seed = options.get("seed")
        llm.set_seed(seed if seed is not None else random.getrandbits(31))
        limit = min(options.get("max_tokens") or room, room)
        text = TextStream(stops)
        temp = options.get("temperature")
        top_p = options.get("top_p")
        stats["stop_reason"] = "length"
        count = 0
        markers = splitter.markers if splitter is not None else ()
        if splitter is not None:
            stats["reasoning_tokens"] = 0
        for token in llm.generate(
            tokens,
            temp=DEFAULTS["temperature"] if temp is None else temp,
            top_p=DEFAULTS["top_p"] if top_p is None else top_p,
        ):
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                stats["stop_reason"] = "stop"
                break
            count += 1
            if count == 1:  # Template, tokenizing, prefill and the first decode: the engine's TTFT.
                stats["prompt_s"] = time.perf_counter() - stats.pop("started")
            stats["completion_tokens"] = count
            thinking = splitter is not None and splitter.reasoning
            self.emit(
                req,
                text.feed(_token_bytes(llama_cpp, vocab, token, markers, tools=bool(options.get("tools")))),
                splitter,
            )
            if splitter is not None and (thinking or splitter.reasoning):
                stats["reasoning_tokens"] += 1
            if text.stopped:
                stats["stop_reason"] = "stop"
                break
            if count == self.oom_at:
                abort_out_of_memory()  # A test hook (tui.engines.embedded.oom_abort_hook); never set in use.
            if count >= limit:
                break
            self.check_cancel(req)
        self.emit(req, "" if text.stopped else text.flush(), splitter, final=True)

    def emit(self, req: int, text: str, splitter: Splitter | None, *, final: bool = False) -> None:
        """Send `text` as answer pieces, or through the splitter as reasoning and answer."""
        if splitter is None:
            if text:
                self.send("piece", req, text)
            return
        for piece in splitter.feed(text) + (splitter.flush() if final else []):
            self.send("reasoning" if isinstance(piece, ReasoningPiece) else "piece", req, piece.text)


def _think_variables(think: str | None) -> dict[str, bool | str]:
    """What a chat template reads for the think setting; nothing for the model's default."""
    if think is None:
        return {}
    if think in LEVELS:
        return {"enable_thinking": True, "reasoning_effort": think}
    return {"enable_thinking": think != "off"}


def _gpu_layers(layers: int) -> str:
    return "every layer on the GPU" if layers < 0 else f"{layers} layers on the GPU"


class _NoTools(Exception):
    """Tools were offered to a model whose chat template has no place for them."""


_buffer = ctypes.create_string_buffer(256)


def _token_bytes(
    llama_cpp: ModuleType, vocab: llama_vocab_p, token: int, markers: tuple[str, ...], *, tools: bool = False
) -> bytes:
    """A token's bytes. Control tokens render as nothing, except those spelling one of the
    reasoning splitter's `markers` (gpt-oss's channels), which the splitter takes out again, and,
    while tools are offered, every one (tool-call markers such as Mistral's [TOOL_CALLS] and
    Llama's <|python_tag|> are special tokens)."""
    if (markers or tools) and llama_cpp.llama_vocab_is_control(vocab, token):
        special = _piece(llama_cpp, vocab, token, special=True)
        return special if tools or special.decode("utf-8", "replace") in markers else b""
    return _piece(llama_cpp, vocab, token)


def _piece(llama_cpp: ModuleType, vocab: llama_vocab_p, token: int, *, special: bool = False) -> bytes:
    """A token's bytes (special tokens render as nothing unless `special`); Llama.detokenize caps them at 32."""
    global _buffer
    while True:
        n = llama_cpp.llama_token_to_piece(vocab, token, _buffer, len(_buffer), 0, special)
        if n >= 0:
            return _buffer.raw[:n]
        _buffer = ctypes.create_string_buffer(-n)


def main(conn: Connection, log_path: str | None, n_threads: int | None) -> None:
    """Entry point of the child process."""
    # Ctrl-C and a terminal's hang-up belong to the parent, which saves the answer first; the
    # child exits anyway once the parent's pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # llama.cpp writes to fds 1 and 2, which are the parent's terminal: send them to the log.
    try:
        if log_path:
            os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        fd = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    print(f"--- lchat embedded engine, pid {os.getpid()}, {time.ctime()}", file=sys.stderr)
    from tui.engines.embedded.offload_child import load_backends

    try:
        LlamaLog.install_in_ggml(library_dirs())  # First: a backend that fails to load says why.
        load_backends()
    except (OSError, AttributeError) as error:  # A broken build: llama.cpp's own load then says why.
        print(f"loading llama.cpp's backends failed: {error}", file=sys.stderr, flush=True)
    _Worker(conn, n_threads).serve()
