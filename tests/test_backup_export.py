"""Keeping and moving the history: export, import, backup while writing, restore."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tui import cli, portable
from tui.domain import ConversationSettings, MessageStatus, Role
from tui.store import DatabaseCorrupt, HistoryStore, StoreError
from tui.store.backup import backup, inspect, restore
from tui.store.codec import settings_from_json

ROOT = Path(__file__).resolve().parents[1]
WRITER = Path(__file__).with_name("store_writer.py")
FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def sample(store: HistoryStore) -> int:
    """A conversation with a regenerated answer; its id."""
    conv = store.create_conversation(
        title="Lifetimes",
        model="smol",
        backend="embedded",
        system_prompt="Be brief.",
        settings=ConversationSettings(temperature=0.3),
    )
    store.add_message(conv.id, Role.USER, "What is 'a?")
    first = store.add_message(conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING, model="smol")
    store.finish_message(
        first.id,
        content="A lifetime.",
        status=MessageStatus.COMPLETE,
        prompt_tokens=10,
        completion_tokens=3,
        ttft_s=0.1,
        gen_s=0.2,
    )
    second = store.add_message(
        conv.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING, model="smol", sibling_of=first.id
    )
    store.finish_message(
        second.id, content="A named lifetime:\n\n```rust\nfn f<'a>() {}\n```", status=MessageStatus.INTERRUPTED
    )
    return conv.id


# Export and import


def test_json_round_trip_keeps_the_current_path(db_path: Path, tmp_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        conversation_id = sample(store)
        doc = portable.document(store, conversation_id)
        assert [m["content"] for m in doc["messages"]] == [
            "What is 'a?",
            "A named lifetime:\n\n```rust\nfn f<'a>() {}\n```",
        ]
        text = portable.to_json(doc)
        path = tmp_path / "export.json"
        path.write_text(text)
        (imported,) = portable.import_file(store, path)
        assert imported.id != conversation_id
        again = portable.document(store, imported.id)
        assert again["conversation"] == doc["conversation"]
        assert again["messages"] == doc["messages"]
        assert [hit.conversation_id for hit in store.search("named lifetime")] == [imported.id, conversation_id]


def test_markdown_reads_as_a_transcript(db_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        text = portable.to_markdown(portable.document(store, sample(store)))
    assert text.startswith("# Lifetimes\n")
    assert "> Be brief." in text and "temperature 0.3" in text
    assert "## You · " in text and "## Assistant · smol · " in text and "interrupted" in text
    assert "```rust\nfn f<'a>() {}\n```" in text
    assert "A lifetime." not in text  # the branch left aside


def test_import_refuses_what_is_not_an_export(db_path: Path, tmp_path: Path) -> None:
    cases = {
        "other.json": {"hello": 1},
        "future.json": {"format": portable.FORMAT, "version": 99, "conversation": {}, "messages": []},
        "broken.json": {
            "format": portable.FORMAT,
            "version": 1,
            "conversation": {},
            "messages": [{"role": "alien", "content": ""}],
        },
    }
    with HistoryStore.open(db_path) as store:
        for name, doc in cases.items():
            path = tmp_path / name
            path.write_text(json.dumps(doc))
            with pytest.raises(portable.ImportFailed, match=name):
                portable.import_file(store, path)
        assert store.list_conversations() == []


def test_export_all_as_json_lines_imports_back(db_path: Path, tmp_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        sample(store)
        store.create_conversation(title="empty")
        out = io.StringIO()
        assert portable.write_all(store, out, markdown=False) == 2
        path = tmp_path / "all.jsonl"
        path.write_text(out.getvalue())
    with HistoryStore.open(tmp_path / "fresh.db") as fresh:
        imported = portable.import_file(fresh, path)
        assert [c.title for c in imported] == ["Lifetimes", "empty"]
        assert len(fresh.list_messages(imported[0].id)) == 2


# Backup and restore


def test_backup_while_another_process_writes(db_path: Path, tmp_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        conv = store.create_conversation()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(db_path), str(conv.id), "600", "w"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    assert writer.stdin is not None
    writer.stdin.write("go\n")
    writer.stdin.flush()
    copies = []
    while writer.poll() is None and len(copies) < 20:
        copies.append(backup(db_path, tmp_path / f"copy-{len(copies)}.db"))
    _, err = writer.communicate(timeout=60)
    assert (writer.returncode, err) == (0, "")
    assert copies, "the writer finished before any backup ran"
    counts = [facts.messages for facts in copies]
    assert counts == sorted(counts) and counts[-1] <= 600
    assert any(0 < n < 600 for n in counts), counts  # taken mid-write
    for facts in copies:
        assert oct(facts.path.stat().st_mode & 0o777) == "0o600"
        with HistoryStore.open(facts.path) as copy:
            messages = copy.list_messages(conv.id)
            assert len(messages) == facts.messages  # one unbroken path, none half-written
            # The copy's search index matches its messages exactly (FTS5 raises if not).
            copy.db.connection().execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
            if len(messages) > 2:
                assert [h.message_id for h in copy.search(f'"{messages[-3].content}"')] == [messages[-3].id]


def test_backup_into_a_folder_and_refusals(db_path: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no history"):
        backup(db_path, tmp_path)
    HistoryStore.open(db_path).close()
    facts = backup(db_path, tmp_path)
    assert facts.path.parent == tmp_path and facts.path.name.startswith("history-")
    with pytest.raises(StoreError, match="the history itself"):
        backup(db_path, db_path)


def test_restore_replaces_the_history_and_keeps_the_old_one(db_path: Path, tmp_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        sample(store)
    saved = backup(db_path, tmp_path / "saved.db")
    with HistoryStore.open(db_path) as store:
        store.create_conversation(title="made after the backup")
        live = store  # an lchat that keeps the file open during the restore
        result = restore(saved.path, db_path, keep_previous_in=tmp_path / "kept")
        assert [c.title for c in live.list_conversations()] == ["Lifetimes"]
    assert result.restored.conversations == 1
    assert result.previous_copy is not None
    assert inspect(result.previous_copy).conversations == 2


def test_restore_checks_the_backup_first(db_path: Path, tmp_path: Path) -> None:
    with HistoryStore.open(db_path) as store:
        sample(store)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 500)
    with pytest.raises(DatabaseCorrupt):
        restore(junk, db_path, keep_previous_in=tmp_path / "kept")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (x)").connection.close()
    with pytest.raises(StoreError, match="not an lchat history"):
        restore(other, db_path, keep_previous_in=tmp_path / "kept")
    assert not (tmp_path / "kept").exists()
    with HistoryStore.open(db_path) as store:
        assert len(store.list_conversations()) == 1


def test_restoring_an_old_schema_backup_upgrades_it(db_path: Path, tmp_path: Path) -> None:
    old = tmp_path / "v2.db"
    conn = sqlite3.connect(old)
    conn.executescript((FIXTURES / "history_v2.sql").read_text())
    conn.close()
    restore(old, db_path, keep_previous_in=tmp_path / "kept")
    with HistoryStore.open(db_path) as store:
        assert [m.id for m in store.list_messages(1)] == [1, 2, 3, 4]
        assert [h.message_id for h in store.search("lifetime")] == [2]


# The commands


def run_cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = cli.main(list(args))
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_export_import_backup_restore_commands(paths, tmp_path: Path) -> None:
    with HistoryStore.open(paths.database) as store:
        conversation_id = sample(store)
    code, listing, _ = run_cli("list")
    assert code == 0 and f"{conversation_id}" in listing and "Lifetimes" in listing

    code, out, _ = run_cli("export", str(conversation_id))
    assert code == 0 and json.loads(out)["conversation"]["title"] == "Lifetimes"
    md = tmp_path / "one.md"
    assert run_cli("export", str(conversation_id), "-o", str(md))[0] == 0
    assert md.read_text().startswith("# Lifetimes")
    every = tmp_path / "all.jsonl"
    code, _, err = run_cli("export", "--all", "-o", str(every))
    assert code == 0 and "1 conversation" in err
    code, _, err = run_cli("export", "999")
    assert code == 1 and "no conversation 999" in err

    code, _, err = run_cli("import", str(every))
    assert code == 0 and "Imported 1" in err

    code, out, _ = run_cli("backup", str(tmp_path / "b.db"))
    assert code == 0 and "2 conversations" in out
    code, out, _ = run_cli("backup")
    assert code == 0 and str(paths.backups_dir) in out

    code, _, err = run_cli("restore", str(tmp_path / "b.db"), stdin="n\n")
    assert code == 1 and "Nothing was changed" in err
    with HistoryStore.open(paths.database) as store:
        store.create_conversation(title="later")
    code, out, _ = run_cli("restore", str(tmp_path / "b.db"), stdin="y\n")
    assert code == 0 and "Restored" in out
    with HistoryStore.open(paths.database) as store:
        assert len(store.list_conversations()) == 2
    code, _, err = run_cli("restore", str(tmp_path / "missing.db"), "--yes")
    assert code == 1 and "does not exist" in err


# Import: all or nothing, and bounded


def export_of(title: str) -> dict:
    return {
        "format": portable.FORMAT,
        "version": portable.VERSION,
        "conversation": {"title": title},
        "messages": [{"role": "user", "content": f"hello from {title}"}],
    }


def titles(paths) -> list[str]:
    with HistoryStore.open(paths.database) as store:
        return [c.title for c in store.list_conversations()]


def test_importing_several_files_keeps_nothing_when_one_is_bad(paths, tmp_path: Path) -> None:
    good, also_good, bad = tmp_path / "good.json", tmp_path / "more.jsonl", tmp_path / "bad.json"
    good.write_text(json.dumps(export_of("good")))
    also_good.write_text(json.dumps(export_of("more 1")) + "\n" + json.dumps(export_of("more 2")) + "\n")
    bad.write_text(json.dumps({"hello": 1}))
    code, _, err = run_cli("import", str(good), str(also_good), str(bad))
    assert code == 1 and "bad.json is not an lchat conversation export" in err and "Nothing was imported." in err
    assert titles(paths) == []
    code, _, err = run_cli("import", str(good), str(also_good))
    assert code == 0 and "Imported 3" in err
    assert sorted(titles(paths)) == ["good", "more 1", "more 2"]


def test_import_limits_say_which_was_passed(paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # Once "unexpected error: RecursionError".
    nested = export_of("nested")
    nested["messages"][0]["parts"] = [{"kind": "tool_call", "data": {"arguments": json.loads("[" * 70 + "]" * 70)}}]
    somewhat_deep = tmp_path / "somewhat-deep.json"
    somewhat_deep.write_text(json.dumps(nested))
    long_message = export_of("long")
    long_message["messages"].append({"role": "assistant", "content": "x" * (portable.MESSAGE_MAX_CHARS + 1)})
    long = tmp_path / "long.json"
    long.write_text(json.dumps(long_message))
    not_utf8 = tmp_path / "latin1.json"
    not_utf8.write_bytes(b'{"format": "caf\xe9"}')
    expected = {
        deep: "deep.json is nested deeper than 64 levels, the most lchat imports",
        somewhat_deep: "somewhat-deep.json is nested deeper than 64 levels",
        long: "long.json: message 2 is 16,000,001 characters long; lchat imports messages of up to 16,000,000",
        not_utf8: "latin1.json is not UTF-8 text (byte 15)",
    }
    for path, line in expected.items():
        code, _, err = run_cli("import", str(path))
        assert (code, err.count("\n")) == (1, 1) and line in err, err
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "format": "lchat.conversation",\n  "version": \n}\n')
    code, _, err = run_cli("import", str(broken))
    assert code == 1 and "broken.json:4: not JSON (Expecting value)" in err
    monkeypatch.setattr(portable, "MAX_ITEMS", 50)
    many = tmp_path / "many.json"
    many.write_text(json.dumps([[] for _ in range(60)]))
    code, _, err = run_cli("import", str(many))
    assert code == 1 and "many.json holds more than 50 items" in err and "JSON Lines" in err
    commas = export_of("commas, [brackets] and {braces} in text are not items " * 20)
    prose = tmp_path / "prose.json"
    prose.write_text(json.dumps(commas, indent=2))
    assert run_cli("import", str(prose))[0] == 0
    monkeypatch.setattr(portable, "IMPORT_MAX_BYTES", 1000)
    code, _, err = run_cli("import", str(long))
    assert code == 1 and "long.json:1: the line is over" in err  # Over the limit: read as JSON Lines, a line at a time.
    lines = tmp_path / "many.jsonl"
    lines.write_text("".join(json.dumps(export_of(f"c{n}")) + "\n" for n in range(20)))  # 20 x ~150 bytes
    assert run_cli("import", str(lines))[0] == 0  # 60 items in all, but each line is its own document.
    assert len(titles(paths)) == 21


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder", "missing"])
def test_import_reads_only_regular_files(paths, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "export.json"
    if kind == "fifo":
        os.mkfifo(path)  # An ordinary open would block here until a writer came.
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    code, _, err = run_cli("import", str(path))
    reason = {
        "fifo": "is not a regular file (a FIFO)",
        "dev-zero": "is not a regular file (a character device)",
        "folder": "is a folder, not a conversation export",
        "missing": "does not exist",
    }[kind]
    assert code == 1 and reason in err and err.count("\n") == 1
    assert titles(paths) == []


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder", "garbage", "huge-garbage", "missing"])
def test_restore_refuses_what_is_not_a_backup_and_keeps_the_history(paths, tmp_path: Path, kind: str) -> None:
    with HistoryStore.open(paths.database) as store:
        sample(store)
    before = paths.database.read_bytes()
    source = tmp_path / "backup.db"
    if kind == "fifo":
        os.mkfifo(source)
    elif kind == "dev-zero":
        source.symlink_to("/dev/zero")
    elif kind == "folder":
        source.mkdir()
    elif kind == "garbage":
        source.write_bytes(b"not a database at all\n" * 100)
    elif kind == "huge-garbage":
        with source.open("wb") as sparse:  # 4 GB that takes no disk: SQLite reads its header only.
            sparse.truncate(4 << 30)
    code, _, err = run_cli("restore", str(source), "--yes")
    reason = {
        "fifo": "is not a regular file (a FIFO)",
        "dev-zero": "is not a regular file (a character device)",
        "folder": "is a folder, not a history backup",
        "garbage": "backup.db is not an lchat history backup (file is not a database). Nothing was changed.",
        "huge-garbage": "backup.db is not an lchat history backup (file is not a database)",
        "missing": "does not exist",
    }[kind]
    assert code == 1 and reason in err and err.count("\n") == 1 and "Traceback" not in err
    assert paths.database.read_bytes() == before
    assert not list(paths.backups_dir.glob("*")) if paths.backups_dir.exists() else True


def test_show_names_models_and_parameters_as_people_read_them(paths) -> None:
    """No Python repr (`tools ['a', 'b']`) and no embedded model's whole path in `lchat show`."""
    gguf = "/home/u/.local/share/lchat/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    params = {"tools": ["weather.get", "search"], "temperature": 0.3, "stop": ["\n\nUser:", "END"]}
    with HistoryStore.open(paths.database) as store:
        conversation = store.create_conversation(
            title="t", model=gguf, backend="embedded", settings=settings_from_json(params)
        )
        store.add_message(conversation.id, Role.USER, "hi")
        store.add_message(conversation.id, Role.ASSISTANT, "hello", model=gguf, backend="embedded")
    code, out, _ = run_cli("show", str(conversation.id))
    assert code == 0
    assert "- Model: SmolLM2-135M-Instruct.Q4_1 (embedded)" in out
    assert '- Parameters: tools weather.get, search; temperature 0.3; stop "\\n\\nUser:", END' in out
    assert "## Assistant · SmolLM2-135M-Instruct.Q4_1 · " in out
    assert "/home/u" not in out and "['" not in out
    code, out, _ = run_cli("show", str(conversation.id), "--json")
    assert json.loads(out)["conversation"]["model"] == gguf  # The export keeps the whole path.


def test_one_tool_is_one_tool() -> None:
    from tui.config import McpConfig, McpServerConfig
    from tui.domain import Conversation
    from tui.tools.catalog import ToolInfo
    from tui.tools.service import ToolService

    service = ToolService(McpConfig(servers={"s": McpServerConfig(command="true")}))
    service.listed = [ToolInfo("s", "only", "", {}, tokens=12)]
    conversation = Conversation(1, "", "", "", "", settings_from_json({"tools": ["s"]}), 0.0, 0.0)
    assert service.summary(conversation) == "1 tool · ~12 tok"
