"""Issue #5's figures on a big history: `python -m bench.history [--quick]`.

Builds (once, cached) 100,000 conversations and 1,000,000 messages with bulk inserts in one
transaction (bench.bigdb), then prints: start to first paint and opening the
5,000-message conversation to first paint (lchat in a pty, bench.startup), the first
page of the conversation list, and full-text search median and p95 over as-you-type and
whole-word queries. A script to run by hand, never part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import bigdb
from bench.common import FULL, QUICK, cache_dir, median, percentile


def typed(word: str) -> list[str]:
    """What the search box holds after each key while `word` is typed (from 2 letters)."""
    return [word[:n] for n in range(2, len(word) + 1)]


def search_queries(words: list[str]) -> list[str]:
    """Common, middling and rare words; two words; a phrase; and as-you-type prefixes."""
    whole = [
        words[0],
        words[5],
        "python",
        words[500],
        words[5000],
        words[15000],
        f"{words[1]} {words[3000]}",
        '"function file"',
        "error memory cache",
        "zzzznotthere",
    ]
    return whole + typed("python") + typed(words[700]) + [f"{words[2]} {p}" for p in typed(words[60])]


def list_first_page(database: Path, repeats: int) -> list[float]:
    from tui.store import HistoryStore

    times = []
    with HistoryStore.open(database) as store:
        for _ in range(repeats):
            started = time.perf_counter()
            page = store.list_conversation_page(limit=100)
            times.append(time.perf_counter() - started)
        assert len(page) == 100
    return times


def search_times(database: Path, queries: list[str], repeats: int) -> dict[str, list[float]]:
    from tui.store import HistoryStore

    times: dict[str, list[float]] = {}
    with HistoryStore.open(database) as store:
        for query in queries:
            store.search(query)  # The first search of a term reads its pages from disk.
        for _ in range(repeats):
            for query in queries:
                started = time.perf_counter()
                store.search(query, limit=50)
                times.setdefault(query, []).append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 messages instead of 1,000,000")
    parser.add_argument("--starts", type=int, default=3, help="lchat starts to time (default 3)")
    parser.add_argument("--no-pty", action="store_true", help="skip first paint and open (store figures only)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    history = bigdb.cached(sizes.conversations, sizes.messages, sizes.long_conversation, cache=cache_dir(), log=log)
    from tui.store import HistoryStore

    with HistoryStore.open(history.database):
        pass  # Any upgrade happens here, not in a timed start.
    size = history.database.stat().st_size / 2**20
    print(
        f"History: {history.conversations:,} conversations, {history.messages:,} messages, "
        f"{size:,.0f} MiB ({history.database})"
    )

    page = list_first_page(history.database, 50)
    print(
        f"First page of the list (100 rows): median {median(page) * 1000:.2f} ms, "
        f"p95 {percentile(page, 0.95) * 1000:.2f} ms"
    )

    queries = search_queries(history.words)
    times = search_times(history.database, queries, 10)
    every = [t for values in times.values() for t in values]
    print(
        f"FTS search ({len(queries)} queries x 10, 50 hits, newest first): "
        f"median {median(every) * 1000:.2f} ms, p95 {percentile(every, 0.95) * 1000:.2f} ms, "
        f"max {max(every) * 1000:.1f} ms"
    )
    slowest = sorted(times, key=lambda q: -median(times[q]))[:3]
    print("  slowest: " + ", ".join(f"{q!r} {median(times[q]) * 1000:.1f} ms" for q in slowest))

    if args.no_pty:
        return 0
    from bench.startup import first_paint

    paints, opens = [], []
    for _ in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="lchat-bench-") as home:
            result = first_paint(
                history.data_dir,
                Path(home),
                settle_s=0.5,
                opens=[history.long_conversation_id, history.short_conversation_id, history.long_conversation_id],
            )
        paints.append(result["paint_s"])
        opens += [s for cid, s in result["opened"] if cid == history.long_conversation_id]
    print(f"Start to first paint (process start, in a pty): median {median(paints) * 1000:.0f} ms (of {len(paints)})")
    print(
        f"Open the {sizes.long_conversation:,}-message conversation to first paint: "
        f"median {median(opens) * 1000:.0f} ms (of {len(opens)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
