"""Every command ends quietly when its reader goes away (`lchat list | head -1`): no line on
stderr, exit 0. Each output is far larger than a pipe's buffer, so lchat is still writing when
`head` exits, every run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tui.domain import MessageStatus, Role
from tui.store import HistoryStore

TITLE = "needle " + "t" * 150


@pytest.fixture
def big_history(paths) -> Path:
    """1,000 conversations (90 KB as `lchat list` lines), each with a message holding "needle"; the
    first also holds a 300 KB answer (for show and export)."""
    with HistoryStore.open(paths.database) as store:
        for number in range(1000):
            conversation = store.create_conversation(title=f"{TITLE} {number}")
            store.add_message(conversation.id, Role.USER, "a needle in the history")
        store.add_message(1, Role.ASSISTANT, "line of the long answer\n" * 12_500)
    return paths.database


def through_head(*args: str) -> tuple[int, str, str]:
    """`lchat ARGS | head -1` in a shell: lchat's exit status, its stderr, what head printed."""
    command = f'{shlex.join([sys.executable, "-m", "tui", *args])} 2>lchat.err | head -1; echo "${{PIPESTATUS[0]}}"'
    workdir = Path(os.environ["LCHAT_HOME"])
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, cwd=workdir, stdin=subprocess.DEVNULL
    )
    first, status = done.stdout.splitlines()[-2:]
    return int(status), (workdir / "lchat.err").read_text(), first


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--json", "--limit", "1000"),
        ("list", "--limit", "5000"),
        ("search", "needle", "--limit", "1000"),
        ("show", "1"),
        ("export", "--all"),
    ],
    ids=lambda args: " ".join(args),
)
def test_a_reader_that_goes_away_ends_the_command_quietly(big_history: Path, args: tuple[str, ...]) -> None:
    status, stderr, first = through_head(*args)
    assert first  # head got its line: the pipe worked before it closed.
    assert (status, stderr) == (0, "")


def test_models_ends_quietly_when_its_reader_goes_away(lchat_home: Path) -> None:
    from tests.fake_ollama import OllamaState, start_ollama

    state = OllamaState()
    for number in range(150):  # About 1 KB a JSON line each.
        state.add(f"model-{number:04d}-{'x' * 400}:latest")
    daemon = start_ollama(state)
    try:
        lchat_home.mkdir(parents=True, exist_ok=True)
        (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{daemon.url}"]\n')
        status, stderr, first = through_head("models", "--json")
    finally:
        daemon.stop()
    assert first.startswith("{")
    assert (status, stderr) == (0, "")


def test_a_broken_pipe_that_is_not_the_readers_is_still_reported(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A pipe to something else breaking (a tool server, say) is a failure, not a reader leaving."""
    from tui import cli

    def broken(argv: list[str] | None) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_main", broken)
    monkeypatch.setattr(cli, "_output_reader_gone", lambda: False)
    assert cli.main(["list"]) == cli.EXIT_FAILED
    assert "broken pipe" in capsys.readouterr().err


def test_ask_ends_quietly_when_its_reader_goes_away(lchat_home: Path) -> None:
    from tests.fake_ollama import OllamaState, start_ollama

    state = OllamaState(reply=[f"line {n} of a long answer\n" for n in range(8000)])  # ~200 KB
    state.add("qwen2.5:0.5b")
    daemon = start_ollama(state)
    try:
        lchat_home.mkdir(parents=True, exist_ok=True)
        (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{daemon.url}"]\n')
        status, stderr, first = through_head("ask", "--no-stdin", "--model", "ollama/qwen2.5:0.5b", "hi")
    finally:
        daemon.stop()
    assert first == "line 0 of a long answer"
    assert (status, stderr) == (0, "")
    with HistoryStore.open(lchat_home / "data" / "history.db") as store:
        (conversation,) = store.list_conversations()
        answer = store.list_messages(conversation.id)[-1]
    assert answer.status is MessageStatus.INTERRUPTED and answer.content.startswith("line 0")  # Kept, as on ctrl+c.
