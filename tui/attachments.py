"""Files and images brought into a conversation: read, judged by content, shrunk, and put into
the words a model reads (no Textual here)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from tui.context_window import estimate_tokens
from tui.domain import Attachment, ChatTurn
from tui.safe_text import one_line

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Largest file attached, unless config says otherwise."""
IMAGE_LONG_SIDE = 1568
"""Images are shrunk to at most this many pixels on their long side before they are sent."""
IMAGE_TOKENS = 1024
"""What an image costs in the context, roughly (vision encoders take 256 to 1,600 tokens)."""
_SNIFF_BYTES = 8192
_BAD_BYTES_ALLOWED = 8
"""A text file may hold a few bytes that are not UTF-8 (a log with one stray Latin-1 byte)."""


class AttachmentRefused(ValueError):
    """A file that cannot be attached; str() says why, in a user's words."""


def read_attachment(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Attachment:
    """Read a file to attach: an image (shrunk) or text; anything else is refused."""
    name = Path(path).name
    try:
        size = Path(path).stat().st_size
        if size > max_bytes:
            raise AttachmentRefused(
                f"{one_line(name, 60)} is {size / 1e6:.1f} MB; files up to {max_bytes / 1e6:.0f} MB can be attached."
            )
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AttachmentRefused(f"{one_line(str(path), 80)} does not exist (any more).") from None
    except IsADirectoryError:
        raise AttachmentRefused(f"{one_line(str(path), 80)} is a folder, not a file.") from None
    except OSError as error:
        raise AttachmentRefused(f"{one_line(str(path), 80)} cannot be read: {error.strerror}.") from None
    return attachment_from_bytes(name, data, max_bytes=max_bytes)


def pasted_path(text: str) -> Path | None:
    """The existing file a pasted text names, if the whole text is one path (quotes, spaces
    and a leading ~ allowed; a bare word is not taken for a path, nor is a folder)."""
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


def attachment_from_bytes(name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Attachment:
    """An attachment of bytes already read (a file, or a pipe's input)."""
    if len(data) > max_bytes:
        raise AttachmentRefused(
            f"{one_line(name, 60)} is {len(data) / 1e6:.1f} MB; files up to {max_bytes / 1e6:.0f} MB can be attached."
        )
    image = _as_image(data)
    if image is not None:
        return Attachment(name, *image)
    if is_text(data):
        return Attachment(name, "text/plain", data)
    raise AttachmentRefused(f"{one_line(name, 60)} is neither text nor an image lchat can read; it was not attached.")


def is_text(data: bytes) -> bool:
    """Text by content: no NUL byte in its first 8 KB and valid UTF-8 but for a few bytes."""
    if b"\0" in data[:_SNIFF_BYTES]:
        return False
    text = data.decode("utf-8", errors="replace")
    return text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd") <= _BAD_BYTES_ALLOWED


def _as_image(data: bytes) -> tuple[str, bytes] | None:
    """(mime, bytes to send) when `data` is an image Pillow reads, shrunk to IMAGE_LONG_SIDE."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind = (image.format or "PNG").upper()
            if max(image.size) <= IMAGE_LONG_SIDE and kind in ("PNG", "JPEG", "WEBP", "GIF"):
                return f"image/{kind.lower()}", data
            image.thumbnail((IMAGE_LONG_SIDE, IMAGE_LONG_SIDE))
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "P"):
                image.save(out, format="PNG", optimize=True)
                return "image/png", out.getvalue()
            image.convert("RGB").save(out, format="JPEG", quality=90)
            return "image/jpeg", out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def text_block(attachment: Attachment) -> str:
    """A text file as the model reads it: delimited and named."""
    body = attachment.text
    newline = "" if body.endswith("\n") else "\n"
    return f'<file name="{attachment.name}">\n{body}{newline}</file>'


def turn_text(turn: ChatTurn) -> str:
    """A turn's text with its text files in front of it, each delimited and named."""
    blocks = [text_block(a) for a in turn.attachments if not a.is_image]
    return "\n\n".join([*blocks, turn.content]) if blocks else turn.content


def turn_images(turn: ChatTurn) -> list[Attachment]:
    return [attachment for attachment in turn.attachments if attachment.is_image]


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
