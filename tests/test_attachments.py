"""Attachments judged by content: text, images (shrunk), everything else refused with a reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tui.attachments import (
    IMAGE_LONG_SIDE,
    AttachmentRefused,
    attachment_from_bytes,
    chip_label,
    read_attachment,
    turn_images,
    turn_text,
)
from tui.domain import ChatTurn, Role


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
