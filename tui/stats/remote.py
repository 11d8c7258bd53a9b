"""A remote backend's own figures: what its model list says is loaded, as `RemoteStats`, and shown as lines."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tui.domain import ModelInfo
from tui.engines.urls import shown_host
from tui.stats.sample import RemoteModel, RemoteStats

NEVER_AFTER_S = 50 * 365 * 86400
"""Expiry further away than this means "kept loaded" (Ollama's keep_alive = -1 gives year 2318)."""


def from_model_list(
    models: Iterable[ModelInfo],
    *,
    backend: str,
    url: str,
    offline: str | None = None,
    reports_loaded: bool = False,
    now: float | None = None,
) -> RemoteStats:
    """The server's figures from the catalog's models of one backend: Ollama's list carries
    /api/ps as `extra["running"]`. A backend whose list does not (`reports_loaded` False, as its
    engine declares: OpenAI-compatible servers) is said not to report them, unless a model is
    marked anyway, and an offline one why, rather than to have nothing loaded."""
    now = time.time() if now is None else now
    models = [m for m in models if m.backend == backend]
    host = shown_host(url) or url
    if offline:
        return RemoteStats(backend=backend, host=host, error=offline)
    if not any("running" in m.extra for m in models) and not reports_loaded:
        return RemoteStats(backend=backend, host=host, error="this server does not report them")
    loaded = [
        RemoteModel(
            name=m.name,
            size_bytes=_int(running.get("size")),
            vram_bytes=_int(running.get("size_vram")),
            expires_at=_expiry(running.get("expires_at"), now),
        )
        for m in models
        if (running := m.extra.get("running"))
    ]
    return RemoteStats(backend=backend, host=host, models=tuple(loaded))


def remote_lines(remote: RemoteStats, *, now: float | None = None) -> list[str]:
    """The note that local stats are not the server's, then what the server reports."""
    now = time.time() if now is None else now
    lines = [f"{remote.backend} runs on {remote.host}: the figures below are this machine's, not the server's."]
    if remote.error:
        lines.append(f"server figures unavailable: {remote.error}")
    elif not remote.models:
        lines.append("server: no model loaded")
    for model in remote.models:
        share = model.vram_share
        where = f"{share:.0%} in VRAM" if share is not None else "VRAM unknown"
        if model.vram_bytes is not None:
            where += f" ({model.vram_bytes / 2**30:.1f} GiB)"
        if model.expires_at is None:
            expiry = "no expiry"
        else:
            left = model.expires_at - now
            expiry = "unloading" if left <= 0 else f"unloads in {_duration(left)}"
        lines.append(f"{model.name}: {where}, {expiry}")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _expiry(expires: Any, now: float) -> float | None:
    """Epoch seconds of an unload, None for "never" (no time, or one decades away)."""
    if not isinstance(expires, (int, float)) or expires <= 0 or expires - now > NEVER_AFTER_S:
        return None
    return float(expires)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
