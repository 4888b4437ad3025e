"""Cover art we can serve: an embedded picture decoded with Pillow and re-encoded by us.

A file's embedded picture is the uploader's bytes under the uploader's label: a FLAC picture or
an ID3 `APIC` frame can say `text/html` and hold a script, or say `image/svg+xml`. The library
never stores or serves those bytes. `normalize` decodes the picture as a raster image (JPEG, PNG,
GIF, WebP, BMP or TIFF; the first frame of an animation), within a byte limit and a pixel
limit checked before any pixel is decoded (on the size it will be decoded at: a JPEG is decoded
at 1/2, 1/4 or 1/8 scale when that is still larger than the stored cover), applies its EXIF
orientation, scales it so that its longest side is at most MAX_SIDE_PX, and encodes it again:

- JPEG (quality 88, no metadata) when it is opaque,
- PNG when it has transparency (an alpha channel, or a transparent palette entry).

The content type and the key's extension come from what was encoded here, never from the file.
Anything that does not decode within the limits gives None: the track is kept without a cover.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

MAX_COVER_BYTES = 16 * 1024 * 1024  # an embedded picture larger than this is not decoded
# Pixels decoded at most (width x height from the header, after a JPEG's scaled decoding): 12 MP
# is 4000 x 3000. An RGBA image takes 4 bytes a pixel and Pillow's resize makes a premultiplied
# copy, so the largest cover costs about 2 x 48 MB while it is scaled (bench/inspect_memory.py).
MAX_COVER_PIXELS = 12_000_000
MAX_SIDE_PX = 1200  # longest side of the stored cover
JPEG_QUALITY = 88
RASTER_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

# What Pillow and its plugins raise on malformed data, on open or on decode.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError, TypeError,
)


@dataclass(frozen=True)
class Cover:
    """A cover as stored: our own encoding, its content type and the key extension that goes with it."""

    data: bytes
    content_type: str  # image/jpeg or image/png
    extension: str  # jpg or png
    width: int
    height: int


def normalize(data: bytes) -> Cover | None:
    """The picture re-encoded as a bounded JPEG or PNG, or None when it is not a raster image we decode."""
    if not data or len(data) > MAX_COVER_BYTES:
        return None
    from PIL import Image  # only the step that reads covers needs Pillow

    undecodable: tuple[type[BaseException], ...] = (
        *_DECODE_ERRORS, Image.DecompressionBombWarning, Image.DecompressionBombError,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _reencode(data)
        except undecodable:
            return None


def _reencode(data: bytes) -> Cover | None:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=RASTER_FORMATS) as opened:
        opened.draft("RGB", (MAX_SIDE_PX, MAX_SIDE_PX))  # JPEG: decode at a smaller scale when it can
        width, height = opened.size
        if width < 1 or height < 1 or width * height > MAX_COVER_PIXELS:
            return None
        opened.load()  # the first frame of an animation
        ImageOps.exif_transpose(opened, in_place=True)
        picture: Image.Image = opened
        if picture.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, 1-bit, CMYK, 16-bit ...: resizable first
            picture = picture.convert("RGBA" if _has_transparency(picture) else "RGB")
        picture.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
        transparent = _has_transparency(picture)  # measured on the scaled image: fewer pixels to read
        wanted = "RGBA" if transparent else "RGB"
        if picture.mode != wanted:
            picture = picture.convert(wanted)
        out = io.BytesIO()
        if transparent:
            picture.save(out, "PNG")
            return Cover(out.getvalue(), "image/png", "png", *picture.size)
        picture.save(out, "JPEG", quality=JPEG_QUALITY)
        return Cover(out.getvalue(), "image/jpeg", "jpg", *picture.size)


def _has_transparency(picture: Image.Image) -> bool:
    """An alpha channel that is not fully opaque everywhere, or a transparent colour (palette, tRNS)."""
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        lowest_alpha = picture.getchannel(picture.mode[-1]).getextrema()[0]
        return bool(lowest_alpha < 255)  # type: ignore[operator]
    return "transparency" in picture.info
