"""The tools the servers offer, named for the model and priced in prompt tokens (pure Python)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tui.domain import ToolSpec

CHARS_PER_TOKEN = 4
"""The estimate where no tokenizer is at hand: JSON tool specs run close to four characters a token."""


@dataclass(frozen=True)
class ToolInfo:
    """One tool of one server, as offered to the model."""

    server: str
    name: str
    """The tool's own name on its server."""
    description: str
    parameters: dict[str, Any]
    model_name: str = ""
    """The name the model sees: the tool's own, or server_tool where two servers share it."""
    tokens: int = 0
    """Estimated prompt tokens the tool's spec costs."""

    @property
    def qualified(self) -> str:
        """server.tool: how config and the user name it."""
        return f"{self.server}.{self.name}"

    def spec(self) -> ToolSpec:
        return ToolSpec(self.model_name or self.name, self.description, self.parameters)


def spec_tokens(spec: ToolSpec, count: Callable[[str], int] | None = None) -> int:
    """Prompt tokens a tool's spec costs: the engine's tokenizer where given, else chars/4."""
    text = json.dumps(spec.as_openai(), ensure_ascii=False)
    return count(text) if count is not None else max(1, round(len(text) / CHARS_PER_TOKEN))


def named(tools: Iterable[ToolInfo], count: Callable[[str], int] | None = None) -> list[ToolInfo]:
    """`tools` with the names the model sees (unique across servers) and their token cost.

    A name two servers share becomes server_tool; should that still collide (a server offering a
    tool literally named "web_read"), a number is added, so a call never names two tools."""
    tools = list(tools)
    seen = Counter(tool.name for tool in tools)
    taken: set[str] = set()
    result = []
    for tool in tools:
        model_name = base = tool.name if seen[tool.name] == 1 else f"{tool.server}_{tool.name}"
        number = 1
        while model_name in taken:
            number += 1
            model_name = f"{base}_{number}"
        taken.add(model_name)
        with_name = replace(tool, model_name=model_name)
        result.append(replace(with_name, tokens=spec_tokens(with_name.spec(), count)))
    return result


def by_model_name(tools: Sequence[ToolInfo], name: str) -> ToolInfo | None:
    """The tool a model's call names, if it is one of `tools`."""
    return next((tool for tool in tools if tool.model_name == name), None)


def selected(tools: Sequence[ToolInfo], chosen: Sequence[str] | None) -> list[ToolInfo]:
    """The tools a conversation has on: None is all; else entries naming servers or server.tool."""
    if chosen is None:
        return list(tools)
    wanted = set(chosen)
    return [tool for tool in tools if tool.server in wanted or tool.qualified in wanted]


def total_tokens(tools: Iterable[ToolInfo]) -> int:
    return sum(tool.tokens for tool in tools)
