"""soundcanvas.library.covers with real Pillow: what is decoded, how it is re-encoded, what is dropped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from soundcanvas.library import covers
from tests.audiogen import picture


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_a_large_jpeg_is_decoded_at_a_smaller_scale_and_kept() -> None:
    data = picture(6000, 4000, fmt="JPEG")  # 24 MP: over the pixel limit at full scale, 1500 x 1000 at 1/4
    cover = covers.normalize(data)
    assert cover is not None and (cover.width, cover.height, cover.content_type) == (1200, 800, "image/jpeg")


def test_a_picture_over_the_pixel_limit_is_dropped_before_it_is_decoded() -> None:
    assert covers.normalize(picture(4000, 3001)) is None  # a PNG cannot be decoded at a smaller scale
    assert covers.normalize(picture(4000, 3000)) is not None


def test_a_palette_image_with_a_transparent_colour_stays_transparent() -> None:
    image = Image.new("P", (64, 64), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 32, 64))
    cover = covers.normalize(encoded(image, "PNG", transparency=0))
    assert cover is not None and cover.content_type == "image/png"
    assert Image.open(io.BytesIO(cover.data)).mode == "RGBA"


def test_an_opaque_rgba_picture_becomes_a_jpeg() -> None:
    cover = covers.normalize(encoded(Image.new("RGBA", (40, 30), (10, 20, 30, 255)), "PNG"))
    assert cover is not None and cover.content_type == "image/jpeg" and (cover.width, cover.height) == (40, 30)


def test_cmyk_and_exif_orientation_are_handled() -> None:
    cmyk = covers.normalize(encoded(Image.new("CMYK", (50, 20), (0, 255, 255, 0)), "JPEG"))
    assert cmyk is not None and cmyk.content_type == "image/jpeg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rotated = covers.normalize(encoded(Image.new("RGB", (80, 20), "white"), "JPEG", exif=exif))
    assert rotated is not None and (rotated.width, rotated.height) == (20, 80)


@pytest.mark.parametrize("data", [
    b"",
    b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG start and nothing decodable
    b"GIF89a" + b"\xff" * 20,
    bytes(covers.MAX_COVER_BYTES + 1),
], ids=["empty", "svg", "broken-jpeg", "broken-gif", "over-the-byte-limit"])
def test_what_does_not_decode_is_dropped(data: bytes) -> None:
    assert covers.normalize(data) is None
