"""Rows 4, 5 and 7: start to first paint, opening a long conversation, and memory, in a pty.

First paint is timed from just before the process is started to the main screen's first
refresh (bench.app_probe), with an empty data dir and with the big history.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import bigdb
from bench.common import (
    PYTHON,
    Row,
    Sizes,
    cache_dir,
    lchat_env,
    median,
    ms,
    verdict,
)
from bench.pty_app import PtyApp
from bench.timing import time_command


def first_paint(data_dir: Path, home: Path, *, opens: Sequence[int] = (), settle_s: float = 0.0) -> dict:
    """One start of lchat: seconds to first paint, memory, and seconds to open each of `opens`."""
    spec = {
        "data_dir": str(data_dir),
        "config": str(home / "config.toml"),
        "scenario": "paint",
        "settle_s": settle_s,
        "opens": list(opens),
    }
    with PtyApp(spec, lchat_env(home)) as app:
        paint = app.wait_for("paint", 60)
        memory = app.wait_for("memory", 60)
        opened = [app.wait_for("opened", 60) for _ in opens]
        app.wait_for("done", 60)
    return {
        "paint_s": paint["t"] - app.started,
        "rss_kb": memory["VmRSS"],
        "opened": [(event["id"], event["s"]) for event in opened],
    }


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    history = bigdb.cached(sizes.conversations, sizes.messages, sizes.long_conversation, cache=cache_dir(), log=log)
    with bigdb.HistoryStore.open(history.database):
        pass  # Any schema upgrade or recovery happens here, not in a timed start.
    long_id, short_id = history.long_conversation_id, history.short_conversation_id
    reference = time_command([PYTHON, "-c", "import textual"], max(sizes.starts, sizes.repeats))
    empty, big, rss, opens = [], [], [], []
    for repeat in range(max(sizes.starts, sizes.repeats)):
        with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
            empty.append(first_paint(Path(tmp) / "data", Path(tmp))["paint_s"])
        with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
            result = first_paint(
                history.data_dir, Path(tmp), settle_s=1.0, opens=[long_id, short_id, long_id, short_id, long_id]
            )
        big.append(result["paint_s"])
        rss.append(result["rss_kb"] / 1024)
        opens += [seconds for conversation, seconds in result["opened"] if conversation == long_id]
        log(
            f"  rows 4/5/7, repeat {repeat + 1}: empty {ms(empty[-1])}, big {ms(big[-1])}, "
            f"{rss[-1]:.0f} MB, open {ms(opens[-1])}"
        )
    textual_s = median(reference)
    size = f"{history.messages:,} messages, {history.conversations:,} conversations"
    return [
        Row(
            "4",
            "start to first paint, empty data dir",
            ms(median(empty)),
            f"`import textual` {ms(textual_s)}",
            f"{median(empty) / textual_s:.1f} x",
            "< 500 ms",
            verdict(median(empty) < 0.5),
            {"empty_s": empty, "import_textual_s": reference},
        ),
        Row(
            "4",
            f"start to first paint, {size}",
            ms(median(big)),
            f"`import textual` {ms(textual_s)}",
            f"{median(big) / textual_s:.1f} x",
            "< 500 ms",
            verdict(median(big) < 0.5),
            {"big_s": big},
        ),
        Row(
            "5",
            f"open a {sizes.long_conversation:,}-message conversation to first paint",
            ms(median(opens)),
            target="< 300 ms",
            verdict=verdict(median(opens) < 0.3),
            values={"open_s": opens},
        ),
        Row(
            "7",
            f"UI process memory with the {history.messages:,}-message history open",
            f"{median(rss):.0f} MB RSS",
            target="< 150 MB",
            verdict=verdict(median(rss) < 150),
            values={"rss_mb": rss},
        ),
    ]
