"""A loopback server that speaks Ollama's documented HTTP API, with every fault on cue.

Endpoints: /api/version, /api/tags, /api/ps, /api/show, streaming NDJSON /api/chat and
/api/pull, /api/generate (unload), /api/delete. `state.chat_fault` picks how /api/chat fails.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.loopback import FLOOD_CAP, Handler, Served, serve

GIB = 1024**3
HUGE_BYTES = 50 * 1024 * 1024
"""How big a "huge" reply is: past every limit lchat reads, yet finite."""
MANY_NAMES = 1_000_000
LIST_BOMB = (b'{"models": [', b"]}")
ERROR_BOMB = (b'{"error": "', b'"}')
"""The JSON around each gzip bomb (tests.loopback.gzip_bomb: make it before the client waits on it)."""


def model_entry(
    name: str, *, size: int = 2 * GIB, family: str = "llama", params: str = "3.2B", quant: str = "Q4_K_M"
) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T10:00:00.000000+00:00",
        "size": size,
        "digest": f"{abs(hash(name)):064x}"[:64],
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": params,
            "quantization_level": quant,
        },
    }


def show_entry(
    entry: dict[str, Any], *, context: int = 131072, thinking: tuple[str, ...] | None = None, vision: bool = False
) -> dict[str, Any]:
    """`thinking`: None for a model that cannot think, else its levels (() for none); `vision`:
    the model reads images."""
    family = entry["details"]["family"]
    extra: dict[str, Any] = {}
    if thinking:
        extra["thinking"] = {"values": list(thinking), "default": "medium"}
    return extra | {
        "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nline two",
        "modelfile": "FROM x",
        "parameters": 'stop "<|eot_id|>"\ntemperature 0.6',
        "template": "{{ .Prompt }}",
        "details": entry["details"],
        "model_info": {
            "general.architecture": family,
            "general.parameter_count": 3_212_749_888,
            f"{family}.context_length": context,
            f"{family}.block_count": 28,
            f"{family}.embedding_length": 3072,
            f"{family}.attention.head_count": 24,
            f"{family}.attention.head_count_kv": 8,
        },
        "capabilities": ["completion", "tools"]
        + (["thinking"] if thinking is not None else [])
        + (["vision"] if vision else []),
        "modified_at": entry["modified_at"],
    }


@dataclass
class OllamaState:
    """What the fake daemon knows and how it misbehaves."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    reply: list[str] = field(default_factory=lambda: ["Hello", " from", " Ollama", "."])
    chat_fault: str = ""
    """"" (none), kill, stall, http500, error_line, bad_json, unauthorized, forbidden, redirect,
    bad_utf8, echo_auth (a 500 whose error quotes the request's Authorization header, as careless proxies do),
    silent (reads the request, then says nothing for stall_s), endless_error / huge_error (a 500 whose
    error text never ends / is HUGE_BYTES), bomb_error (a 500 whose error text is a gzip bomb), endless_line (mid-answer, a line that never ends)."""
    list_fault: str = ""
    """How /api/tags fails: "" (none), many_names (MANY_NAMES models), bomb (a gzip bomb), endless_error (a 500 that never ends)."""
    fault_after: int = 2
    """Pieces sent before a mid-stream fault."""
    stall_s: float = 3.0
    piece_delay: float = 0.0
    redirect_to: str = ""
    required_auth: str = ""
    list_gate: threading.Event | None = None
    """When given, /api/tags answers only once it is set (a daemon slow to list, e.g. just started)."""
    """When set, every request must carry Authorization equal to this."""
    pull_sizes: dict[str, int] = field(default_factory=dict)
    """Models /api/pull knows, with their download size."""
    pull_steps: int = 5
    pull_delay: float = 0.0
    pull_fault: str = ""
    """"" or error_line (a registry error in the stream) or kill."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Calls ({"name", "arguments"}) the model makes when offered tools, until a tool's result comes back."""
    no_tools: set[str] = field(default_factory=set)
    """Models without the tools capability: offered tools, the daemon refuses the request."""
    thinkers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Models that think (by default), with their levels (() for none); levels models ignore think false."""
    thoughts: list[str] = field(default_factory=lambda: ["The user", " greets me.", " Reply kindly."])
    """The reasoning a thinking model streams in `message.thinking` before its answer."""
    seers: set[str] = field(default_factory=set)
    """Models whose capabilities include vision."""

    chats: list[dict[str, Any]] = field(default_factory=list)
    """Every /api/chat request body, in order."""

    def add(self, name: str, **kwargs: Any) -> dict[str, Any]:
        entry = model_entry(name, **kwargs)
        self.models[name] = entry
        return entry

    def load(self, name: str, *, vram: int = 3 * GIB) -> None:
        entry = self.models[name]
        self.running[name] = dict(
            entry, expires_at="2030-01-01T10:05:00.000000+00:00", size_vram=vram, context_length=4096
        )


def final_chunk(model: str, done_reason: str = "stop") -> dict[str, Any]:
    return {
        "model": model,
        "created_at": "2025-01-01T10:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": done_reason,
        "total_duration": 2_000_000_000,
        "load_duration": 500_000_000,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 130_000_000,
        "eval_count": 4,
        "eval_duration": 250_000_000,
    }


class OllamaHandler(Handler):
    """Routes Ollama's API onto `OllamaState`."""

    def route(self) -> None:
        state: OllamaState = self.state
        if state.required_auth and self.headers.get("Authorization") != state.required_auth:
            self.send_json(401, {"error": "unauthorized"})
            return
        path = self.path.split("?")[0]
        body = self.body if isinstance(self.body, dict) else {}
        if path == "/api/version":
            self.send_json(200, {"version": "0.6.8"})
        elif path == "/api/tags":
            if state.list_gate is not None:
                state.list_gate.wait(30)
            if state.list_fault == "many_names":
                entry = json.dumps(model_entry("m:latest")).encode()
                batch = (entry + b",") * 1000
                self.send_flood(
                    200,
                    "application/json",
                    head=b'{"models":[',
                    filler=batch,
                    total=len(batch) * (MANY_NAMES // 1000),
                    tail=entry + b"]}",
                )
                return
            if state.list_fault == "bomb":
                self.send_bomb(200, *LIST_BOMB)
                return
            if state.list_fault == "endless_error":
                self.send_flood(500, "application/json", head=b'{"error": "')
                return
            self.send_json(200, {"models": list(state.models.values())})
        elif path == "/api/ps":
            self.send_json(200, {"models": list(state.running.values())})
        elif path == "/api/show":
            entry = state.models.get(body.get("model", ""))
            if entry is None:
                self.send_json(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self.send_json(
                    200,
                    show_entry(
                        entry, thinking=state.thinkers.get(entry["model"]), vision=entry["model"] in state.seers
                    ),
                )
        elif path in ("/api/chat", "/api/generate"):
            self.chat(state, body)
        elif path == "/api/pull":
            self.pull(state, body)
        elif path == "/api/delete" and self.command == "DELETE":
            if state.models.pop(body.get("model", ""), None) is None:
                self.send_json(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self.send_empty(200)
        else:
            self.send_json(404, {"error": "not found"})

    def chat(self, state: OllamaState, body: dict[str, Any]) -> None:
        state.chats.append(body)
        model = body.get("model", "")
        fault = state.chat_fault
        if fault == "redirect":
            self.send_empty(307, {"Location": state.redirect_to + self.path})
            return
        if fault in ("unauthorized", "forbidden"):
            code = 401 if fault == "unauthorized" else 403
            self.send_json(code, {"error": f"{code}: token rejected"})
            return
        if fault == "http500":
            self.send_json(500, {"error": "llama runner process has terminated: signal: killed"})
            return
        if fault == "silent":
            self.stall(state.stall_s)
            return
        if fault == "bomb_error":
            self.send_bomb(500, *ERROR_BOMB)
            return
        if fault in ("endless_error", "huge_error"):
            huge = fault == "huge_error"
            self.send_flood(
                500,
                "application/json",
                head=b'{"error": "',
                total=HUGE_BYTES if huge else FLOOD_CAP,
                tail=b'"}' if huge else None,
            )
            return
        if fault == "echo_auth":
            self.send_json(500, {"error": f"upstream rejected {self.headers.get('Authorization')}"})
            return
        if model not in state.models:
            self.send_json(404, {"error": f"model '{model}' not found"})
            return
        is_chat = self.path.startswith("/api/chat")
        levels = state.thinkers.get(model)
        if "think" in body and levels is None:
            self.send_json(400, {"error": f'"{model}" does not support thinking'})
            return
        thinks = levels is not None and (body.get("think", True) is not False or bool(levels))
        if body.get("keep_alive") == 0 and not body.get("messages") and not body.get("prompt"):
            state.running.pop(model, None)
            self.send_json(200, dict(final_chunk(model, "unload"), response=""))
            return
        messages = body.get("messages") or []
        if body.get("tools") and model in state.no_tools:
            self.send_json(400, {"error": f"registry.ollama.ai/library/{model} does not support tools"})
            return
        self.start_chunked("application/x-ndjson")
        if body.get("tools") and state.tool_calls and (not messages or messages[-1].get("role") != "tool"):
            calls = [{"function": {"name": c["name"], "arguments": c["arguments"]}} for c in state.tool_calls]
            self.chunk(
                json.dumps(
                    {
                        "model": model,
                        "created_at": "2025-01-01T10:00:00Z",
                        "done": False,
                        "message": {"role": "assistant", "content": "", "tool_calls": calls},
                    }
                )
                + "\n"
            )
            self.chunk(json.dumps(final_chunk(model)) + "\n")
            self.end_chunked()
            return
        reply = state.reply
        if messages and messages[-1].get("role") == "tool":  # The answer uses what the tool said.
            reply = ["The tool", " said: " + messages[-1].get("content", "")]
        for thought in state.thoughts if thinks and is_chat else []:
            if state.piece_delay:
                time.sleep(state.piece_delay)
            self.chunk(
                json.dumps(
                    {
                        "model": model,
                        "created_at": "2025-01-01T10:00:00Z",
                        "done": False,
                        "message": {"role": "assistant", "content": "", "thinking": thought},
                    }
                )
                + "\n"
            )
        for index, piece in enumerate(reply):
            if fault and index == state.fault_after:
                if fault == "kill":
                    self.die()
                    return
                if fault == "stall":
                    self.stall(state.stall_s)
                    return
                if fault == "error_line":
                    self.chunk(json.dumps({"error": "an error was encountered while running the model"}) + "\n")
                    self.end_chunked()
                    return
                if fault == "endless_line":
                    self.flood(head=b'{"model": "m", "done": false, "message": {"role": "assistant", "content": "')
                    return
                if fault == "bad_json":
                    self.chunk("<html>proxy error</html>\n")
                    self.end_chunked()
                    return
                if fault == "bad_utf8":  # a stray byte, then a character split across chunks
                    line = (
                        json.dumps(
                            {
                                "model": model,
                                "created_at": "2025-01-01T10:00:00Z",
                                "done": False,
                                "message": {"role": "assistant", "content": "caf\u00e9 \u20ac"},
                            },
                            ensure_ascii=False,
                        )
                        .encode()
                        .replace(b"caf", b"\xffcaf", 1)
                        + b"\n"
                    )
                    split = line.index("\u20ac".encode()) + 1
                    self.chunk(line[:split])
                    self.chunk(line[split:])
            if state.piece_delay:
                time.sleep(state.piece_delay)
            self.chunk(
                json.dumps(
                    {
                        "model": model,
                        "created_at": "2025-01-01T10:00:00Z",
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                )
                + "\n"
            )
        state.running.setdefault(
            model,
            dict(
                state.models[model],
                expires_at="2030-01-01T10:05:00Z",
                size_vram=state.models[model]["size"],
                context_length=4096,
            ),
        )
        self.chunk(json.dumps(final_chunk(model)) + "\n")
        self.end_chunked()

    def pull(self, state: OllamaState, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        self.start_chunked("application/x-ndjson")
        self.chunk(json.dumps({"status": "pulling manifest"}) + "\n")
        if model not in state.pull_sizes:
            self.chunk(json.dumps({"error": "pull model manifest: file does not exist"}) + "\n")
            self.end_chunked()
            return
        total = state.pull_sizes[model]
        digest = "sha256:" + "ab" * 32
        for step in range(state.pull_steps + 1):
            if state.pull_fault == "kill" and step == state.pull_steps // 2:
                self.die()
                return
            if state.pull_delay:
                time.sleep(state.pull_delay)
            completed = total * step // state.pull_steps
            self.chunk(
                json.dumps(
                    {"status": f"pulling {digest[7:19]}", "digest": digest, "total": total, "completed": completed}
                )
                + "\n"
            )
        if state.pull_fault == "error_line":
            self.chunk(json.dumps({"error": "max retries exceeded: no space left on device"}) + "\n")
            self.end_chunked()
            return
        for status in ("verifying sha256 digest", "writing manifest", "success"):
            self.chunk(json.dumps({"status": status}) + "\n")
        state.add(model, size=total)
        self.end_chunked()


def start_ollama(state: OllamaState | None = None, *, port: int = 0, host: str = "127.0.0.1") -> Served:
    return serve(OllamaHandler, state or OllamaState(), port=port, host=host)
