"""`lchat ask` through lchat's own entry point, with stdout replaced by a writer that times pieces.

Run as ``python -m bench.ask_probe DATA_DIR CONFIG``; prints one JSON object on fd 3's
stead (the real stdout), after the answer.
"""

from __future__ import annotations

import io
import json
import sys
import time


class TimedWriter(io.TextIOBase):
    """Remembers when each write arrived; `ask` sees a pipe (no terminal), as in `lchat ask | ...`."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.stamps.append(time.perf_counter())
        self.parts.append(text)
        return len(text)

    def isatty(self) -> bool:
        return False


def main(data_dir: str, config: str) -> dict:
    real_stdout, writer = sys.stdout, TimedWriter()
    # ask() binds its default output when tui.cli.ask_stream is first imported, which happens in main().
    sys.stdout = writer
    try:
        from bench.common import PROMPT
        from tui.cli import main as lchat_main

        code = lchat_main(["--data-dir", data_dir, "--config", config, "ask", PROMPT])
    finally:
        sys.stdout = real_stdout
    # The last write is the newline `ask` adds after the answer.
    stamps = writer.stamps[:-1]
    from pathlib import Path

    from tui.store import HistoryStore

    with HistoryStore.open(Path(data_dir) / "history.db") as store:
        (conversation,) = store.list_conversations(limit=1)
        answer = store.list_messages(conversation.id)[-1]
    return {
        "code": code,
        "tokens": answer.completion_tokens,
        "first": stamps[0] if stamps else None,
        "last": stamps[-1] if stamps else None,
        "text": "".join(writer.parts[:-1]),
        "status": str(answer.status),
        "error": answer.error,
        "llama_cpp_in_parent": "llama_cpp" in sys.modules,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:3])))
