"""The compute buffers llama.cpp logged at each load, kept per model and context: the next fit
estimate of the same load uses them instead of a rule of thumb (tui.fit.offload).

A small JSON file in the data dir, written atomically; a file that cannot be read is an empty
cache, never an error (it only sharpens an estimate).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tui.fit.estimate import MIB
from tui.guard.bounded_files import Unreadable, read_regular_file

MAX_BYTES = 1 << 20
MAX_ENTRIES = 200
"""The newest loads kept; the oldest go first."""


def load_key(path: str, n_ctx: int, k_type: str, v_type: str, flash_attention: bool | str) -> str:
    """What makes two loads' compute buffers alike: the file, the context, the cache and attention."""
    return f"{path}|{n_ctx}|{k_type}|{v_type}|{flash_attention}"


def compute_of(buffers: dict[str, dict[str, float]]) -> int | None:
    """The compute buffer of a logged load (`buffers`: MiB per device, "compute_mib"...): the largest
    on a GPU, else the CPU's; None when none was logged."""
    on_gpu = [kinds.get("compute_mib") or 0.0 for name, kinds in buffers.items() if name != "CPU"]
    best = max(on_gpu, default=0.0) or buffers.get("CPU", {}).get("compute_mib") or 0.0
    return int(best * MIB) if best else None


class Calibration:
    """The logged compute buffer of each load, by load_key; `path` None keeps nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None

    def compute_bytes(self, key: str) -> int | None:
        """The compute buffer logged at the last load like this one, if any."""
        entry = self._read().get(key)
        return int(entry["compute_bytes"]) if isinstance(entry, dict) and "compute_bytes" in entry else None

    def remember(self, key: str, buffers: dict[str, dict[str, float]]) -> None:
        """Keep a load's logged buffers (blocking: the engine calls it from a thread)."""
        compute = compute_of(buffers)
        if self.path is None or compute is None:
            return
        entries = self._read()
        entries.pop(key, None)
        entries[key] = {"compute_bytes": compute, "buffers": buffers}
        while len(entries) > MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        self._write(entries)

    def _read(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None and self.path.exists():
                try:
                    found = json.loads(read_regular_file(self.path, MAX_BYTES, what="calibration file"))
                    self._entries = found if isinstance(found, dict) else {}
                except (Unreadable, ValueError):
                    pass
        return self._entries

    def _write(self, entries: dict[str, Any]) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".gpu-fit-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entries, out)
            os.replace(temp, self.path)
        except OSError:
            pass  # An estimate left uncalibrated: not worth an error.
