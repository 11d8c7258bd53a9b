"""Images brought into a conversation: known by their header before anything is decoded, decoded
only within a pixel budget, and shrunk for the model (Pillow; no Textual here)."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from tui.guard.safe_text import one_line

LONG_SIDE = 1568
"""Images are shrunk to at most this many pixels on their long side before they are sent."""
MAX_DECODE_BYTES = 96_000_000
"""Most memory one image may take to decode and shrink; its pixels are counted from its header
first. That is 24 million pixels of RGB (a 6K screenshot is 20), 12 million with transparency
(shrinking works on a second, premultiplied copy), 96 million of grey or a palette. A JPEG is
decoded at 1/2 to 1/8 scale when that is still at least LONG_SIDE, and counted so."""
MAX_PIXELS = 64_000_000
"""Most pixels decoded for one image of any kind, which bounds the time it takes too."""
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 8, "PA": 8, "RGBA": 8, "RGBa": 8, "La": 8}
"""What a pixel costs while it is decoded and shrunk, by mode; other modes take 4 bytes."""
_MODE_WORDS = {"1": "black-and-white", "L": "greyscale", "P": "palette", "RGB": "colour", "CMYK": "CMYK"}
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
"""The formats read. Others Pillow knows are left out on purpose: EPS would run Ghostscript."""
_SENT_AS_IS = ("PNG", "JPEG", "WEBP", "GIF")

_log = logging.getLogger("lchat.images")


class ImageRefused(ValueError):
    """An image that will not be decoded or sent; str() says why, in a user's words."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says, read without decoding its pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def image_header(data: bytes) -> ImageHeader | None:
    """The format and size `data` declares, if it is an image of a format lchat reads."""
    pil = _pillow()
    with _pillow_quiet():
        try:
            with pil.open(io.BytesIO(data), formats=FORMATS) as image:
                return ImageHeader(image.format or "", *image.size)
        except Exception:  # noqa: BLE001 - Pillow's parsers raise many kinds on bytes that are not theirs.
            return None


def prepared_image(name: str, data: bytes, header: ImageHeader) -> tuple[str, bytes]:
    """(mime, bytes to send): `data` as it is when small enough, else shrunk to LONG_SIDE; an image
    over the pixel budget is refused before a pixel of it is decoded."""
    shown = one_line(name, 60)
    pil = _pillow()
    with _pillow_quiet(), pil.open(io.BytesIO(data), formats=FORMATS) as image:
        if image.format == "JPEG":  # Decoded at 1/2 to 1/8 scale where that still gives the size sent.
            scale = min(1.0, LONG_SIDE / max(header.width, header.height))
            image.draft("RGB", (max(1, int(header.width * scale)), max(1, int(header.height * scale))))
        most = pixel_limit(image.mode)
        if image.size[0] * image.size[1] > most:
            raise ImageRefused(
                f"{shown} is an image of {header.width:,} x {header.height:,} pixels, more than the "
                f"{most / 1e6:.0f} million lchat decodes for a {_mode_words(image.mode)} image; it was not attached."
            )
        try:
            image.load()
            if max(header.width, header.height) <= LONG_SIDE and header.format in _SENT_AS_IS:
                return f"image/{header.format.lower()}", data
            image.thumbnail((LONG_SIDE, LONG_SIDE))
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "P"):
                image.save(out, format="PNG", optimize=True)
                return "image/png", out.getvalue()
            image.convert("RGB").save(out, format="JPEG", quality=90)
            return "image/jpeg", out.getvalue()
        except Exception as error:  # noqa: BLE001 - a damaged file fails in many ways inside Pillow.
            raise ImageRefused(
                f"{shown} looks like a {header.format} image but cannot be decoded ({one_line(str(error), 80)})."
            ) from None


def pixel_limit(mode: str) -> int:
    """Most pixels decoded for an image of `mode` (Pillow's mode: "RGB", "RGBA", "P"...)."""
    return min(MAX_PIXELS, MAX_DECODE_BYTES // _BYTES_PER_PIXEL.get(mode, 4))


def _mode_words(mode: str) -> str:
    return "transparent" if _BYTES_PER_PIXEL.get(mode) == 8 else _MODE_WORDS.get(mode, f"{mode} mode")


def _pillow() -> ModuleType:
    """PIL.Image, imported when first needed (it takes a while) and set up for lchat."""
    from PIL import Image

    # lchat checks every header against MAX_PIXELS before decoding, and says why it refuses; Pillow's
    # own check would print a DecompressionBombWarning on stderr, or refuse as if it were no image.
    Image.MAX_IMAGE_PIXELS = None
    return Image


@contextmanager
def _pillow_quiet() -> Iterator[None]:
    """Pillow's warnings (a damaged EXIF block, a palette to convert) go to lchat's log, not stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                _log.info("Pillow: %s", warning.message)
