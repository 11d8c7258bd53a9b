"""The embedded engine's GPU offload decisions, in the parent: what each load asks the child for,
what the last loads logged (tui.fit.calibration), and fewer layers after an answer ran out of
GPU memory. Owned by tui.engines.embedded.engine.EmbeddedEngine; nothing here starts a process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tui.domain import ModelInfo
from tui.engines.base import OutOfGpuMemory
from tui.engines.embedded.vision import find_projector
from tui.fit.calibration import Calibration, load_key
from tui.fit.estimate import Memory
from tui.fit.offload import FlashAttention, Offload, cache_types, plan
from tui.guard.safe_text import one_line


class OffloadPlanner:
    """Decides each load's GPU options from the [engine] settings, free VRAM and what earlier loads showed."""

    def __init__(
        self, gpu_layers: int | None, kv_cache_type: str, flash_attention: FlashAttention, calibration: Path | None
    ) -> None:
        self.gpu_layers = gpu_layers
        """Layers on the GPU: None for as many as fit, 0 for none."""
        self.kv_types = cache_types(kv_cache_type, flash_attention)
        self.flash_attention = flash_attention
        self.calibration = Calibration(calibration)
        self.after_oom: dict[str, int] = {}
        """GPU layers each model (by path) may have since an answer of it ran out of GPU memory."""

    def options_for(self, info: ModelInfo, n_ctx: int, vram: Memory | None, flavour: str) -> dict[str, Any]:
        """What the child loads with: layers on the GPU (-1: all), the KV cache's form, flash
        attention and a note (blocking: it reads the calibration file and lists the model's folder)."""
        k_type, v_type = self.kv_types
        options: dict[str, Any] = {
            "gpu_layers": 0,
            "layers": 0,
            "k_type": k_type,
            "v_type": v_type,
            "flash_attn": self.flash_attention,
            "note": "",
        }
        if flavour == "cpu" or self.gpu_layers == 0:
            return options
        decided = self.plan(info, n_ctx, vram, measured=True)
        if decided is None:  # Layers unknown: ask for what was configured, llama.cpp caps it.
            options |= {"gpu_layers": -1 if self.gpu_layers is None else self.gpu_layers}
        else:
            layers = -1 if decided.layers >= decided.total else decided.layers
            options |= {"gpu_layers": layers, "layers": decided.total, "note": decided.note}
        return self._capped_after_oom(info, options)

    def plan(self, info: ModelInfo, n_ctx: int, vram: Memory | None, *, measured: bool) -> Offload | None:
        """The layers this planner's settings put on the GPU (tui.fit.offload.plan); None when the
        model's layers are unknown. `measured`: count the vision projector's file and the compute
        buffer the last such load logged (blocking: it lists the model's folder and reads the
        calibration file), as a load does; else the rule of thumb alone, cheap enough for a list."""
        return plan(
            info,
            n_ctx,
            vram,
            wanted=self.gpu_layers,
            kv_cache_type=self.kv_types[0],
            flash_attention=self.flash_attention,
            projector_bytes=projector_bytes(info) if measured else 0,
            compute_bytes=self.calibration.compute_bytes(self.load_key(info, n_ctx)) if measured else None,
        )

    def load_key(self, info: ModelInfo, n_ctx: int) -> str:
        return load_key(info.path or info.name, n_ctx, *self.kv_types, self.flash_attention)

    def remember(self, info: ModelInfo, n_ctx: int, buffers: dict[str, dict[str, float]]) -> None:
        """Keep a load's logged buffers for the next estimate (blocking: call it from a thread)."""
        self.calibration.remember(self.load_key(info, n_ctx), buffers)

    def out_of_memory(
        self, info: ModelInfo, loaded: dict[str, Any], asked: dict[str, Any], errors: list[str]
    ) -> OutOfGpuMemory:
        """The error for an answer that ran out of GPU memory; half the layers that load had (its
        report `loaded`, else the options `asked`) are kept for the next load of this model."""
        layers = int(loaded.get("gpu_layers") or 0)
        if layers <= 0:  # Not reported (a CPU build under the tests' hook): what was asked.
            wanted = int(asked.get("gpu_layers") or 0)
            layers = int(loaded.get("layers") or 0) if wanted < 0 else wanted
        path = info.path or ""
        self.after_oom[path] = min(layers // 2, self.after_oom.get(path, layers // 2))
        why = one_line(errors[0], 160) if errors else "out of memory"
        return OutOfGpuMemory(
            f"the engine stopped: out of GPU memory ({why}); the next answer loads "
            f"{one_line(Path(path or info.name).name, 120)} with {self.after_oom[path]} layers on the GPU"
        )

    def _capped_after_oom(self, info: ModelInfo, options: dict[str, Any]) -> dict[str, Any]:
        """At most the layers left to a model whose answer ran out of GPU memory, said in the note."""
        cap = self.after_oom.get(info.path or "")
        asked = options["gpu_layers"]
        if cap is None or 0 <= asked <= cap:
            return options
        said = f"the GPU ran out of memory during an earlier answer: {cap} layers go to the GPU this time"
        return options | {"gpu_layers": cap, "note": "; ".join(n for n in (options["note"], said) if n)}


def projector_bytes(info: ModelInfo) -> int:
    """The size of the model's vision projector (mmproj) file, 0 without one: llama.cpp loads it
    on the GPU for an image turn, beside the model."""
    if not info.path:
        return 0
    try:
        projector = find_projector(Path(info.path))
        return projector.stat().st_size if projector is not None else 0
    except OSError:
        return 0


def cuda_index(nvml_index: int) -> int | None:
    """CUDA's number for NVML's card `nvml_index` under CUDA_VISIBLE_DEVICES (a list of card numbers);
    None for a card CUDA does not see or one named by UUID (then unknown)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return nvml_index
    listed = [part.strip() for part in visible.split(",") if part.strip()]
    if not all(part.isdigit() for part in listed):
        return None
    numbers = [int(part) for part in listed]
    return numbers.index(nvml_index) if nvml_index in numbers else None
