"""Who may let a tool call run: the config's allow list, the user once, or the user for the
whole conversation. Nothing else runs a tool (pure Python)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tui.tools.catalog import ToolInfo, resolve


class Decision(StrEnum):
    """The user's answer to "run this call?"."""

    ONCE = "once"
    ALWAYS = "always"
    """Run it, and every later call of this tool in this conversation."""
    REFUSE = "refuse"


class Approval(StrEnum):
    """Who let a call run, or that nobody did; stored with the call."""

    CONFIG = "config"
    """Listed in [mcp] allow (or --allow-tool)."""
    USER = "user"
    CONVERSATION = "conversation"
    """The user said "always" for this tool earlier in the conversation."""
    REFUSED = "refused"


@dataclass(frozen=True)
class ApprovalRequest:
    """What the user is asked about: the tool, its server and the arguments the model gave."""

    conversation_id: int
    tool: ToolInfo
    arguments: dict[str, Any]


Approver = Callable[[ApprovalRequest], Awaitable[Decision]]
"""Asks the user (a modal in the TUI, the terminal for `lchat ask`); never raises for "no"."""


async def refuse_all(request: ApprovalRequest) -> Decision:
    """The approver where nobody can be asked (stdin is a pipe): every call not pre-approved is refused."""
    return Decision.REFUSE


@dataclass
class ApprovalPolicy:
    """The allow list and what the user allowed for whole conversations."""

    allow: Sequence[str] = ()
    """Entries of [mcp] allow: "server.tool", or a tool name exactly one server has."""
    _always: dict[int, set[str]] = field(default_factory=dict)

    def pre_approved(self, tool: ToolInfo, tools: Sequence[ToolInfo]) -> Approval | None:
        """How `tool` is already allowed to run in a conversation, or None: ask."""
        for entry in self.allow:
            if resolve(tools, entry) == [tool]:  # A bare name two servers share allows neither.
                return Approval.CONFIG
        return None

    def approved_in(self, conversation_id: int, tool: ToolInfo, tools: Sequence[ToolInfo]) -> Approval | None:
        if tool.qualified in self._always.get(conversation_id, set()):
            return Approval.CONVERSATION
        return self.pre_approved(tool, tools)

    def remember(self, conversation_id: int, tool: ToolInfo) -> None:
        """The user said "always for this tool in this conversation"."""
        self._always.setdefault(conversation_id, set()).add(tool.qualified)

    def allow_problems(self, tools: Sequence[ToolInfo]) -> list[str]:
        """Allow entries that name no tool, or a bare name several servers have (one line each)."""
        problems = []
        for entry in self.allow:
            found = resolve(tools, entry)
            if len(found) > 1:
                servers = ", ".join(tool.server for tool in found)
                problems.append(
                    f"allow entry {entry!r} names a tool of several servers ({servers}): "
                    f"write server.tool; it allows nothing"
                )
            elif not found:
                problems.append(f"allow entry {entry!r} names no tool of a running server")
        return problems
