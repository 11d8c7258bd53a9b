"""Who may let a tool call run: the config's allow list, the user once, or the user for the
whole conversation. Nothing else runs a tool (pure Python)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tui.guard.safe_text import one_line
from tui.tools.catalog import ToolInfo


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


class NotATool(ValueError):
    """An allow entry that names no single tool; str() is one line saying why."""


def allow_target(entry: str, servers: Collection[str]) -> tuple[str, str]:
    """The (server, tool) an allow entry names, read against the *configured* servers' names only.

    What the servers offer never changes the reading: a running server offering a tool literally
    named "weather.get_weather" cannot take an entry meant for server weather (which may have failed).
    Raises NotATool for a bare name, an unknown server, or a name two servers could both claim.
    """
    owners = sorted(server for server in servers if entry.startswith(f"{server}.") and len(entry) > len(server) + 1)
    if len(owners) > 1:
        raise NotATool(f"allow entry {_quoted(entry)} could name a tool of {', '.join(owners)}: rename a server")
    if not owners:
        if "." not in entry or entry.endswith("."):
            raise NotATool(f"allow entry {_quoted(entry)} is not server.tool")
        raise NotATool(f"allow entry {_quoted(entry)} names no configured server")
    return owners[0], entry[len(owners[0]) + 1 :]


@dataclass
class ApprovalPolicy:
    """The allow list and what the user allowed for whole conversations."""

    allow: Sequence[str] = ()
    """Entries of [mcp] allow (and --allow-tool): "server.tool", one configured server's one tool."""
    servers: Collection[str] = ()
    """The configured servers' names, which entries are read against."""
    _always: dict[int, set[tuple[str, str]]] = field(default_factory=dict)

    def pre_approved(self, tool: ToolInfo) -> Approval | None:
        """How `tool` is already allowed to run in a conversation, or None: ask."""
        return Approval.CONFIG if (tool.server, tool.name) in self._targets() else None

    def approved_in(self, conversation_id: int, tool: ToolInfo) -> Approval | None:
        if (tool.server, tool.name) in self._always.get(conversation_id, set()):
            return Approval.CONVERSATION
        return self.pre_approved(tool)

    def remember(self, conversation_id: int, tool: ToolInfo) -> None:
        """The user said "always for this tool in this conversation"."""
        self._always.setdefault(conversation_id, set()).add((tool.server, tool.name))

    def allow_problems(self, tools: Sequence[ToolInfo], *, tried: Collection[str] | None = None) -> list[str]:
        """A line for each allow entry that allows nothing. Entries of servers not in `tried` (not
        started yet) are left out; None: every server was tried."""
        offered = {(tool.server, tool.name) for tool in tools}
        problems = []
        for entry in self.allow:
            try:
                server, name = allow_target(entry, self.servers)
            except NotATool as why:
                owners = [tool.qualified for tool in tools if tool.name == entry]
                hint = f" (write {' or '.join(owners)})" if owners else ""
                problems.append(f"{why}{hint}; it allows nothing")
                continue
            if tried is not None and server not in tried or (server, name) in offered:
                continue
            if any(tool.server == server for tool in tools):
                problems.append(
                    f"allow entry {_quoted(entry)}: server {server} has no tool {_quoted(name)}; it allows nothing"
                )
            else:
                problems.append(f"allow entry {_quoted(entry)}: server {server} is not running; it allows nothing")
        return problems

    def _targets(self) -> set[tuple[str, str]]:
        targets = set()
        for entry in self.allow:
            try:
                targets.add(allow_target(entry, self.servers))
            except NotATool:
                pass  # Reported by allow_problems; allows nothing.
        return targets


def _quoted(entry: str) -> str:
    """An entry as the user typed it, shortened and made safe: entries come from the command line."""
    return f"'{one_line(entry, 80)}'"
