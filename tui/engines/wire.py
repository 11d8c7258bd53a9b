"""Turns as each protocol carries them: text files inlined, images, reasoning and tool calls
placed where Ollama, OpenAI-compatible servers and GGUF chat templates expect them."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from tui.domain import ChatTurn, Role, turn_images, turn_text


def ollama_messages(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """Ollama's `/api/chat` messages: images as bare base64, tool arguments as objects."""
    messages = []
    for turn in turns:
        message: dict[str, Any] = {"role": str(turn.role), "content": turn_text(turn)}
        images = turn_images(turn)
        if images:
            message["images"] = [base64.b64encode(image.data).decode("ascii") for image in images]
        if turn.reasoning:
            message["thinking"] = turn.reasoning
        if turn.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": call.name, "arguments": call.arguments}} for call in turn.tool_calls
            ]
        if turn.role is Role.TOOL:
            message["tool_name"] = turn.tool_name
        messages.append(message)
    return messages


def openai_messages(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """OpenAI chat messages: images as data-URL parts, tool arguments as JSON strings."""
    messages = []
    for turn in turns:
        images = turn_images(turn)
        content: Any = turn_text(turn)
        if images:
            content = [
                {"type": "text", "text": content},
                *({"type": "image_url", "image_url": {"url": data_url(image.mime, image.data)}} for image in images),
            ]
        message: dict[str, Any] = {"role": str(turn.role), "content": content}
        if turn.reasoning:  # vLLM, llama-server and DeepSeek-style servers take it back.
            message["reasoning_content"] = turn.reasoning
        if turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in turn.tool_calls
            ]
        if turn.role is Role.TOOL:
            message["tool_call_id"] = turn.tool_call_id
        messages.append(message)
    return messages


def template_messages(turns: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    """Messages for a GGUF's own chat template (Jinja): the Hugging Face conventions, with
    reasoning as `reasoning_content` and tool arguments as objects."""
    messages = []
    for turn in turns:
        message: dict[str, Any] = {"role": str(turn.role), "content": turn_text(turn)}
        if turn.reasoning:
            message["reasoning_content"] = turn.reasoning
        if turn.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in turn.tool_calls
            ]
        if turn.role is Role.TOOL:
            message["tool_call_id"] = turn.tool_call_id
            message["name"] = turn.tool_name
        messages.append(message)
    return messages


def without_tool_roles(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`template_messages` for a chat template that never mentions tools: each call written into
    its assistant turn, each result a user turn, and turns of one role in a row joined, so that a
    template insisting on user/assistant alternation (Gemma's, Mistral's) still renders a
    conversation whose tool calls another model made. Without tool turns, `messages` as they are."""
    if not any(message.get("tool_calls") or message["role"] == "tool" for message in messages):
        return messages
    folded: list[dict[str, Any]] = []
    for message in messages:
        content = str(message.get("content") or "")
        if message.get("tool_calls"):
            calls = "\n".join(
                f"[called {call['function']['name']}({json.dumps(call['function']['arguments'], ensure_ascii=False)})]"
                for call in message["tool_calls"]
            )
            message = {"role": message["role"], "content": f"{content}\n{calls}" if content else calls}
        elif message["role"] == "tool":
            message = {"role": "user", "content": f"[{message.get('name') or 'the tool'} answered]\n{content}"}
        if folded and folded[-1]["role"] == message["role"] != "system":
            folded[-1] = {**folded[-1], "content": f"{folded[-1]['content']}\n\n{message['content']}"}
        else:
            folded.append(message)
    return folded


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
