"""Importing the client libraries away from the event loop."""

from __future__ import annotations

import asyncio
import importlib
import sys


async def import_in_thread(*modules: str) -> None:
    """Import `modules` in a worker thread: ollama, openai and httpx take a few hundred ms
    to import on a small machine, which on the event loop would freeze the UI at start."""
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        await asyncio.to_thread(lambda: [importlib.import_module(name) for name in missing])
