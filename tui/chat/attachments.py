"""Files and images brought into a conversation: read, judged by content, shrunk, and put into
the words a model reads (no Textual here)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from tui.chat.context_window import estimate_tokens
from tui.chat.images import LONG_SIDE, ImageRefused, image_header, prepared_image
from tui.domain import Attachment, text_block
from tui.guard.bounded_files import TooLarge, Unreadable, megabytes, read_regular_file
from tui.guard.safe_text import one_line

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Largest file attached, unless config says otherwise."""
IMAGE_LONG_SIDE = LONG_SIDE
"""Images are shrunk to at most this many pixels on their long side before they are sent."""
IMAGE_TOKENS = 1024
"""What an image costs in the context, roughly (vision encoders take 256 to 1,600 tokens)."""
_SNIFF_BYTES = 8192
_BAD_BYTES_ALLOWED = 8
"""A text file may hold a few bytes that are not UTF-8 (a log with one stray Latin-1 byte)."""


class AttachmentRefused(ValueError):
    """A file that cannot be attached; str() says why, in a user's words."""


class ImageNotTaken(AttachmentRefused):
    """An image for a model known not to take images (refused before it is decoded)."""


class RawFile(NamedTuple):
    """A file's bytes as read (bounded), not yet judged: what `lchat ask` holds until it knows the model."""

    name: str
    data: bytes


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RawFile:
    """The bytes of a file to attach: a regular file of at most `max_bytes`, read without ever
    blocking (a FIFO) or running on (/dev/zero); anything else is refused with the reason."""
    try:
        return RawFile(Path(path).name, read_regular_file(Path(path), max_bytes))
    except Unreadable as error:
        raise refusal(error) from None


def read_attachment(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, blind_model: str | None = None) -> Attachment:
    """Read a file to attach: an image (shrunk) or text; anything else is refused.

    `blind_model` names the model that will read it when that model is known not to take
    images: an image is then refused before it is decoded."""
    name, data = read_file(path, max_bytes=max_bytes)
    return attachment_from_bytes(name, data, max_bytes=max_bytes, blind_model=blind_model)


def pasted_path(text: str) -> Path | None:
    """The existing file a pasted text names, if the whole text is one path (quotes, spaces
    and a leading ~ allowed; a bare word is not taken for a path, nor is a folder, a FIFO or a device)."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        stripped = stripped[1:-1].strip()
    if not stripped or "\n" in stripped or not (stripped.startswith(("~", ".")) or os.sep in stripped):
        return None
    path = Path(os.path.expanduser(stripped))
    try:
        return path if path.is_file() else None
    except OSError:  # A name too long, or a folder we may not look into.
        return None


def attachment_from_bytes(
    name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, blind_model: str | None = None
) -> Attachment:
    """An attachment of bytes already read (a file, or a pipe's input); an image is known by its
    header, and its pixels are counted before any is decoded."""
    if len(data) > max_bytes:
        raise refusal(TooLarge(one_line(name, 60), max_bytes, len(data)))
    header = image_header(data)
    if header is not None:
        if blind_model is not None:
            raise ImageNotTaken(
                f"{one_line(name, 60)} is an image, and {one_line(blind_model, 80)} does not take images; it was not attached."
            )
        try:
            return Attachment(name, *prepared_image(name, data, header))
        except ImageRefused as refused:
            raise AttachmentRefused(str(refused)) from None
    if is_text(data):
        return Attachment(name, "text/plain", data)
    raise AttachmentRefused(f"{one_line(name, 60)} is neither text nor an image lchat can read; it was not attached.")


def is_text(data: bytes) -> bool:
    """Text by content: no NUL byte in its first 8 KB and valid UTF-8 but for a few bytes."""
    if b"\0" in data[:_SNIFF_BYTES]:
        return False
    text = data.decode("utf-8", errors="replace")
    return text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd") <= _BAD_BYTES_ALLOWED


def refusal(error: Unreadable) -> AttachmentRefused:
    """The reader's reason as an attachment's refusal, with the setting that sets the size limit."""
    if isinstance(error, TooLarge):
        return AttachmentRefused(
            f"{error}; files up to {megabytes(error.limit)} can be attached (chat.attachment_max_mb)."
        )
    return AttachmentRefused(f"{error}; it was not attached.")


def attachment_tokens(attachment: Attachment) -> int:
    """Estimated context tokens an attachment costs."""
    return IMAGE_TOKENS if attachment.is_image else estimate_tokens(text_block(attachment))


def size_label(size: int) -> str:
    """ "812 B", "14.2 KB", "3.1 MB"."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1e6:.1f} MB"


def chip_label(attachment: Attachment) -> str:
    """What a chip shows: name, size, estimated tokens (terminal-safe)."""
    return f"📎 {one_line(attachment.name, 40)} · {size_label(len(attachment.data))} · ~{attachment_tokens(attachment):,} tok"


def total_tokens(attachments: Sequence[Attachment]) -> int:
    return sum(attachment_tokens(attachment) for attachment in attachments)
