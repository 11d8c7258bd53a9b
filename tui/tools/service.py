"""Tools as the chat service and the UI see them: the servers, the policy, and each conversation's choice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tui.config import McpConfig
from tui.domain import Conversation
from tui.tools.approval import ApprovalPolicy, Approver
from tui.tools.catalog import ToolInfo, selected
from tui.tools.loop import ToolRunner
from tui.tools.servers import ToolServers

TOOLS_PARAM = "tools"
"""The conversation param listing the servers (or server.tool) it has on; absent: tools off."""


class ToolService:
    """The configured MCP servers, started at first use, and who may run their tools."""

    def __init__(self, config: McpConfig, *, log_dir: Path | None = None, allow: Sequence[str] = ()) -> None:
        self.config = config
        self.servers = ToolServers(config, log_dir=log_dir)
        self.policy = ApprovalPolicy(allow=[*config.allow, *allow], servers=list(config.servers))
        self._told: set[str] = set()
        """The allow-list lines already shown: each is said once per process."""
        self.problems: dict[str, str] = {}
        """Each server that failed, with its line, as of the last listing."""
        self.listed: list[ToolInfo] | None = None
        """Every tool as of the last listing; None before the servers were first started."""

    @property
    def configured(self) -> bool:
        return bool(self.config.servers)

    async def available(self) -> list[ToolInfo]:
        """Every server's tools (starting the servers); failures land in `problems`."""
        tools, self.problems = await self.servers.list_tools()
        self.listed = tools
        return tools

    def summary(self, conversation: Conversation | None) -> str:
        """For the chat header: how many tools the conversation has on and their prompt cost; "" when off."""
        chosen = self.chosen(conversation) if conversation else None
        if chosen is None:
            return ""
        if self.listed is None:
            return "tools on"
        tools = selected(self.listed, chosen)
        return f"{len(tools)} tool{'' if len(tools) == 1 else 's'} · ~{sum(tool.tokens for tool in tools)} tok"

    @staticmethod
    def chosen(conversation: Conversation) -> list[str] | None:
        """What a conversation has on: server names or server.tool entries; None when tools are off."""
        tools = conversation.settings.tools
        return list(tools) if tools is not None else None

    async def for_conversation(self, conversation: Conversation) -> list[ToolInfo]:
        """The tools the conversation has on (servers started as needed); [] when tools are off."""
        chosen = self.chosen(conversation)
        if chosen is None or not self.configured:
            return []
        servers = {entry if entry in self.config.servers else entry.split(".", 1)[0] for entry in chosen}
        tools, self.problems = await self.servers.list_tools(sorted(servers))  # Only the servers it uses start.
        known = {tool.qualified: tool for tool in self.listed or []}
        self.listed = list((known | {tool.qualified: tool for tool in tools}).values())
        return selected(tools, chosen)

    def allow_notices(self) -> list[str]:
        """Allow entries that allow nothing, as far as the servers started so far tell; each line once."""
        tried = [name for name, server in self.servers.servers.items() if server.settled]
        lines = [line for line in self.policy.allow_problems(self.listed or [], tried=tried) if line not in self._told]
        self._told.update(lines)
        return lines

    def runner(self, conversation_id: int, tools: Sequence[ToolInfo], approver: Approver) -> ToolRunner:
        return ToolRunner(
            conversation_id=conversation_id,
            tools=list(tools),
            call=self.servers.call,
            policy=self.policy,
            approver=approver,
            max_rounds=self.config.max_rounds,
            max_bytes=self.config.result_max_kb * 1024,
        )

    async def aclose(self) -> None:
        await self.servers.aclose()
