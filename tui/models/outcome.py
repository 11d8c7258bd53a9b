"""What managing models reports: a transfer's progress, and an operation's outcome as text for
people, written once here for the models pane and for `lchat pull`/`rm` alike."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import ClassVar, Literal

from tui.engines.base import EngineError
from tui.engines.manage import Progress
from tui.models.transfer import TransferMeter

Severity = Literal["information", "warning", "error"]


class ManageError(Exception):
    """An operation that did not happen; `message` is the sentence to show as it is."""

    severity: ClassVar[Severity] = "error"

    def __init__(self, message: str, *, reason: str | None = None, lasting: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.reason = message if reason is None else reason
        """The bare cause, for a `lchat: <reason>` line on a terminal."""
        self.lasting = lasting
        """Worth time to read (a server's or the file system's words), so shown longer."""


class Refused(ManageError):
    """Not possible here (no such ability, not lchat's file): nothing was tried."""

    severity = "warning"

    def __init__(self, message: str, *, reason: str | None = None, lasting: bool = False) -> None:
        super().__init__(message, reason=reason, lasting=lasting)


class Failed(ManageError):
    """Tried, and the backend, the hub or the file system said no."""


@dataclass(frozen=True)
class Done:
    """An operation that happened, and the sentence that says so."""

    message: str


@dataclass(frozen=True)
class TransferProgress:
    """One step of a transfer: the backend's status, bytes so far of how many, and the rate."""

    status: str
    completed: int | None
    total: int | None
    rate: str
    """ "1.2 GB / 4.1 GB · 35.0 MB/s · 1:23 left", or "" before any bytes moved."""

    @property
    def fraction(self) -> float | None:
        """How much is done, 0 to 1; None while the size is unknown."""
        if self.completed is None or not self.total:
            return None
        return min(1.0, self.completed / self.total)

    @property
    def detail(self) -> str:
        """The status and the rate as one line."""
        return " · ".join(p for p in (self.status, self.rate) if p)


class Transfer:
    """A pull, download or import ready to run: its title, its steps and what it says at the end."""

    def __init__(self, title: str, steps: AsyncIterator[Progress], done: str) -> None:
        self.title = title
        self.steps = steps
        self.done = Done(done)

    @property
    def cancelled(self) -> str:
        return f"{self.title}: cancelled."

    async def progress(self) -> AsyncGenerator[TransferProgress, None]:
        """Run it; a backend's error comes out as Failed, and a cancel stops the steps too."""
        meter = TransferMeter()
        try:
            async for step in self.steps:
                meter.update(step.completed, step.total)
                yield TransferProgress(step.status, step.completed, step.total, meter.text())
        except EngineError as error:
            raise Failed(f"{self.title} failed: {error}", reason=str(error)) from error
        finally:
            if hasattr(self.steps, "aclose"):
                await self.steps.aclose()
