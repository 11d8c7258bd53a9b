"""`lchat ask --tools` as a user runs it: pre-approved calls run, others are refused on a pipe,
--json lists them, and a kill -9 between a call and its result leaves the call interrupted."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.fake_ollama import OllamaState, start_ollama
from tests.test_cli import lchat
from tests.test_tools_servers import SERVER
from tui.domain import MessageStatus, PartKind
from tui.store import HistoryStore


def _config(home: Path, daemon_url: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[ollama]\nhosts = ["{daemon_url}"]\n'
        f"[mcp.servers.t]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(SERVER)}]\n"
    )


def _daemon(calls: list[dict]) -> tuple[OllamaState, object]:
    state = OllamaState(tool_calls=calls)
    state.add("qwen3:4b")
    return state, start_ollama(state)


def test_allowed_tool_runs_and_json_lists_the_call(lchat_home: Path) -> None:
    _, daemon = _daemon([{"name": "add", "arguments": {"a": 20, "b": 22}}])
    try:
        _config(lchat_home, daemon.url)
        result = lchat("ask", "-m", "qwen3:4b", "--tools", "--allow-tool", "t.add", "--json", "What is 20+22?")
    finally:
        daemon.stop()
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["answer"] == "The tool said: 42"
    (call,) = out["tool_calls"]
    assert {key: call[key] for key in ("server", "tool", "arguments", "approval", "state", "result", "is_error")} == {
        "server": "t",
        "tool": "add",
        "arguments": {"a": 20, "b": 22},
        "approval": "config",
        "state": "done",
        "result": "42",
        "is_error": False,
    }


def test_a_call_not_allowed_is_refused_on_a_pipe_and_the_model_told(lchat_home: Path) -> None:
    state, daemon = _daemon([{"name": "add", "arguments": {"a": 1, "b": 2}}])
    try:
        _config(lchat_home, daemon.url)
        result = lchat("ask", "-m", "qwen3:4b", "--tools", "What is 1+2?")
    finally:
        daemon.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The tool said: The user refused to run this tool call.")
    assert "lchat: tool t.add refused" in result.stderr
    assert state.chats[-1]["messages"][-1]["role"] == "tool"


def test_without_tools_flag_no_tool_is_offered(lchat_home: Path) -> None:
    state, daemon = _daemon([{"name": "add", "arguments": {"a": 1, "b": 2}}])
    try:
        _config(lchat_home, daemon.url)
        result = lchat("ask", "-m", "qwen3:4b", "hello")
    finally:
        daemon.stop()
    assert result.returncode == 0, result.stderr
    assert not state.chats[-1].get("tools")


def test_kill_9_between_call_and_result_leaves_the_call_interrupted_and_never_reruns(lchat_home: Path) -> None:
    state, daemon = _daemon([{"name": "hang", "arguments": {"seconds": 120}}])
    database = lchat_home / "data" / "history.db"
    try:
        _config(lchat_home, daemon.url)
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "ask", "-m", "qwen3:4b", "--tools", "--allow-tool", "t.hang", "Wait."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:  # until the call is committed as approved (it is running now)
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the call never started"
            try:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as raw:
                    row = raw.execute(
                        "SELECT json_extract(data, '$.state') FROM message_parts WHERE kind = 'tool_call'"
                    ).fetchone()
            except sqlite3.OperationalError:  # not created, or not migrated yet
                row = None
            if row and row[0] == "approved":
                break
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)  # lchat and its MCP server
        process.wait(timeout=10)
    finally:
        daemon.stop()
    chats_before = len(state.chats)
    with HistoryStore.open(database) as store:
        assert store.recovered == 1
        (conversation,) = store.list_conversations()
        answer = store.list_messages(conversation.id)[-1]
    assert answer.status is MessageStatus.INTERRUPTED
    (call,) = answer.parts_of(PartKind.TOOL_CALL)
    assert (call.data["state"], call.data["approval"], call.data["tool"]) == ("interrupted", "config", "hang")
    assert answer.parts_of(PartKind.TOOL_RESULT) == []
    with HistoryStore.open(database) as store:  # opened again: nothing changes, nothing runs
        assert store.recovered == 0
        again = store.list_messages(conversation.id)[-1]
    assert again.parts_of(PartKind.TOOL_CALL)[0].data["state"] == "interrupted"
    assert len(state.chats) == chats_before == 1


def ask_on_a_terminal(home: Path, typed_ahead: bytes, answer: bytes) -> dict:
    """`lchat ask --tools` with stdin and stderr on a terminal (a pty): `typed_ahead` is typed at once,
    `answer` once the question shows. Returns the call as --json reports it."""
    import pty
    import select

    _, daemon = _daemon([{"name": "add", "arguments": {"a": 1, "b": 2}}])
    master, slave = pty.openpty()
    try:
        _config(home, daemon.url)
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "ask", "-m", "qwen3:4b", "--tools", "--json", "Add?"],
            stdin=slave,
            stderr=slave,
            stdout=subprocess.PIPE,
        )
        os.write(master, typed_ahead)
        seen, deadline = b"", time.monotonic() + 120
        while b"run it?" not in seen:
            assert time.monotonic() < deadline and process.poll() is None, seen.decode(errors="replace")
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        os.write(master, answer)
        stdout, _ = process.communicate(timeout=120)
    finally:
        daemon.stop()
        os.close(master)
        os.close(slave)
    assert process.returncode == 0, seen
    (call,) = json.loads(stdout)["tool_calls"]
    return call


def test_on_a_terminal_always_is_the_whole_word(lchat_home: Path) -> None:
    call = ask_on_a_terminal(lchat_home, typed_ahead=b"", answer=b"always\n")
    assert (call["approval"], call["state"], call["result"]) == ("user", "done", "3")


async def test_the_terminal_question_takes_a_for_no() -> None:
    import io

    from tui.cli.ask_stream import terminal_approver
    from tui.tools.approval import ApprovalRequest, Decision
    from tui.tools.catalog import ToolInfo

    request = ApprovalRequest(1, ToolInfo("t", "add", "", {}), {})
    answers = {
        line: await terminal_approver(io.StringIO(line), io.StringIO())(request)
        for line in ("a\n", "always\n", "y\n", "\n")
    }
    assert answers == {"a\n": Decision.REFUSE, "always\n": Decision.ALWAYS, "y\n": Decision.ONCE, "\n": Decision.REFUSE}
