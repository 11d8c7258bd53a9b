"""A loopback OpenAI-compatible server: /v1/models and chat completions streamed as server-sent events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fake_ollama import HUGE_BYTES
from tests.loopback import FLOOD_CAP, Handler, Served, serve


@dataclass
class OpenAIState:
    """What the fake server offers and how it misbehaves."""

    models: list[str] = field(default_factory=lambda: ["qwen2.5-7b-instruct", "llama-3.2-3b-instruct"])
    reply: list[str] = field(default_factory=lambda: ["Hi", " there", "!"])
    api_key: str = ""
    """When set, requests must carry "Bearer <api_key>"."""
    fault: str = ""
    """"" or kill, stall, http500, bad_json, no_usage_support, redirect, forbidden, bad_utf8, echo_key (a 400 that quotes the
    request's Authorization header back, as careless proxies do), silent (reads the request, then says
    nothing for stall_s), endless_error / huge_error (a 500 whose error text never ends / is HUGE_BYTES),
    endless_event (mid-answer, an event that never ends)."""
    models_fault: str = ""
    """How /v1/models fails: "" (none), long_name (one model named with HUGE_BYTES // 2 letters),
    endless_error (a 500 that never ends)."""
    fault_after: int = 1
    stall_s: float = 3.0
    redirect_to: str = ""
    """Where the fault "redirect" sends chat requests (a 307)."""
    usage: bool = True
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Calls ({"name", "arguments"}) the model makes when offered tools, until a tool's result comes back;
    streamed as fragments, the arguments' JSON split in two."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every chat completions request body, for tests to inspect."""
    thoughts: list[str] = field(default_factory=list)
    """Reasoning streamed before the reply, each piece in the delta field `reasoning_field`."""
    reasoning_field: str = "reasoning_content"
    """"reasoning_content" (vLLM, llama-server) or "reasoning" (Ollama's /v1)."""
    honours_think_off: bool = True
    """Whether chat_template_kwargs {"enable_thinking": false} stops the thoughts."""
    refuses: tuple[str, ...] = ()
    """Request fields answered with a 400 naming them, as strict servers do."""
    reasoning_tokens: int | None = None
    """usage.completion_tokens_details.reasoning_tokens, when the server counts them."""


class OpenAIHandler(Handler):
    def route(self) -> None:
        state: OpenAIState = self.state
        if state.api_key and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self.send_json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return
        path = self.path.split("?")[0]
        if path == "/v1/models" and state.models_fault == "long_name":
            head = b'{"object": "list", "data": [{"object": "model", "created": 0, "owned_by": "x", "id": "'
            self.send_flood(200, "application/json", head=head, total=HUGE_BYTES // 2, tail=b'"}]}')
        elif path == "/v1/models" and state.models_fault == "endless_error":
            self.send_flood(500, "application/json", head=b'{"error": {"message": "')
        elif path == "/v1/models":
            self.send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": name,
                            "object": "model",
                            "created": 0,
                            "owned_by": "organization_owner",
                            "max_model_len": 32768,
                        }
                        for name in state.models
                    ],
                },
            )
        elif path == "/v1/chat/completions":
            self.completions(state, self.body)
        else:
            self.send_json(404, {"error": {"message": "Not found"}})

    def completions(self, state: OpenAIState, body: dict[str, Any]) -> None:
        if state.fault == "silent":
            self.stall(state.stall_s)
            return
        if state.fault in ("endless_error", "huge_error"):
            huge = state.fault == "huge_error"
            head = b'{"error": {"message": "'
            self.send_flood(
                500,
                "application/json",
                head=head,
                total=HUGE_BYTES if huge else FLOOD_CAP,
                tail=b'"}}' if huge else None,
            )
            return
        if state.fault == "http500":
            self.send_json(500, {"error": {"message": "model crashed while loading"}})
            return
        if state.fault == "redirect":
            self.send_empty(307, {"Location": state.redirect_to + self.path})
            return
        if state.fault == "forbidden":
            self.send_json(403, {"error": {"message": "not allowed"}})
            return
        if state.fault == "echo_key":
            self.send_json(400, {"error": {"message": f"bad request with {self.headers.get('Authorization')}"}})
            return
        if state.fault == "no_usage_support" and "stream_options" in body:
            self.send_json(400, {"error": {"message": "Unrecognized request argument: stream_options"}})
            return
        for name in state.refuses:
            if name in body:
                self.send_json(400, {"error": {"message": f"Unrecognized request argument supplied: {name}"}})
                return
        if body["model"] not in state.models:
            self.send_json(404, {"error": {"message": f"The model `{body['model']}` does not exist"}})
            return
        self.start_chunked("text/event-stream")

        def event(payload: Any) -> None:
            self.chunk(f"data: {json.dumps(payload)}\n\n")

        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        event(base | {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        state.requests.append(body)
        messages = body.get("messages") or []
        if body.get("tools") and state.tool_calls and (not messages or messages[-1].get("role") != "tool"):
            self.tool_call_events(state, event, base)
            return
        reply = state.reply
        if messages and messages[-1].get("role") == "tool":  # The answer uses what the tool said.
            reply = ["The tool", " said: " + messages[-1].get("content", "")]
        think_off = body.get("chat_template_kwargs", {}).get("enable_thinking") is False
        for thought in [] if think_off and state.honours_think_off else state.thoughts:
            event(base | {"choices": [{"index": 0, "delta": {state.reasoning_field: thought}, "finish_reason": None}]})
        for index, piece in enumerate(reply):
            if state.fault and index == state.fault_after:
                if state.fault == "kill":
                    self.die()
                    return
                if state.fault == "stall":
                    self.stall(state.stall_s)
                    return
                if state.fault == "endless_event":
                    self.flood(head=b"data: ")
                    return
                if state.fault == "bad_json":
                    self.chunk("data: <html>bad gateway</html>\n\n")
                    self.end_chunked()
                    return
                if state.fault == "bad_utf8":  # a stray byte, then a character split across chunks
                    delta = {"choices": [{"index": 0, "delta": {"content": "caf\u00e9 \u20ac"}, "finish_reason": None}]}
                    raw = f"data: {json.dumps(base | delta, ensure_ascii=False)}\n\n".encode()
                    raw = raw.replace(b"caf", b"\xffcaf", 1)
                    split = raw.index("\u20ac".encode()) + 1
                    self.chunk(raw[:split])
                    self.chunk(raw[split:])
            event(base | {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        event(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if body.get("stream_options", {}).get("include_usage"):
            completion = len(reply) + len(state.thoughts)
            usage: dict[str, Any] = {
                "prompt_tokens": 12,
                "completion_tokens": completion,
                "total_tokens": 12 + completion,
            }
            if state.reasoning_tokens is not None:
                usage["completion_tokens_details"] = {"reasoning_tokens": state.reasoning_tokens}
            event(base | {"choices": [], "usage": usage})
        self.chunk("data: [DONE]\n\n")
        self.end_chunked()

    def tool_call_events(self, state: OpenAIState, event: Any, base: dict[str, Any]) -> None:
        """The calls as a real server streams them: id and name first, then the arguments in pieces."""

        def delta(calls: list[dict[str, Any]], finish: str | None = None) -> None:
            event(
                base
                | {"choices": [{"index": 0, "delta": {"tool_calls": calls} if calls else {}, "finish_reason": finish}]}
            )

        for index, call in enumerate(state.tool_calls):
            arguments = json.dumps(call["arguments"])
            delta(
                [
                    {
                        "index": index,
                        "id": f"call_{index}abc",
                        "type": "function",
                        "function": {"name": call["name"], "arguments": ""},
                    }
                ]
            )
            half = len(arguments) // 2
            delta([{"index": index, "function": {"arguments": arguments[:half]}}])
            delta([{"index": index, "function": {"arguments": arguments[half:]}}])
        delta([], "tool_calls")
        self.chunk("data: [DONE]\n\n")
        self.end_chunked()


def start_openai(state: OpenAIState | None = None) -> Served:
    return serve(OpenAIHandler, state or OpenAIState())
