"""Putting the readers together: one call, one `StatsSample`, whatever hardware is there."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from tui.stats.sample import CpuReading, Partial, StatsSample

logger = logging.getLogger(__name__)


class Reader(Protocol):
    """A source of readings; it never raises for missing hardware, it says so in its `Partial`."""

    def read(self) -> Partial: ...

    def close(self) -> None: ...


class Sampler:
    """Asks each GPU reader and the CPU reader, then merges what they found."""

    def __init__(
        self,
        gpu_readers: Sequence[Reader],
        cpu_reader: Reader | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.gpu_readers = list(gpu_readers)
        self.cpu_reader = cpu_reader
        self._clock = clock
        self._wall = wall

    def sample(self, *, generating: bool = False) -> StatsSample:
        gpu_parts = [_safe_read(reader) for reader in self.gpu_readers]
        cpu_part = _safe_read(self.cpu_reader) if self.cpu_reader else Partial()
        gpus = [gpu for part in gpu_parts for gpu in part.gpus]
        gpus = [dataclasses.replace(gpu, index=index) for index, gpu in enumerate(gpus)]
        missing = [line for part in gpu_parts for line in part.problems]
        if not gpus:  # "no NVIDIA driver" is news only when no other GPU was found
            missing += [line for part in gpu_parts for line in part.absent]
        missing += [*cpu_part.problems, *cpu_part.absent]
        return StatsSample(
            time=self._clock(),
            wall=self._wall(),
            gpus=tuple(gpus),
            cpu=cpu_part.cpu or CpuReading(),
            missing=tuple(missing),
            generating=generating,
        )

    def close(self) -> None:
        for reader in [*self.gpu_readers, self.cpu_reader]:
            if reader is not None:
                try:
                    reader.close()
                except Exception:  # noqa: BLE001 - closing must not fail the caller
                    logger.debug("closing %r failed", reader, exc_info=True)


def _safe_read(reader: Reader) -> Partial:
    """A reader's bug becomes one line in the pane, never a crash of the sampling thread."""
    try:
        return reader.read()
    except Exception as error:  # noqa: BLE001
        logger.exception("stats reader %r failed", reader)
        return Partial(problems=(f"{type(reader).__name__} failed: {error}",))
