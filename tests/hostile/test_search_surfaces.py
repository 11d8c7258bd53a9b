"""The hostile-input matrix, search row: what a user types into `lchat search` (and the TUI's
search box, which calls the same store search).

Cells (`test_<surface>__<case>`): markup, escapes (FTS5 syntax, unbalanced quotes, control
characters), huge (a query at the argument-length limit, thousands of words) and any text at
all (a property over the store's search, NUL included, which no command line can carry).
Each runs `lchat search` as a user does and asserts exit 0 as documented, results or the
one line "lchat: nothing found", never a traceback or an SQLite message, no terminal
control byte on stdout, and memory bounded. Cases that cannot apply to a query: endless and
blocking (it is one finite argument, no file is read), bomb, shadowing, typed-ahead keys
(nothing asks for approval) and a signal mid-way (one short read, covered by the quit rows).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.peak_rss import probed, reported_mb
from tui.config.paths import resolve_paths
from tui.domain import Role
from tui.guard import safe_text
from tui.store import HistoryStore

PEAK_RSS_MB = 300
STORED = "zebra notes \x1b]0;pwned\x07 [bold red]loud[/] \x9b31m 東京の天気 end"
"""A stored message with a title-changing escape, Rich markup, a C1 CSI and Japanese."""


@pytest.fixture
def history(lchat_home: Path) -> Path:
    paths = resolve_paths()
    paths.create()
    with HistoryStore.open(paths.database) as store:
        conv = store.create_conversation(title="hostile \x1b[2J title")
        store.add_message(conv.id, Role.USER, STORED)
    return paths.database


def search(*args: str) -> tuple[int, str, str, int]:
    """`lchat search ARGS`: exit status, stdout, stderr, and the peak memory (MB) it used."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak"
        child = subprocess.run(probed(report, "search", *args), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read().decode(), err.read().decode(), int(reported_mb(report))


def assert_clean(code: int, out: str, err: str, peak_mb: int) -> None:
    assert code == 0, err
    assert err in ("", "lchat: nothing found\n"), err
    assert "Traceback" not in out + err and "sqlite" not in (out + err).lower()
    # Nothing that steers a terminal: C0 controls other than newline, DEL, C1.
    assert not [c for c in out if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0], repr(out)
    assert peak_mb < PEAK_RSS_MB


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"zebra',  # unbalanced
        'zebra"',
        'ze"bra',
        "NEAR(",
        "NEAR(zebra notes",
        "NEAR(zebra notes, 2)",
        "*",
        "**",
        "zebra*",
        "^zebra",
        "content:zebra",
        "{content}: zebra",
        "zebra AND",
        "OR",
        "NOT zebra",
        "(",
        ")",
        "- +",
        "zebra -notes",
        "\x1b[2J\x1b]0;pwned\x07",
        "zebra\x1b[31m",
        "\x07\x7f\x9b",
        "zebra\tnotes\nend",
        "天気\x1b",
    ],
)
def test_search_query__escapes(history: Path, query: str) -> None:
    assert_clean(*search(query))


def test_search_query__escapes_in_what_is_found(history: Path) -> None:
    """The matched text and title carry escapes: shown as visible characters, not acted on."""
    for query in ("zebra", "天気"):
        code, out, err, peak = search(query)
        assert_clean(code, out, err, peak)
        assert out.count("\n") == 1 and "[" + query + "]" in out and "␛]0;pwned␇" in out, out


@pytest.mark.skipif(
    not hasattr(safe_text, "json_line"), reason="--json escapes DEL and C1 once issue 20 item 7 (json_line) lands"
)
def test_search_query__escapes_in_json_output(history: Path) -> None:
    """--json keeps the data exact (escapes as JSON \\u escapes) with no raw control byte."""
    code, out, err, peak = search("zebra", "--json")
    assert_clean(code, out, err, peak)
    assert json.loads(out)["snippet"] == STORED


@pytest.mark.parametrize(
    "query", ["[bold]zebra[/bold]", "[link=https://example.com]zebra[/link]", "[/]", "[@click=quit]"]
)
def test_search_query__markup(history: Path, query: str) -> None:
    code, out, err, peak = search(query)
    assert_clean(code, out, err, peak)


def test_search_query__markup_in_what_is_found(history: Path) -> None:
    code, out, err, peak = search("loud")
    assert_clean(code, out, err, peak)
    assert "[bold red][loud][/]" in out  # the stored markup as text; [ ] mark the match


@pytest.mark.parametrize(
    "query",
    [
        "zebra " * 20_000,  # thousands of words: each one more used to cost FTS5 a pass
        "x" * 130_000,  # one word near the kernel's limit on one argument
        " ".join(str(n) for n in range(20_000)),
        '"' * 100_000,
        "天" * 40_000,
    ],
    ids=["repeated-words", "long-word", "many-words", "quotes", "cjk"],
)
def test_search_query__huge(history: Path, query: str) -> None:
    code, out, err, peak = search(query)
    assert_clean(code, out, err, peak)


def test_search_query__escapes_any_text(history: Path) -> None:
    """Whatever is typed (NUL, lone quotes, operators, any script) gives results or none,
    never an error: the TUI searches as each key is typed."""
    with HistoryStore.open(history) as store:

        @settings(max_examples=200, deadline=None)
        @given(typed=st.text(max_size=60))
        def typing(typed: str) -> None:
            store.search(typed)
            store.search(typed, include_parts=True)

        typing()
