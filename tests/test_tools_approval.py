"""The approval policy: the allow list, bare names, "always" per conversation."""

from __future__ import annotations

from tui.tools.approval import Approval, ApprovalPolicy
from tui.tools.catalog import ToolInfo, named, resolve, selected, spec_tokens


def _tools() -> list[ToolInfo]:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    return named(
        [
            ToolInfo("weather", "forecast", "Forecast.", schema),
            ToolInfo("files", "read", "Read a file.", schema),
            ToolInfo("web", "read", "Read a page.", schema),
        ]
    )


def test_qualified_and_unique_bare_names_are_pre_approved() -> None:
    tools = _tools()
    forecast, files_read, web_read = tools
    policy = ApprovalPolicy(allow=["forecast", "files.read"])
    assert policy.pre_approved(forecast, tools) is Approval.CONFIG
    assert policy.pre_approved(files_read, tools) is Approval.CONFIG
    assert policy.pre_approved(web_read, tools) is None


def test_a_bare_name_two_servers_share_allows_neither_and_says_so() -> None:
    tools = _tools()
    policy = ApprovalPolicy(allow=["read", "nosuch"])
    assert all(policy.pre_approved(tool, tools) is None for tool in tools)
    problems = policy.allow_problems(tools)
    assert "several servers (files, web)" in problems[0]
    assert "'nosuch' names no tool" in problems[1]


def test_always_holds_for_its_conversation_and_tool_only() -> None:
    tools = _tools()
    forecast, files_read, _ = tools
    policy = ApprovalPolicy()
    assert policy.approved_in(1, forecast, tools) is None
    policy.remember(1, forecast)
    assert policy.approved_in(1, forecast, tools) is Approval.CONVERSATION
    assert policy.approved_in(2, forecast, tools) is None
    assert policy.approved_in(1, files_read, tools) is None


def test_model_names_are_unique_and_priced() -> None:
    tools = _tools()
    assert [tool.model_name for tool in tools] == ["forecast", "files_read", "web_read"]
    assert all(tool.tokens == spec_tokens(tool.spec()) > 10 for tool in tools)
    assert spec_tokens(tools[0].spec(), lambda text: len(text.split())) != tools[0].tokens
    assert [tool.qualified for tool in resolve(tools, "read")] == ["files.read", "web.read"]
    assert [tool.qualified for tool in selected(tools, ["web", "weather.forecast"])] == ["weather.forecast", "web.read"]
    assert selected(tools, None) == tools
