"""Optional abilities some backends have beyond the engine contract: details, pull, delete, unload.

The UI asks with `isinstance(engine, Pulls)` and the like; a backend without an ability simply
does not offer it. Failures raise EngineError subclasses, as everywhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Details = list[tuple[str, str]]
"""What is known of a model, as (label, value) rows in display order."""


@dataclass(frozen=True)
class Progress:
    """One step of a download: what is happening and, while bytes move, how many of how many."""

    status: str
    completed: int | None = None
    total: int | None = None


@runtime_checkable
class Describes(Protocol):
    async def details(self, model: str) -> Details: ...


@runtime_checkable
class Pulls(Protocol):
    def pull(self, model: str) -> AsyncIterator[Progress]:
        """Download `model`; cancel by cancelling the consumer."""
        ...


@runtime_checkable
class Deletes(Protocol):
    async def delete(self, model: str) -> None: ...


@runtime_checkable
class Unloads(Protocol):
    async def unload(self, model: str) -> None: ...
