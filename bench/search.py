"""Row 6: full-text search over the big history, through `HistoryStore.search`."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench import bigdb
from bench.common import Row, Sizes, cache_dir, median, missing_row, ms, percentile, verdict

TARGET = "median < 50 ms"


def queries(words: list[str]) -> list[str]:
    """Common, middling and rare words, two words, a phrase, and half-typed words (prefixes)."""
    return [
        words[0],
        "python",
        words[500],
        words[5000],
        words[15000],
        f"{words[1]} {words[3000]}",
        '"function file"',
        "pyth",
        words[8000][:3],
        "error memory cache",
    ]


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    from tui.store import HistoryStore

    what = f"FTS search over {sizes.messages:,} messages"
    if not hasattr(HistoryStore, "search"):
        return [missing_row("6", what, TARGET)]
    history = bigdb.cached(sizes.conversations, sizes.messages, sizes.long_conversation, cache=cache_dir(), log=log)
    times: dict[str, list[float]] = {}
    with HistoryStore.open(history.database) as store:
        for query in queries(history.words):
            store.search(query)  # The first search of a term reads its pages from disk.
            for _ in range(max(5, sizes.repeats)):
                started = time.perf_counter()
                store.search(query)
                times.setdefault(query, []).append(time.perf_counter() - started)
    every = [t for values in times.values() for t in values]
    slowest = max(times, key=lambda q: median(times[q]))
    log(f"  row 6: median {ms(median(every))}, slowest query {slowest!r} {ms(median(times[slowest]))}")
    return [
        Row(
            "6",
            f"FTS search over {history.messages:,} messages ({len(times)} queries, 50 hits)",
            f"median {median(every) * 1000:.1f} ms, p90 {percentile(every, 0.9) * 1000:.1f} ms",
            f"slowest: {slowest} {median(times[slowest]) * 1000:.1f} ms",
            "-",
            TARGET,
            verdict(median(every) < 0.050),
            {"times": times},
        )
    ]
