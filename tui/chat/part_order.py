"""A message's text and parts in the order they arrived: the one order the chat view, `lchat show`
and the export all use. Each part records how much of the text came before it (`offset`); parts
come in their stored order (`seq`), which is the order of events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tui.domain import MessagePart, PartKind

P = TypeVar("P")


def in_order(content: str, parts: Sequence[P], offset: Callable[[P], int]) -> list[str | P]:
    """`content` cut where each of `parts` (given in event order) arrived, the parts in between:
    text pieces are never empty. An offset past the text, or behind an earlier one, is clamped."""
    found: list[str | P] = []
    shown = 0
    for part in parts:
        at = min(max(offset(part), shown), len(content))
        if at > shown:
            found.append(content[shown:at])
            shown = at
        found.append(part)
    if shown < len(content):
        found.append(content[shown:])
    return found


Group = tuple[str, str | MessagePart | list[MessagePart]]
"""("text", the text) or ("reasoning", the part) or ("tools", the calls and results, in order)."""


def answer_groups(content: str, parts: Sequence[MessagePart]) -> list[Group]:
    """An answer as the blocks it is shown in: text, each reasoning part, and each run of tool
    calls and results that nothing came between, in event order (attachments are not here)."""
    shown = [part for part in parts if part.kind is not PartKind.ATTACHMENT]
    groups: list[Group] = []
    for item in in_order(content, shown, lambda part: part.offset):
        if isinstance(item, str):
            groups.append(("text", item))
        elif item.kind is PartKind.REASONING:
            groups.append(("reasoning", item))
        elif groups and groups[-1][0] == "tools":
            tools = groups[-1][1]
            assert isinstance(tools, list)
            tools.append(item)
        else:
            groups.append(("tools", [item]))
    return groups
