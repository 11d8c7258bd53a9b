"""The fault suite: real files, real child processes, real SQLite; a clear message and nothing lost.

Cases are numbered as in the fault matrix of docs/reliability.md.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.after_kill import question_and_answer_after_kill
from tests.fake_ollama import OllamaState, start_ollama
from tests.gguf_files import write_random, write_tiny_llama, write_truncated
from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.cli.ask_stream import ask
from tui.config import Config
from tui.config.paths import Paths
from tui.config.read import load_config
from tui.domain import MessageStatus, Role
from tui.engines.base import EngineError
from tui.engines.embedded.discovery import starter_model_path
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.ollama.engine import OllamaEngine
from tui.store import HistoryStore, schema
from tui.ui.app import LchatApp
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)
STARTER = starter_model_path()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")


def deterministic_config(max_tokens: int = 400) -> Config:
    config = Config()
    config.chat.temperature = 0.0
    config.chat.max_tokens = max_tokens
    return config


def embedded(paths: Paths) -> EmbeddedEngine:
    return EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=2048, log_path=paths.log_dir / "engine.log")


async def send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


# 1: kill -9 of lchat mid-answer (the embedded case is in test_real_model.py)


def test_kill_9_mid_answer_from_ollama_keeps_what_was_committed(lchat_home: Path) -> None:
    state = OllamaState(reply=[f"{n}\n" for n in range(1, 400)], piece_delay=0.02)
    state.add("llama3.2:latest")
    daemon = start_ollama(state)
    try:
        lchat_home.mkdir(parents=True, exist_ok=True)
        (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{daemon.url}"]\n')
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "ask", "-m", "llama3.2:latest", "Count to 400."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.set_blocking(process.stdout.fileno(), False)
        shown = b""
        while shown.count(b"\n") < 40:  # about 0.8 s of answer: a few commits (every 250 ms)
            assert process.poll() is None, process.stderr.read().decode()
            shown += process.stdout.read() or b""
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        daemon.stop()
    question, answer = question_and_answer_after_kill(lchat_home / "data" / "history.db")
    assert question.content == "Count to 400."
    assert answer.status is MessageStatus.INTERRUPTED and answer.model == "llama3.2:latest"
    assert answer.content.count("\n") >= 20 and (shown + process.stdout.read()).decode().startswith(answer.content)


def test_kill_9_mid_reasoning_keeps_the_reasoning_that_arrived(lchat_home: Path) -> None:
    state = OllamaState(thoughts=[f"thought {n}\n" for n in range(1, 400)], reply=["never reached"], piece_delay=0.02)
    state.add("qwen3:0.6b")
    state.thinkers["qwen3:0.6b"] = ()
    daemon = start_ollama(state)
    try:
        lchat_home.mkdir(parents=True, exist_ok=True)
        (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{daemon.url}"]\n')
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "ask", "-m", "qwen3:0.6b", "Think for a while."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        database = lchat_home / "data" / "history.db"
        deadline = time.monotonic() + 60
        committed = ""
        while committed.count("\n") < 20:  # several commits of reasoning, no answer yet
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no reasoning reached the disk"
            time.sleep(0.05)
            committed = _reasoning_on_disk(database)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        daemon.stop()
    question, answer = question_and_answer_after_kill(lchat_home / "data" / "history.db")
    assert question.content == "Think for a while."
    assert answer.status is MessageStatus.INTERRUPTED and answer.content == ""
    assert answer.reasoning.startswith("thought 1\nthought 2\n") and answer.reasoning.count("\n") >= 20


def _reasoning_on_disk(database: Path) -> str:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as raw:
            row = raw.execute("SELECT text FROM message_parts WHERE kind = 'reasoning'").fetchone()
    except sqlite3.Error:
        return ""
    return row[0] if row else ""


# 2: the engine child dies mid-answer


@needs_starter
@pytest.mark.parametrize("crash", [signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT], ids=lambda s: s.name)
async def test_engine_child_killed_mid_answer(open_services, paths, crash: signal.Signals) -> None:
    engine = embedded(paths)
    services = open_services(engine, config=deterministic_config())
    app = LchatApp(services)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "Count from 1 to 300, one number per line.")
            await wait_until(
                pilot,
                lambda: (
                    len(app.screen.query(MessageView)) == 2
                    and len(app.screen.query(MessageView).last().query_one(".body").source) > 20
                ),
            )
            os.kill(engine.child_pid, crash)
            await app.workers.wait_for_complete()
            await pilot.pause()
            answer = app.screen.query(MessageView).last()
            assert answer.has_class("-error")
            assert f"engine crashed ({crash.name})" in str(answer.query_one(".error-text").render())
            await send(pilot, "Say hello.")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
        (conversation,) = services.store.list_conversations()
        crashed = services.store.list_messages(conversation.id)[1]
        assert crashed.status is MessageStatus.ERROR and crashed.content.startswith("1")
    finally:
        await engine.aclose()


# 5: the daemon accepts, then goes silent: the read timeout fires, and Esc does not wait for it


async def test_silent_daemon_times_out_and_escape_cancels_at_once(open_services) -> None:
    state = OllamaState(chat_fault="stall", stall_s=30.0)
    state.add("llama3.2:latest")
    daemon = start_ollama(state)
    try:
        hasty, patient = OllamaEngine(host=daemon.url, read_timeout=2), OllamaEngine(host=daemon.url)
        app = LchatApp(open_services(hasty))
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "first")
            await app.workers.wait_for_complete()
            await pilot.pause()
            timed_out = app.screen.query(MessageView).last().message
            assert timed_out.status is MessageStatus.ERROR and timed_out.content == "Hello from"
            assert "stopped responding: nothing arrived for 2 s" in timed_out.error

        services = open_services(patient)
        app = LchatApp(services)
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "second")
            saved = lambda: services.store.list_messages(services.store.list_conversations()[0].id)[-1]  # noqa: E731
            # What the daemon sent before it went silent is on disk, though no piece came after it.
            await wait_until(pilot, lambda: saved().content == "Hello from", timeout=2)
            started = time.monotonic()
            await pilot.press("escape")
            await wait_until(
                pilot,
                lambda: app.screen.query(MessageView).last().message.status is MessageStatus.INTERRUPTED,
                timeout=5,
            )
            assert time.monotonic() - started < 10  # at once, not when the 30 s stall ends
        await hasty.aclose()
        await patient.aclose()
    finally:
        daemon.stop()


# 7 and 8: model files from strangers


def bad_gguf_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tiny = write_tiny_llama(folder / "good-tiny.gguf")
    (folder / "empty.gguf").write_bytes(b"")
    files = {
        "truncated": write_truncated(tiny, folder / "truncated.gguf"),
        "empty": folder / "empty.gguf",
        "random": write_random(folder / "random.gguf"),
        "aborts": write_tiny_llama(folder / "aborts.gguf", duplicate_token=True),
    }
    # A real file whose architecture llama.cpp has never heard of.
    wrong = bytearray(tiny.read_bytes())
    at = wrong.find(b"llama", wrong.find(b"general.architecture"))
    wrong[at : at + 5] = b"zzzzz"
    (folder / "wrong-arch.gguf").write_bytes(bytes(wrong))
    files["wrong-arch"] = folder / "wrong-arch.gguf"
    tiny.unlink()
    return files


async def test_bad_model_files_give_a_clear_error_and_the_app_lives(open_services, paths) -> None:
    files = bad_gguf_files(paths.models_dir)
    engine = embedded(paths)
    good = write_tiny_llama(paths.data_dir / "good.gguf")
    services = open_services(engine, config=deterministic_config(max_tokens=8))
    conversation = services.store.create_conversation(title="bad files")
    app = LchatApp(services)
    try:
        async with app.run_test(size=SIZE) as pilot:
            for kind, path in files.items():
                services.store.set_conversation_model(conversation.id, str(path), "embedded")
                await app.screen.open_conversation(conversation.id)
                await send(pilot, f"try {kind}")
                await app.workers.wait_for_complete()
                await pilot.pause()
                answer = app.screen.query(MessageView).last()
                error = str(answer.query_one(".error-text").render())
                assert answer.has_class("-error"), kind
                assert path.name in error and ("not a usable GGUF" in error or "could not be loaded" in error), error
                if kind == "aborts":  # llama.cpp aborted: only the child died, and the message says so
                    assert "the engine crashed (SIGABRT)" in error, error
                if kind == "wrong-arch":
                    assert "unknown model architecture: 'zzzzz'" in error, error
            # The engine still works for a good model afterwards.
            services.store.set_conversation_model(conversation.id, str(good), "embedded")
            await app.screen.open_conversation(conversation.id)
            await send(pilot, "now a good one")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
            status = str(app.screen.query_one("#models .status").render())
            assert "Last answer: 8 tokens" in status and "model loaded in" in status  # a fresh load
    finally:
        await engine.aclose()


# 9: chat templates from strangers

ESCAPE_TEMPLATE = (
    "{{ cycler.__init__.__globals__.os.system('touch CANARY') }}"
    "{{ ''.__class__.__mro__[1].__subclasses__() }}{% for m in messages %}{{ m.content }}{% endfor %}"
)
ENDLESS_TEMPLATE = "{% for a in range(100000) %}{% for b in range(100000) %}{{ '' }}{% endfor %}{% endfor %}"


@pytest.mark.parametrize("kind", ["escape", "endless"])
async def test_hostile_chat_templates(paths, tmp_path: Path, kind: str) -> None:
    canary = tmp_path / "canary"
    template = ESCAPE_TEMPLATE.replace("CANARY", str(canary)) if kind == "escape" else ENDLESS_TEMPLATE
    model = write_tiny_llama(paths.models_dir / f"{kind}.gguf", chat_template=template)
    engine = embedded(paths)
    from tui.domain import ChatTurn, GenerationOptions

    try:
        started = time.monotonic()
        with pytest.raises(EngineError) as raised:
            async for _ in engine.chat(str(model), [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=4)):
                pass
        assert "chat template" in str(raised.value)
        if kind == "endless":
            assert "stopped" in str(raised.value) and time.monotonic() - started < 30
        assert not canary.exists()
        # The engine is still usable.
        good = write_tiny_llama(paths.models_dir / "good.gguf")
        pieces = [e async for e in engine.chat(str(good), [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=4))]
        assert len(pieces) == 5
    finally:
        await engine.aclose()


# 10: escape sequences in server errors as well as answers


async def test_escape_sequences_in_errors_are_shown_as_text(open_services) -> None:
    hostile = EngineError("server said \x1b]52;c;cHduZWQ=\x07 and \x1b[2J")
    services = open_services(ScriptedEngine(script=fixed_script("a"), fail_after=0, error=hostile))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = str(app.screen.query(MessageView).last().query_one(".error-text").render())
    assert "\x1b" not in shown and "\x07" not in shown and "server said ␛]52" in shown
    (conversation,) = services.store.list_conversations()
    assert services.store.list_messages(conversation.id)[-1].error == str(hostile)  # raw text stored


async def test_escape_sequences_in_errors_are_text_in_lchat_ask_too(open_services) -> None:
    hostile = EngineError("offline: \x1b]0;owned\x07\x1b[2J")

    class Hostile(ScriptedEngine):
        async def list_models(self):
            raise hostile

    err = io.StringIO()
    assert await ask(open_services(Hostile()), "hi", model=None, as_json=False, err=err) == 1
    assert "\x1b" not in err.getvalue() and "\x07" not in err.getvalue()
    assert "fake: offline: ␛]0;owned" in err.getvalue()


# 11: two writers and a reader on one file


def test_two_writer_processes_and_a_reader(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    with HistoryStore.open(database) as store:
        conversation = store.create_conversation(title="shared")
    writer = Path(__file__).with_name("store_writer.py")
    reader_code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]); from pathlib import Path; "
        "from tui.store import HistoryStore\n"
        "s = HistoryStore.open(Path(sys.argv[1])); seen = 0; end = time.monotonic() + 30\n"
        "while time.monotonic() < end:\n"
        "    n = s.count_messages(int(sys.argv[3])); assert n >= seen; seen = n\n"
        "    s.list_messages(int(sys.argv[3]), limit=50)\n"
        "    if n >= 400: break\n"
        "print(seen)"
    )
    root = str(Path(__file__).resolve().parents[1])
    writers = [
        subprocess.Popen(
            [sys.executable, str(writer), str(database), str(conversation.id), "200", f"w{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    for process in writers:
        assert process.stdout.readline().strip() == "ready"
    for process in writers:
        process.stdin.write("go\n")
        process.stdin.flush()
    reader = subprocess.Popen(
        [sys.executable, "-c", reader_code, str(database), root, str(conversation.id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = [p.communicate(timeout=120) for p in (*writers, reader)]
    for process, (_, err) in zip((*writers, reader), results):
        assert process.returncode == 0, err
        assert "locked" not in err
    assert results[-1][0].strip() == "400"
    with HistoryStore.open(database) as store:
        assert store.count_messages(conversation.id) == 400


# 12: a full disk


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (65536, 512):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


async def test_disk_full_while_saving(tiny_disk: Path) -> None:
    from tui.config.paths import resolve_paths
    from tui.services import Services

    paths = resolve_paths(data_dir=tiny_disk / "data", config_file=tiny_disk / "config.toml")
    engine = ScriptedEngine(script=fixed_script(*[f"w{n} " for n in range(200)]), delay=0.005)
    services = Services.open(paths, Config(), engines=lambda c, p: {"fake": engine})
    conversation = services.store.create_conversation(title="before", model="fake-model", backend="fake")
    services.store.add_message(conversation.id, Role.USER, "kept from before")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        filler = fill(tiny_disk)
        await send(pilot, "while full")
        await app.workers.wait_for_complete()
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert any("could not be saved" in n and "full" in n for n in notes), notes
        assert app.screen.query_one("#composer").text == "while full"  # nothing lost: the text is back
        filler.unlink()  # space returns
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
    services.store.close()
    with HistoryStore.open(paths.database) as store:
        contents = [m.content for m in store.list_messages(conversation.id)]
    assert contents[0] == "kept from before" and contents[1] == "while full"
    assert contents[2] == "".join(f"w{n} " for n in range(200))


async def test_disk_fills_up_mid_answer(tiny_disk: Path) -> None:
    from tui.config.paths import resolve_paths
    from tui.services import Services

    paths = resolve_paths(data_dir=tiny_disk / "data", config_file=tiny_disk / "config.toml")
    pieces = [f"w{n} " for n in range(300)]
    engine = ScriptedEngine(script=fixed_script(*pieces), delay=0.01)
    services = Services.open(paths, Config(), engines=lambda c, p: {"fake": engine})
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "fill it")
        await wait_until(pilot, lambda: len(app.screen.query(MessageView)) == 2)
        await pilot.pause(0.5)  # a commit or two land first
        filler = fill(tiny_disk)
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.message.content == "".join(pieces)  # shown in full
        assert any("could not be saved" in n.message for n in app._notifications)
        (conversation,) = services.store.list_conversations()
        kept = services.store.list_messages(conversation.id)[-1]
        assert kept.content and "".join(pieces).startswith(kept.content)  # what was committed is intact
        filler.unlink()  # space returns: the next question saves the whole answer first
        engine.script = fixed_script("ok")
        await send(pilot, "again")
        await app.workers.wait_for_complete()
    services.store.close()
    with HistoryStore.open(paths.database) as store:
        question, saved, *_ = store.list_messages(conversation.id)
    assert question.content == "fill it"
    assert saved.content == "".join(pieces) and saved.status is MessageStatus.COMPLETE


# 13: a damaged database


def make_history(paths: Paths, messages: int = 300) -> None:
    paths.create()
    with HistoryStore.open(paths.database) as store:
        conversation = store.create_conversation(title="precious")
        for n in range(messages):
            store.add_message(conversation.id, Role.USER, f"message {n} " + "x" * 200)
        with sqlite3.connect(paths.database) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 4096, 7):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3 + 100])


@pytest.mark.parametrize("damage", [flip_bytes, truncate], ids=["flipped-bytes", "truncated"])
async def test_damaged_database_is_moved_aside_never_overwritten(paths, fake_engine, damage) -> None:
    from tui.services import Services

    make_history(paths)
    paths.backups_dir.mkdir(parents=True, exist_ok=True)
    backup = paths.backups_dir / "history-20261127.db"
    shutil.copy(paths.database, backup)
    damage(paths.database)
    damaged_bytes = paths.database.read_bytes()
    services = Services.open(paths, Config(), engines=lambda c, p: {"fake": fake_engine})
    try:
        (note,) = [w for w in services.warnings if "damaged" in w]
        (moved,) = [p for p in paths.data_dir.glob("history.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
        assert moved.read_bytes() == damaged_bytes  # moved, untouched
        assert str(moved) in note and str(backup) in note and "lchat restore" in note
        assert services.store.list_conversations() == []  # a fresh history
        app = LchatApp(services)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert any("damaged" in n.message for n in app._notifications)
    finally:
        services.store.close()


def test_garbage_wal_does_not_lose_checkpointed_history(paths, fake_engine) -> None:
    from tui.services import Services

    make_history(paths, messages=20)
    Path(f"{paths.database}-wal").write_bytes(os.urandom(8192))
    services = Services.open(paths, Config(), engines=lambda c, p: {"fake": fake_engine})
    try:
        (conversation,) = services.store.list_conversations()
        assert services.store.count_messages(conversation.id) == 20
    finally:
        services.store.close()


# 14: killed between migration steps


def test_kill_between_migration_steps_leaves_a_whole_version(tmp_path: Path) -> None:
    database = tmp_path / "history.db"
    root = str(Path(__file__).resolve().parents[1])
    code = (
        "import os, signal, sys; sys.path.insert(0, sys.argv[2])\n"
        "from pathlib import Path\nfrom tui.store import HistoryStore, schema\n"
        "def doomed(conn):\n"
        "    conn.execute('CREATE TABLE half_done (x)')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "schema.MIGRATIONS.append(doomed)\n"
        "HistoryStore.open(Path(sys.argv[1]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(database), root], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    with sqlite3.connect(database) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        assert not raw.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall()
        assert raw.execute("PRAGMA quick_check").fetchone() == ("ok",)
    with HistoryStore.open(database) as store:  # and it opens normally afterwards
        assert store.list_conversations() == []


# 15 and 16: config secrets and file modes


def test_secret_in_a_readable_config_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[chat]\nmodel = ""\n[ollama]\nauth_token = "s3cret"\n'
        'hosts = ["gpu-box", "https://me:pw-in-url@proxy.example.com"]\n'
    )
    os.chmod(path, 0o644)
    warnings = load_config(path).warnings
    (warning,) = [w for w in warnings if "chmod 600" in w]
    assert "ollama.auth_token" in warning and "644" in warning and "s3cret" not in warning
    assert "ollama.hosts[1]" in warning and "pw-in-url" not in warning and "hosts[0]" not in warning
    os.chmod(path, 0o600)
    assert not [w for w in load_config(path).warnings if "chmod" in w]


def test_fresh_install_under_umask_022_is_private(lchat_home: Path) -> None:
    code = (
        "import json, os, stat; os.umask(0o022)\n"
        "from tui.config.paths import resolve_paths; from tui.config.read import load_config; from tui.services import Services\n"
        "from tui.domain import Role\n"
        "paths = resolve_paths(); paths.create(); loaded = load_config(paths.config_file)\n"
        "services = Services.open(paths, loaded.config, engines=lambda c, p: {})\n"
        "c = services.store.create_conversation(title='x'); services.store.add_message(c.id, Role.USER, 'hi')\n"
        "files = [paths.config_dir, paths.data_dir, paths.models_dir, paths.config_file, *paths.data_dir.glob('history.db*')]\n"
        "print(json.dumps({str(p.relative_to(paths.config_dir)): stat.S_IMODE(p.stat().st_mode) for p in files}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import json

    modes = json.loads(result.stdout)
    assert {"data/history.db", "data/history.db-wal", "data/history.db-shm", "config.toml"} <= set(modes)
    for name, mode in modes.items():
        expected = 0o600 if "." in Path(name).name else 0o700
        assert mode == expected, f"{name} is {mode:o}"


# 17: a 1 MB answer


async def test_a_one_megabyte_answer_streams_and_is_saved(open_services) -> None:
    line = "A line of a very long answer, with `code` and **bold** text. " * 2 + "\n"
    pieces = [line] * (1_000_000 // len(line))
    services = open_services(ScriptedEngine(script=fixed_script(*pieces)))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "long")
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = app.screen.query(MessageView).last()
        assert view.message.status is MessageStatus.COMPLETE
        # Drawn only in part (the UI stays quick), with a note saying so; saved whole.
        assert "Showing the first 64 KB of" in str(view.query_one(".long-answer", Static).render())
    (conversation,) = services.store.list_conversations()
    assert len(services.store.list_messages(conversation.id)[-1].content) == len(line) * len(pieces) >= 990_000


# 18: text from anywhere in the world, and a tiny terminal


async def test_wide_emoji_rtl_and_invalid_utf8_while_resizing(open_services) -> None:
    invalid = b"bad bytes: \xff\xfe\xc3(".decode("utf-8", errors="replace")
    pieces = ["漢字とかな ", "👩‍👩‍👧‍👦 ", "مرحبا بالعالم ", "שלום ", invalid, " e\u0301 ", "\u200d\u200d"] * 40
    services = open_services(ScriptedEngine(script=fixed_script(*pieces), delay=0.002))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "world")
        for size in [(20, 5), (21, 6), (80, 24), (20, 5), (120, 40)]:
            await pilot.pause(0.05)
            await pilot.resize_terminal(*size)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).last().message.content == "".join(pieces)
    (conversation,) = services.store.list_conversations()
    assert services.store.list_messages(conversation.id)[-1].content == "".join(pieces)
