"""A loopback Ollama for the streaming-cost row: one model, one paced Markdown answer.

It speaks what the clients compared need: Ollama's /api (version, tags, ps, show, streaming
NDJSON chat) for lchat, and the OpenAI-compatible /v1 (models, SSE chat completions) that
oterm uses. Every answer is the same pieces at the same rate; the times of the first and the
last piece sent are kept, so the bench measures each client over the same window. A thinking
model's double streams its reasoning first, as Ollama does: `message.thinking` on /api,
`delta.reasoning` on /v1, and "thinking" in the model's capabilities.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MODEL = "bench-markdown:latest"
_DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "1B",
    "quantization_level": "Q4_K_M",
}
_ENTRY = {
    "name": MODEL,
    "model": MODEL,
    "modified_at": "2025-01-01T10:00:00Z",
    "size": 10**9,
    "digest": "ab" * 32,
    "details": _DETAILS,
}


@dataclass
class Answered:
    """One answer the double streamed: when its first and last pieces left."""

    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class DoubleState:
    pieces: Sequence[str]
    rate: float
    reasoning: Sequence[str] = ()
    answers: list[Answered] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        path = self.path.split("?")[0].rstrip("/")
        try:
            self._route(path, body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_HEAD = _handle

    def _route(self, path: str, body: dict) -> None:
        if path == "/api/version":
            self._json({"version": "0.12.0"})
        elif path == "/api/tags":
            self._json({"models": [_ENTRY]})
        elif path == "/api/ps":
            self._json({"models": []})
        elif path == "/api/show":
            self._json(
                {
                    "modelfile": "FROM x",
                    "parameters": "",
                    "template": "{{ .Prompt }}",
                    "details": _DETAILS,
                    "capabilities": ["completion", "thinking"] if self.server.state.reasoning else ["completion"],
                    "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
                }
            )
        elif path == "/v1/models":
            self._json({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "me"}]})
        elif path == "/api/chat":
            self._stream("application/x-ndjson", _ndjson, body)
        elif path == "/v1/chat/completions":
            self._stream("text/event-stream", _sse, body)
        else:
            self._json({"error": "not found"}, 404)

    def _json(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _chunk(self, data: str) -> None:
        raw = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _stream(self, content_type: str, encode: Any, body: dict) -> None:
        state = self.server.state
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        answer = Answered()
        state.answers.append(answer)
        state.started.set()
        started = time.perf_counter()
        thinking = body.get("think") is not False  # Thinking models think unless told not to.
        pieces = [(True, piece) for piece in (state.reasoning if thinking else ())]
        pieces += [(False, piece) for piece in state.pieces]
        for index, (reasoning, piece) in enumerate(pieces):
            wait = started + index / state.rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            self._chunk(encode(piece, index, done=False, reasoning=reasoning))
            answer.first = answer.first or time.perf_counter()
        answer.last = time.perf_counter()
        self._chunk(encode("", len(pieces), done=True, reasoning=False))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        answer.done.set()


def _ndjson(piece: str, count: int, *, done: bool, reasoning: bool) -> str:
    line: dict[str, Any] = {
        "model": MODEL,
        "created_at": "2025-01-01T10:00:00Z",
        "message": {"role": "assistant", "content": "", "thinking": piece}
        if reasoning
        else {"role": "assistant", "content": piece},
        "done": done,
    }
    if done:
        line.update(
            done_reason="stop",
            total_duration=10**9,
            load_duration=0,
            prompt_eval_count=10,
            prompt_eval_duration=10**6,
            eval_count=count,
            eval_duration=10**9,
        )
    return json.dumps(line) + "\n"


def _sse(piece: str, count: int, *, done: bool, reasoning: bool) -> str:
    delta = (
        {"role": "assistant", "content": None, "reasoning": piece}
        if reasoning
        else {"role": "assistant", "content": piece}
    )
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1735725600,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if done else None}],
    }
    if done:
        chunk["usage"] = {"prompt_tokens": 10, "completion_tokens": count, "total_tokens": count + 10}
        return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
    return f"data: {json.dumps(chunk)}\n\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: DoubleState

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # A client that quits mid-answer is not the bench's concern.


class OllamaDouble:
    """The double on a free loopback port, in a daemon thread, until `close`."""

    def __init__(self, pieces: Sequence[str], rate: float, reasoning: Sequence[str] = ()) -> None:
        """`reasoning`: a thinking model's reasoning, streamed before the answer's `pieces`."""
        self.state = DoubleState(pieces, rate, reasoning)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def next_answer(self, timeout: float) -> Answered:
        """The answer being streamed now, once one started (they are asked for one at a time)."""
        if not self.state.started.wait(timeout):
            raise TimeoutError("the client asked for no answer")
        self.state.started.clear()
        return self.state.answers[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
