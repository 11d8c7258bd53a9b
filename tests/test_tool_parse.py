"""Tool calls in model outputs (embedded engine), each family's format, whole and streamed.

The outputs are written the way each family's chat template and model card show its calls (with the
special-token markers decoded as text), not recorded from running those models here: only the
135M starter model runs in the tests, and it does not call tools reliably.
"""

from __future__ import annotations

import pytest

from tui.domain import ToolCall
from tui.engines.tool_parse import ToolCallScanner, parse_tool_calls

WEATHER = {"city": "Paris"}

CASES = [
    (
        "qwen2.5",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "qwen2.5 two calls, text first",
        (
            'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
        ),
        "Let me check.",
        [ToolCall("call_0", "get_weather", WEATHER), ToolCall("call_1", "add", {"a": 1, "b": 2})],
    ),
    (
        "qwen3 after thinking",
        (
            "<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n"
            '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        ),
        "<think>\nThe user wants the weather.\n</think>",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "hermes 2 pro, arguments first",
        ('<tool_call>\n{"arguments": {"symbol": "TSLA"}, "name": "get_stock_fundamentals"}\n</tool_call>'),
        "",
        [ToolCall("call_0", "get_stock_fundamentals", {"symbol": "TSLA"})],
    ),
    (
        "qwen unclosed at the stop token",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "llama 3.1 json",
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "llama 3.2 typed json",
        '{"type": "function", "name": "get_weather", "parameters": {"city": "Paris"}}',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "llama python_tag json",
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "mistral v3 list",
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}]',
        "",
        [ToolCall("a1B2c3D4e", "get_weather", WEATHER)],
    ),
    (
        "mistral v3 list of two",
        (
            '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, '
            '{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}]'
        ),
        "",
        [ToolCall("call_0", "get_weather", WEATHER), ToolCall("call_1", "add", {"a": 1, "b": 2})],
    ),
    (
        "mistral v11 name[ARGS]",
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',
        "",
        [ToolCall("call_0", "get_weather", WEATHER)],
    ),
    (
        "mistral v11 two calls with ids",
        ('[TOOL_CALLS]get_weather[CALL_ID]k9Lm2Np4q[ARGS]{"city": "Paris"}[TOOL_CALLS]add[ARGS]{"a": 1, "b": 2}'),
        "",
        [ToolCall("k9Lm2Np4q", "get_weather", WEATHER), ToolCall("call_1", "add", {"a": 1, "b": 2})],
    ),
]

NOT_CALLS = [
    "The weather in Paris is sunny.",
    '{"answer": 42} is the JSON you asked for',
    '<|python_tag|>brave_search.call(query="weather Paris")',
    "Use <tool_call> tags to call tools.",
    "[TOOL_CALLS] nothing useful",
]


@pytest.mark.parametrize(("label", "output", "text", "calls"), CASES, ids=[case[0] for case in CASES])
def test_each_format_parses(label: str, output: str, text: str, calls: list[ToolCall]) -> None:
    parsed = parse_tool_calls(output)
    assert parsed.calls == calls
    assert parsed.text == text


@pytest.mark.parametrize("output", NOT_CALLS)
def test_text_that_is_no_call_stays_text(output: str) -> None:
    assert parse_tool_calls(output).calls == []
    assert parse_tool_calls(output).text == output


@pytest.mark.parametrize(("label", "output", "text", "calls"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("size", [1, 3, 7])
def test_streamed_in_pieces_no_call_shows_as_text(
    label: str, output: str, text: str, calls: list[ToolCall], size: int
) -> None:
    scanner = ToolCallScanner()
    shown = "".join(scanner.feed(output[start : start + size]) for start in range(0, len(output), size))
    end = scanner.finish()
    assert end.calls == calls
    assert "{" not in shown and "[TOOL_CALLS]" not in shown and "<tool_call>" not in shown
    assert (shown + end.text).strip() == text


@pytest.mark.parametrize("output", NOT_CALLS)
def test_streamed_text_without_calls_all_comes_out(output: str) -> None:
    scanner = ToolCallScanner()
    shown = "".join(scanner.feed(output[start : start + 2]) for start in range(0, len(output), 2))
    end = scanner.finish()
    assert end.calls == []
    assert shown + end.text == output
