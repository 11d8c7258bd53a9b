"""The hostile-input matrix, rows attachment_path, pasted_path, stdin, image and clipboard_copy.

Each cell is `test_<surface>__<case>`. A cell asserts a clear line (on stderr, or a toast), the
exit code the README documents (2 for a file refused for what it is, 1 for a model that takes no
images, 128 + the signal), a bounded memory (peak RSS of the `lchat` process under 300 MB,
measured with wait4 on the child) and a clean terminal byte stream (no ESC, BEL or C1 byte, no
traceback, no library warning). Nothing here may hang: subprocesses run under a deadline, and a
FIFO gets a rescuing writer after 20 s (the cell then fails).

Cells that do not apply, and why:
- attachment_path__bomb: a file's bytes are bounded by the size limit; bombs are the image row.
- attachment_path__signal, pasted_path__signal, image__signal: nothing waits or runs long enough
  to interrupt: the open never blocks, the read stops at the limit, a bomb is refused from its header.
- pasted_path__huge, pasted_path__bomb: the same reader and judge as attachment_path and image.
- stdin__escapes, stdin__markup, stdin__bomb: stdin's name is lchat's own ("stdin"); its bytes
  are judged as a file's are (the image row).
- image__endless, image__blocking: an image is a file's bytes, read by attachment_path's reader.
- image__markup: a name only reaches a toast (markup off) or stderr (no markup); covered by the
  attachment_path and pasted_path markup cells.
- clipboard_copy__endless, __blocking, __bomb, __signal: the copy is of text already in memory,
  bounded by the stored answer; nothing is read or waited for.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual import events

from tests.big_images import sparse_png
from tests.fake_ollama import OllamaState, start_ollama
from tests.peak_rss import live_peak_mb, probed, reported_mb
from tests.scripted_engine import ScriptedEngine
from tui.ui.app import LchatApp
from tui.ui.clipboard import MAX_ENCODED
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import InputQuestion
from tui.ui.textual_compat import terminal_driver

RSS_LIMIT_MB = 300
DEADLINE_S = 90
"""Only against a hang: a cell that is right finishes in seconds."""
HOSTILE_NAME = "evil\x1b]2;pwned\x07\x9b31m[bold]b[@click=app.quit]x"
SIZE = (120, 40)


@dataclass
class Ran:
    code: int
    out: str
    err: str
    peak_mb: float


def lchat(*args: str, stdin: int | None = subprocess.DEVNULL, cwd: Path | None = None) -> Ran:
    """`lchat ARGS` in a child that reports its own peak RSS (never the test's own)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak"
        child = subprocess.Popen(
            probed(report, *args),
            stdin=stdin,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
        )
        _, status, _ = wait_for(child)
        out.seek(0)
        err.seek(0)
        return Ran(
            os.waitstatus_to_exitcode(status),
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            reported_mb(report),
        )


def wait_for(child: subprocess.Popen) -> tuple[int, int, resource.struct_rusage]:
    """wait4 the child, killing it (and failing) past the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
            return pid, status, usage
        if time.monotonic() > deadline:
            child.kill()
            os.wait4(child.pid, 0)
            child.returncode = -9
            pytest.fail(f"lchat did not finish within {DEADLINE_S} s")
        time.sleep(0.05)


def assert_clean(*streams: str) -> None:
    """Nothing that steers a terminal, and nothing but lchat's own lines."""
    for text in streams:
        assert not re.search(r"[\x1b\x07\x80-\x9f]", text), repr(text)
        assert "Traceback" not in text and "Warning" not in text, text


def assert_refused(ran: Ran, line: str, code: int = 2) -> None:
    assert ran.code == code, ran.err
    assert ran.err.strip() == line
    assert ran.out == ""
    assert ran.peak_mb < RSS_LIMIT_MB, f"peak RSS {ran.peak_mb:.0f} MB"
    assert_clean(ran.out, ran.err)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO nobody writes to; a reader stuck on it is freed after 20 s and the cell fails."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    rescued = rescuer(path)
    yield path
    rescued.cancel()
    assert not rescued.fired, "a read blocked on the FIFO"


class rescuer(threading.Timer):  # noqa: N801 - used as a function
    """After 20 s, open `path` for writing (it only opens if a reader waits) and close it."""

    def __init__(self, path: Path) -> None:
        super().__init__(20, self._rescue)
        self.path, self.fired = path, False
        self.daemon = True
        self.start()

    def _rescue(self) -> None:
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.fired = True
        except OSError:
            pass


@pytest.fixture
def ollama(lchat_home: Path) -> Iterator[OllamaState]:
    state = OllamaState(reply=["It", " is", " fine."])
    state.add("llama3.2:latest")
    state.add("llava:7b")
    state.seers.add("llava:7b")
    served = start_ollama(state)
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{served.url}"]\n')
    yield state
    served.stop()


# attachment_path: lchat ask -f, and alt+a in the TUI


def test_attachment_path__endless(tmp_path: Path) -> None:
    (tmp_path / "zeros.txt").symlink_to("/dev/zero")
    ran = lchat("ask", "-f", "zeros.txt", "hi", cwd=tmp_path)
    assert_refused(ran, "lchat: zeros.txt is not a regular file (a character device); it was not attached.")


def test_attachment_path__blocking(fifo: Path) -> None:
    ran = lchat("ask", "-f", "pipe", "hi", cwd=fifo.parent)
    assert_refused(ran, "lchat: pipe is not a regular file (a FIFO); it was not attached.")


async def test_attachment_path__blocking_in_the_tui(open_services, fake_engine, fifo: Path, notified) -> None:
    """alt+a on a FIFO: a toast at once, nothing attached, and the app quits at once after."""
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("alt+a")
        await pilot.pause()
        assert isinstance(app.screen, InputQuestion)
        await pilot.press(*str(fifo), "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.attach.pending == []
        assert any(
            n.severity == "warning" and n.message.endswith("/pipe is not a regular file (a FIFO); it was not attached.")
            for n in notified
        )
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


def test_attachment_path__huge(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.log"
    with open(sparse, "wb") as file:
        file.truncate(5_000_000_000)  # 5 GB that take no disk
    ran = lchat("ask", "-f", "huge.log", "hi", cwd=tmp_path)
    assert_refused(
        ran,
        "lchat: huge.log is larger than 20 MB (5000.0 MB); files up to 20 MB can be attached (chat.attachment_max_mb).",
    )


def test_attachment_path__escapes_and_markup(tmp_path: Path) -> None:
    hostile = tmp_path / HOSTILE_NAME
    os.mkfifo(hostile)
    rescued = rescuer(hostile)
    ran = lchat("ask", "-f", HOSTILE_NAME, "hi", cwd=tmp_path)
    rescued.cancel()
    assert not rescued.fired
    shown = "evil␛]2;pwned␇\ufffd31m[bold]b[@click=app.quit]x"
    assert_refused(ran, f"lchat: {shown} is not a regular file (a FIFO); it was not attached.")


async def test_attachment_path__markup_in_the_tui(open_services, fake_engine, tmp_path: Path, notified) -> None:
    """A name with Textual markup, typed at alt+a: the toast shows it as text."""
    blob = tmp_path / "[bold]b[@click=app.quit]x.bin"
    blob.write_bytes(b"\0\1\2" * 10)
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("alt+a")
        await pilot.pause()
        await pilot.press(*str(blob), "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running  # the [@click=app.quit] did nothing
    (toast,) = [n for n in notified if "neither text nor an image" in n.message]
    assert toast.message.startswith("[bold]b[@click=app.quit]x.bin is neither") and toast.markup is False


# pasted_path: a path pasted into the composer, attached after y


async def paste_then_swap(app: LchatApp, pilot, path: Path, swap) -> None:
    """Paste the path of a regular file; before y is pressed, `swap` puts something else there."""
    app.post_message(events.Paste(str(path)))
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    swap(path)
    await pilot.press("y")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_pasted_path__endless(open_services, fake_engine, tmp_path: Path, notified) -> None:
    zeros = tmp_path / "zeros.txt"
    zeros.symlink_to("/dev/zero")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")

    def to_dev_zero(path: Path) -> None:
        path.unlink()
        path.symlink_to("/dev/zero")

    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(events.Paste(str(zeros)))  # not a regular file: pasted as text, not offered
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await paste_then_swap(app, pilot, notes, to_dev_zero)
        assert app.screen.attach.pending == []
    (toast,) = [n.message for n in notified if "notes.txt" in n.message]
    assert toast.endswith("/notes.txt is not a regular file (a character device); it was not attached.")


async def test_pasted_path__blocking(open_services, fake_engine, tmp_path: Path, notified) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    rescued: list[rescuer] = []

    def to_fifo(path: Path) -> None:
        path.unlink()
        os.mkfifo(path)
        rescued.append(rescuer(path))

    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await paste_then_swap(app, pilot, notes, to_fifo)
        assert app.screen.attach.pending == []
        await pilot.press("ctrl+q")
        await pilot.pause()
    rescued[0].cancel()
    assert not rescued[0].fired, "the attach blocked on the FIFO"
    (toast,) = [n.message for n in notified if "notes.txt" in n.message]
    assert toast.endswith("/notes.txt is not a regular file (a FIFO); it was not attached.")


async def test_pasted_path__escapes_and_markup(open_services, fake_engine, tmp_path: Path) -> None:
    hostile = tmp_path / HOSTILE_NAME
    hostile.write_text("text\n")
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(events.Paste(str(hostile)))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert not re.search(r"[\x1b\x07\x80-\x9f]", question)
        assert "evil␛]2;pwned␇" in question and "[bold]b[@click=app.quit]x" in question
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (attached,) = app.screen.attach.pending
        assert attached.name == HOSTILE_NAME  # kept as it is; only its display is made safe
        chip = str(app.screen.query_one("#attachments").get_option_at_index(0).prompt)
        assert not re.search(r"[\x1b\x07\x80-\x9f]", chip) and "[bold]b[@click=app.qu" in chip


# stdin: lchat ask with a pipe or a file on stdin


def test_stdin__endless() -> None:
    with open("/dev/zero", "rb") as zeros:
        ran = lchat("ask", "hi", stdin=zeros.fileno())
    assert_refused(
        ran, "lchat: stdin is larger than 20 MB; files up to 20 MB can be attached (chat.attachment_max_mb)."
    )


def test_stdin__huge(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.log"
    with open(sparse, "wb") as file:
        file.truncate(3_000_000_000)
    with open(sparse, "rb") as redirected:  # lchat ask hi < huge.log
        ran = lchat("ask", "hi", stdin=redirected.fileno())
    assert_refused(
        ran, "lchat: stdin is larger than 20 MB; files up to 20 MB can be attached (chat.attachment_max_mb)."
    )


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
def test_stdin__blocking_and_signal_midway(sent: signal.Signals, code: int) -> None:
    """A pipe that stays open and silent: lchat says it is waiting for it, and a signal ends the
    wait (ctrl+c: 130 with a line; SIGTERM: killed by it, 143 to the shell, as the README says)."""
    reader, writer = os.pipe()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tui", "ask", "hi"], stdin=reader, stdout=out, stderr=subprocess.PIPE
        )
        os.close(reader)
        try:
            assert child.stderr is not None
            said = b""
            deadline = time.monotonic() + DEADLINE_S
            # The whole line: a read may end inside it.
            while not (b"waiting for stdin" in said and said.endswith(b"\n")) and time.monotonic() < deadline:
                if select.select([child.stderr], [], [], 1)[0]:
                    said += os.read(child.stderr.fileno(), 4096)
            assert said.decode() == "lchat: waiting for stdin to end (--no-stdin: do not read it)\n"
            peak_mb = live_peak_mb(child.pid)  # a signal ends it before it could report
            child.send_signal(sent)
            _, status, _ = wait_for(child)
            said += child.stderr.read()
        finally:
            os.close(writer)
            if child.returncode is None:
                child.kill()
                child.wait()
    assert os.waitstatus_to_exitcode(status) == code
    if sent == signal.SIGINT:
        assert said.decode().endswith("\nlchat: interrupted\n")
    assert peak_mb < RSS_LIMIT_MB
    assert_clean(said.decode())


# image: lchat ask -f with a picture, and alt+a in the TUI


@pytest.mark.parametrize("side", [13000, 30000])
def test_image__bomb(ollama: OllamaState, tmp_path: Path, side: int) -> None:
    """A 20 KB PNG of 169 million pixels (Pillow warned, then took 1.4 GB), and one of 900
    million (Pillow refused it as "neither text nor an image"): refused from the header."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(sparse_png(side, side))
    ran = lchat("ask", "-m", "llava:7b", "-f", str(bomb), "what is this?")
    assert_refused(
        ran,
        f"lchat: bomb.png is an image of {side:,} x {side:,} pixels, more than the 64 million lchat decodes "
        "for a black-and-white image; it was not attached.",
    )
    assert ollama.chats == []


def test_image__bomb_for_a_model_that_takes_no_images(ollama: OllamaState, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(sparse_png(13000, 13000))
    ran = lchat("ask", "-m", "llama3.2:latest", "-f", str(bomb), "what is this?")
    assert_refused(
        ran, "lchat: bomb.png is an image, and llama3.2:latest does not take images; it was not attached.", code=1
    )


def test_image__huge(ollama: OllamaState, tmp_path: Path) -> None:
    """As many pixels as any decode may take, with transparency: decoded, shrunk, sent, bounded."""
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGBA", (4000, 3000), (10, 20, 30, 40)).save(big)
    ran = lchat("ask", "-m", "llava:7b", "-f", str(big), "what is this?")
    assert ran.code == 0, ran.err
    assert ran.peak_mb < RSS_LIMIT_MB, f"peak RSS {ran.peak_mb:.0f} MB"
    assert_clean(ran.err)
    assert len(ollama.chats[-1]["messages"][-1]["images"]) == 1


def test_image__escapes(ollama: OllamaState, tmp_path: Path) -> None:
    bomb = tmp_path / (HOSTILE_NAME + ".png")
    bomb.write_bytes(sparse_png(13000, 13000))
    ran = lchat("ask", "-m", "llava:7b", "-f", str(bomb), "what is this?")
    assert ran.code == 2 and "evil␛]2;pwned␇" in ran.err and "13,000 x 13,000 pixels" in ran.err
    assert_clean(ran.out, ran.err)


async def test_image__bomb_in_the_tui(open_services, fake_engine, tmp_path: Path, notified) -> None:
    """alt+a on a bomb: refused from its header; for a model known to take no images, not even that."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(sparse_png(13000, 13000))
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await app.screen.models.loaded.wait()
        for blind in (None, False):
            fake_engine.supports_images = lambda model, blind=blind: blind  # type: ignore[method-assign]
            await pilot.press("alt+a")
            await pilot.pause()
            await pilot.press(*str(bomb), "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert app.screen.attach.pending == []
    assert [n.message for n in notified if "bomb.png" in n.message] == [
        "bomb.png is an image of 13,000 x 13,000 pixels, more than the 64 million lchat decodes for a "
        "black-and-white image; it was not attached.",
        "bomb.png is an image, and fake-model does not take images; it was not attached.",
    ]


# clipboard_copy: ctrl+t / ctrl+b put an answer on the clipboard through OSC 52


HOSTILE_ANSWER = (
    "red \x1b[31mtext\x1b[0m, a \x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\, "
    "C1 \x9b2J and \x9d8;;https://x\x9ctoo\x9d8;;\x9c, a hidden \x1b]52;c;cHduZWQ=\x07, a title \x1b]2;t\x1b\\,"
    " a bell\x07 and\ttab\nnext line\n\n```sh\necho \x1b[1mhi\x1b[0m\n```\n"
)
CLEAN_ANSWER = "red text, a link, C1  and too, a hidden , a title , a bell and\ttab\nnext line\n\n```sh\necho hi\n```\n"


def payloads(written: list[str]) -> list[str]:
    """The text of every OSC 52 sequence written (plain, or wrapped for tmux)."""
    return [
        base64.b64decode(encoded).decode("utf-8")
        for chunk in written
        for encoded in re.findall(r"\x1b\x1b?\]52;c;([A-Za-z0-9+/=]*)\x07", chunk)
    ]


@pytest.mark.parametrize("tmux", [False, True])
async def test_clipboard_copy__escapes(open_services, monkeypatch, tmux: bool) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    if tmux:
        monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    else:
        monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("STY", raising=False)
    app = LchatApp(open_services(ScriptedEngine(script=lambda turns: [HOSTILE_ANSWER])))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        written: list[str] = []
        driver = terminal_driver(app)
        assert driver is not None
        monkeypatch.setattr(driver, "write", written.append)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.clipboard == CLEAN_ANSWER
        assert payloads(written) == [CLEAN_ANSWER] * (2 if tmux else 1)
        written.clear()
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert payloads(written) == ["echo hi\n"] * (2 if tmux else 1)


async def test_clipboard_copy__markup(open_services, monkeypatch) -> None:
    """Markup in an answer is text: copied as it is, and nothing it names is run."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TMUX", raising=False)
    answer = "[b]bold[/b] [@click=app.quit]quit[/]"
    app = LchatApp(open_services(ScriptedEngine(script=lambda turns: [answer])))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.clipboard == answer and app.is_running


async def test_clipboard_copy__huge(open_services, paths, monkeypatch) -> None:
    """Too long for OSC 52: saved to clipboard.txt instead, as text without the terminal codes."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TMUX", raising=False)
    times = MAX_ENCODED // len(CLEAN_ANSWER) + 1  # its text alone is too long for OSC 52
    answer = HOSTILE_ANSWER * times
    app = LchatApp(open_services(ScriptedEngine(script=lambda turns: [answer])))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("ctrl+t")
        await pilot.pause()
    saved = (paths.data_dir / "clipboard.txt").read_text()
    assert saved == CLEAN_ANSWER * times
