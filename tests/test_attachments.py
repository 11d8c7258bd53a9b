"""Attachments judged by content: text, images (shrunk), everything else refused with a reason."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest
from PIL import Image

from tests.big_images import sparse_png
from tui.chat.attachments import (
    IMAGE_LONG_SIDE,
    AttachmentRefused,
    ImageNotTaken,
    attachment_from_bytes,
    chip_label,
    read_attachment,
)
from tui.chat.images import pixel_limit
from tui.domain import ChatTurn, Role, turn_images, turn_text
from tui.guard.bounded_files import TooLarge, read_stream


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "red").save(out, format="PNG")
    return out.getvalue()


def test_text_is_known_by_content_not_by_name(tmp_path: Path) -> None:
    log = tmp_path / "server.bin"
    log.write_bytes("error at line 3\nretrying…\n".encode() + b"\xff stray byte\n")
    attachment = read_attachment(log)
    assert attachment.mime == "text/plain" and "retrying…" in attachment.text
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"looks like text\0but holds a NUL")
    with pytest.raises(AttachmentRefused, match="neither text nor an image"):
        read_attachment(binary)


def test_mostly_invalid_utf8_is_not_text() -> None:
    with pytest.raises(AttachmentRefused):
        attachment_from_bytes("latin1.dat", bytes(range(0x80, 0x100)) * 4)


def test_big_images_are_shrunk_and_small_ones_sent_as_they_are() -> None:
    small = png_bytes(64, 32)
    assert attachment_from_bytes("small.png", small).data == small
    big = attachment_from_bytes("screenshot.png", png_bytes(4000, 1000))
    with Image.open(io.BytesIO(big.data)) as shrunk:
        assert shrunk.size == (IMAGE_LONG_SIDE, IMAGE_LONG_SIDE // 4)
    assert big.mime == "image/jpeg" and big.is_image


def test_size_limit_and_missing_files_are_refused_with_the_figures(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"x" * 3_000_000)
    with pytest.raises(AttachmentRefused, match=r"big\.log is larger than 2 MB \(3\.0 MB\); files up to 2 MB"):
        read_attachment(path, max_bytes=2_000_000)
    path.unlink()
    with pytest.raises(AttachmentRefused, match="does not exist"):
        read_attachment(path)


def test_a_turn_reads_its_files_first_and_keeps_images_apart() -> None:
    log = attachment_from_bytes("app.log", b"boom\n")
    image = attachment_from_bytes("shot.png", png_bytes(8, 8))
    turn = ChatTurn(Role.USER, "what failed?", attachments=(log, image))
    assert turn_text(turn) == '<file name="app.log">\nboom\n</file>\n\nwhat failed?'
    assert turn_images(turn) == [image]


def test_chip_labels_are_terminal_safe() -> None:
    label = chip_label(attachment_from_bytes("evil\x1b]52;c;aGk=\x07.txt", b"hi"))
    assert "\x1b" not in label and "\x07" not in label and "2 B" in label


# Only regular files, never blocking, never more than the limit + 1 byte (issue 20, item 3)


@pytest.fixture
def fifo(tmp_path: Path):
    """A FIFO nobody writes to. Should a read block on it, a writer comes after 20 s to free
    it (the test then fails instead of hanging)."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    rescued: list[bool] = []

    def rescue() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # opens only if a reader waits
            rescued.append(True)
        except OSError:
            pass

    timer = threading.Timer(20, rescue)
    timer.start()
    yield path
    timer.cancel()
    assert not rescued, "a read blocked on the FIFO"


def test_a_fifo_is_refused_at_once_by_what_it_is(fifo: Path) -> None:
    with pytest.raises(AttachmentRefused, match=r"pipe is not a regular file \(a FIFO\); it was not attached"):
        read_attachment(fifo)


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    (tmp_path / "zeros.txt").symlink_to("/dev/zero")
    with pytest.raises(AttachmentRefused, match=r"zeros\.txt is not a regular file \(a character device\)"):
        read_attachment(tmp_path / "zeros.txt")


def test_a_socket_and_a_folder_are_named_as_such(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "sock"))
    try:
        with pytest.raises(AttachmentRefused, match=r"is not a regular file \(a socket\)"):
            read_attachment(tmp_path / "sock")
    finally:
        listener.close()
    with pytest.raises(AttachmentRefused, match="is a folder, not a file"):
        read_attachment(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_file_that_says_it_is_empty_is_still_read_only_to_the_limit() -> None:
    """/proc files are regular and report size 0: the read itself stops at the limit + 1 byte."""
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "read", counting_read)
        with pytest.raises(AttachmentRefused, match=r"status is larger than 0\.0001 MB"):
            read_attachment(Path("/proc/self/status"), max_bytes=100)
    assert sum(reads) <= 101


def test_a_stream_stops_at_the_limit_and_a_silent_one_is_named() -> None:
    with open("/dev/zero", "rb") as zeros:
        with pytest.raises(TooLarge, match=r"^stdin is larger than 1 MB$"):
            read_stream(zeros, 1_000_000, name="stdin")
    assert read_stream(io.BytesIO(b"short"), 10, name="stdin") == b"short"
    reader, writer = os.pipe()
    told: list[bool] = []

    def waiting() -> None:  # Told while nothing has come; then the writer speaks and hangs up.
        told.append(True)
        os.write(writer, b"late")
        os.close(writer)

    with os.fdopen(reader, "rb") as silent:
        assert read_stream(silent, 10, name="stdin", waiting=waiting, patience_s=0.1) == b"late"
    assert told == [True]


# Image bombs (issue 20, item 4)


def test_an_image_bomb_is_refused_from_its_header_with_its_size(recwarn: pytest.WarningsRecorder, capfd) -> None:
    decoded: list[bool] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image.Image, "load", lambda self: decoded.append(True))
        for side in (13000, 30000):  # 169 million pixels: Pillow warned; 900 million: it said "no image"
            with pytest.raises(AttachmentRefused) as refused:
                attachment_from_bytes("bomb.png", sparse_png(side, side))
            assert str(refused.value) == (
                f"bomb.png is an image of {side:,} x {side:,} pixels, more than the 64 million lchat "
                "decodes for a black-and-white image; it was not attached."
            )
    assert decoded == [] and len(recwarn) == 0
    assert "Warning" not in capfd.readouterr().err


def test_the_pixel_budget_counts_what_decoding_takes() -> None:
    assert pixel_limit("RGB") == 24_000_000 and pixel_limit("RGBA") == 12_000_000
    assert pixel_limit("P") == pixel_limit("1") == 64_000_000  # every mode is capped
    with pytest.raises(AttachmentRefused, match=r"4,000 x 3,500 pixels, more than the 12 million .* transparent"):
        attachment_from_bytes("alpha.png", png_bytes(4000, 3500, "RGBA"))


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (7000, 5000), "green").save(photo, format="JPEG")
    loaded: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def load(self: Image.Image):
        loaded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", load)
    sent = attachment_from_bytes("photo.jpg", photo.getvalue())
    assert loaded[0][0] < 7000  # 35 million pixels in the file, far fewer decoded
    with Image.open(io.BytesIO(sent.data)) as shrunk:
        assert shrunk.size == (IMAGE_LONG_SIDE, 1120)


def test_an_image_for_a_model_that_takes_none_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    shot = png_bytes(8, 8)
    Image.init()  # Pillow's own plugins decode a prototype image as they load: that is not the attachment.
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(
        ImageNotTaken, match=r"^shot\.png is an image, and llama3\.2 does not take images; it was not attached\.$"
    ):
        attachment_from_bytes("shot.png", shot, blind_model="llama3.2")
    assert attachment_from_bytes("notes.txt", b"hi", blind_model="llama3.2").text == "hi"


def test_a_damaged_image_says_so() -> None:
    whole = png_bytes(2000, 2000)
    with pytest.raises(AttachmentRefused, match=r"cut\.png looks like a PNG image but cannot be decoded"):
        attachment_from_bytes("cut.png", whole[: len(whole) // 2])
