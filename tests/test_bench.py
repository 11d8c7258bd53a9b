"""The benchmark suite runs end to end in a tiny configuration: rows come back well formed.

No timing is asserted here (the machine is shared); `make bench` is where the figures are.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, table
from bench.common import TINY, Row, percentile, rate
from tui.engines.embedded.discovery import starter_model_path

pytestmark = pytest.mark.slow
NEEDS_MODEL = {"throughput", "ttft", "model_switch"}


@pytest.fixture(autouse=True)
def bench_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Built histories and the second model go to the test's own cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.mark.parametrize(("numbers", "module"), BENCHMARKS, ids=[module for _, module in BENCHMARKS])
def test_benchmark_returns_rows(numbers: str, module: str) -> None:
    if module in NEEDS_MODEL and starter_model_path() is None:
        pytest.skip("starter model not installed")
    rows = importlib.import_module(f"bench.{module}").run(TINY, lambda line: None)
    assert rows and all(isinstance(row, Row) for row in rows)
    assert {row.number for row in rows} <= set(numbers.split(","))
    for row in rows:
        assert row.what and row.figure and not row.figure.startswith("failed")
        assert row.verdict in ("met", "MISSED", "n/a", "-")
    assert table(rows).count("\n") == len(rows) + 1


def test_big_history_has_the_shape_asked_for(tmp_path: Path) -> None:
    from bench.bigdb import build
    from tui.store import HistoryStore

    history = build(tmp_path / "data", conversations=20, messages=300, long_conversation=100)
    assert history.messages == 300
    with HistoryStore.open(history.database) as store:
        assert len(store.list_conversations(limit=100)) == 20
        long = store.list_messages(history.long_conversation_id)
        assert len(long) == 100 and long[0].role == "user" and long[1].role == "assistant"
        assert store.count_messages(history.short_conversation_id) >= 2
        if hasattr(store, "search"):
            assert store.search(history.words[0])


def test_statistics_helpers() -> None:
    assert rate(10, 1.0, 3.0) == 5.0
    assert rate(0, None, None) != rate(0, None, None)  # nan
    assert percentile([5, 1, 4, 2, 3], 0.99) == 5
    assert percentile(list(range(1, 101)), 0.5) == 50
