"""The main screen's tools: asking before each call, choosing a conversation's tools, the header note.

A plain object the screen owns; it reaches the MCP servers only through the services' ToolService.
It never writes the conversation shown: it is handed the conversations controller's `ensure` (a
fresh conversation is saved before it can hold tools) and `changed` (show it with its new tools).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.screen import Screen

from tui.domain import Conversation
from tui.tools.approval import ApprovalRequest, Decision
from tui.ui.screens.tool_approval_screen import ToolApprovalScreen
from tui.ui.screens.tool_select_screen import ToolSelectScreen
from tui.ui.toast import tell

if TYPE_CHECKING:
    from tui.chat.settings import SettingsService
    from tui.models.names import ModelChoice
    from tui.tools.service import ToolService


class ToolsController:
    """Approval modal, tool choice (F10) and header note for one screen."""

    def __init__(
        self,
        screen: Screen,
        tools: ToolService | None,
        settings: SettingsService,
        *,
        ensure: Callable[[ModelChoice | None], Conversation | None],
        changed: Callable[[Conversation], None],
    ) -> None:
        self.screen = screen
        self.tools = tools
        self.settings = settings
        self.ensure = ensure
        self.changed = changed

    @property
    def configured(self) -> bool:
        return self.tools is not None

    async def approve(self, request: ApprovalRequest) -> Decision:
        """Ask the user in a modal; the answer decides whether the call runs."""
        answered: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

        def done(decision: Decision | None) -> None:
            if not answered.done():
                answered.set_result(decision or Decision.REFUSE)

        self.screen.app.push_screen(ToolApprovalScreen(request), callback=done)
        return await answered

    def header_note(self, conversation: Conversation | None) -> str:
        tools = self.tools
        return tools.summary(conversation) if tools is not None else ""

    async def choose_for(self, model: ModelChoice | None) -> None:
        """F10: choose the tools of the conversation shown (a fresh one is saved first)."""
        if not self.configured:
            await self.choose(None)  # It only explains how to add a server.
            return
        conversation = self.ensure(model)
        chosen = await self.choose(conversation) if conversation is not None else None
        if chosen is not None:
            self.changed(chosen)

    async def choose(self, conversation: Conversation | None) -> Conversation | None:
        """Start the servers, show their tools, and keep the user's choice; None when nothing changed."""
        tools = self.tools
        if tools is None or conversation is None:
            tell(
                self.screen,
                "No MCP server is configured: add [mcp.servers.NAME] to the config, or run lchat mcp import FILE.",
                severity="warning",
                timeout=10,
            )
            return None
        tell(self.screen, "Starting the MCP servers…", timeout=2)
        listed = await tools.available()
        for line in tools.allow_notices():
            tell(self.screen, line, severity="warning", timeout=10)
        chosen = tools.chosen(conversation)
        on = (
            {tool.qualified for tool in listed}
            if chosen is None
            else {tool.qualified for tool in listed if tool.server in chosen or tool.qualified in chosen}
        )
        picked = await self.screen.app.push_screen_wait(ToolSelectScreen(listed, on, list(tools.problems.values())))
        if picked is None:
            return None
        return self.settings.set_tools(conversation, picked or None)
