"""analyze_image: defensive decoding (every rejection), every image mode, orientation, draft decoding,
and features that tell pictures apart."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from soundcanvas.core.errors import ImageRejected
from soundcanvas.generation.analysis import analyze_image
from soundcanvas.generation.music import ImageFeatures
from tests import imagegen

STRIPS = 16


def rejection(data: bytes, **kwargs: Any) -> str:
    with pytest.raises(ImageRejected) as info:
        analyze_image(data, **kwargs)
    return str(info.value)


# --- rejections --------------------------------------------------------------------------------


def test_empty_file_is_rejected() -> None:
    assert rejection(b"") == "the file is empty"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (imagegen.pdf_bytes, "not a supported image: got PDF data"),
        (imagegen.zip_bytes, "not a supported image: got ZIP data"),
        (imagegen.mp3_bytes, "not a supported image: got MP3 audio"),
        (imagegen.html_bytes, "not a supported image: got HTML"),
        (imagegen.text_bytes, "not a supported image: got plain text"),
    ],
)
def test_common_non_images_are_named(make: Callable[[], bytes], expected: str) -> None:
    assert rejection(make()) == expected


def test_unsupported_image_format_is_named_with_the_supported_ones() -> None:
    message = rejection(imagegen.heic_bytes())
    assert message.startswith("not a supported image: got a HEIC image")
    assert "JPEG, PNG, WebP, GIF, BMP or TIFF" in message


def test_base64_text_instead_of_bytes_is_explained() -> None:
    message = rejection(b"data:image/jpeg;base64," + base64.b64encode(imagegen.jpeg_bytes(32, 20)))
    assert message == "not a supported image: got base64 text; upload the image's raw bytes"


def test_unrecognised_binary_data() -> None:
    assert rejection(bytes(range(256)) * 4) == "not a supported image: unrecognised data"


def test_format_is_sniffed_from_bytes_not_trusted() -> None:
    # A PDF is a PDF whatever it is called; a PNG is a PNG.
    assert analyze_image(imagegen.png_bytes(64, 40)).format == "PNG"
    assert analyze_image(imagegen.webp_bytes(64, 40)).format == "WEBP"


def test_truncated_jpeg_is_rejected_not_grey_filled() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert rejection(imagegen.truncated_jpeg_bytes()) == "the JPEG image is truncated or corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (imagegen.png_bytes, "PNG"),
        (imagegen.webp_bytes, "WebP"),
        (imagegen.gif_bytes, "GIF"),
        (imagegen.bmp_bytes, "BMP"),
        (imagegen.tiff_bytes, "TIFF"),
    ],
)
def test_truncated_images_of_every_format_are_rejected(make: Callable[[], bytes], name: str) -> None:
    data = make()
    for keep in (0.05, 0.5, 0.9):
        assert rejection(data[: int(len(data) * keep)]) == f"the {name} image is truncated or corrupt"


def test_a_bare_header_is_called_truncated() -> None:
    assert rejection(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "the JPEG image is truncated or corrupt"
    assert rejection(b"\x89PNG\r\n\x1a\n") == "the PNG image is truncated or corrupt"


@pytest.mark.parametrize(
    "make",
    [imagegen.jpeg_bytes, imagegen.png_bytes, imagegen.gif_bytes, imagegen.tiff_bytes, imagegen.webp_bytes],
)
def test_damaged_bytes_raise_only_image_rejected(make: Callable[[], bytes]) -> None:
    """Flipped bytes may still decode (with artefacts) or be rejected; nothing else may escape."""
    data = make()
    rng = random.Random(len(data))
    for _ in range(25):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            features = analyze_image(bytes(damaged))
        except ImageRejected as exc:
            assert "truncated or corrupt" in str(exc) or str(exc).startswith("not a supported image")
        else:
            assert isinstance(features, ImageFeatures)


def test_bomb_is_rejected_from_the_header() -> None:
    assert rejection(imagegen.bomb_png_bytes(20000, 20000)) == "image is 400 megapixels; the limit is 50"


def test_pixel_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    # 8000 x 6000 = 48 MP is under Pillow's own bomb threshold: only our limit can catch it.
    assert rejection(imagegen.bomb_png_bytes(8000, 6000), max_pixels=40_000_000) == "image is 48 megapixels; the limit is 40"


def test_megapixels_are_shown_with_enough_decimals() -> None:
    assert rejection(imagegen.bomb_png_bytes(10030, 5015)) == "image is 50.3 megapixels; the limit is 50"
    assert rejection(imagegen.jpeg_bytes(640, 400), max_pixels=200_000) == "image is 0.3 megapixels; the limit is 0.2"


def test_pillow_bomb_warning_becomes_the_same_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    # 400 x 300 = 120,000 pixels: over a 100,000-pixel Pillow limit (a warning), under twice it (an error).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    assert rejection(imagegen.png_bytes(400, 300)) == "image is 0.12 megapixels; the limit is 0.1"


def test_an_image_exactly_at_the_limit_decodes() -> None:
    assert analyze_image(imagegen.png_bytes(400, 300), max_pixels=120_000).width == 400
    assert rejection(imagegen.png_bytes(400, 300), max_pixels=119_999) == "image is 0.12 megapixels; the limit is 0.119999"


# --- every mode decodes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (imagegen.jpeg_bytes, "JPEG"),
        (imagegen.png_bytes, "PNG"),
        (imagegen.webp_bytes, "WEBP"),
        (imagegen.gif_bytes, "GIF"),
        (imagegen.bmp_bytes, "BMP"),
        (imagegen.tiff_bytes, "TIFF"),
        (imagegen.cmyk_jpeg_bytes, "JPEG"),
        (imagegen.palette_png_bytes, "PNG"),
    ],
)
def test_colour_formats_agree_with_each_other(make: Callable[[], bytes], fmt: str) -> None:
    """The same sunset picture, however it is encoded, measures about the same."""
    reference = analyze_image(imagegen.png_bytes())
    features = analyze_image(make())
    assert features.format == fmt
    assert features.brightness == pytest.approx(reference.brightness, abs=0.03)
    assert features.warmth == pytest.approx(reference.warmth, abs=0.06)
    assert features.saturation == pytest.approx(reference.saturation, abs=0.06)
    assert features.dominant_hues[0] == pytest.approx(reference.dominant_hues[0], abs=6)


def test_cmyk_jpeg_colours_are_not_inverted() -> None:
    features = analyze_image(imagegen.cmyk_jpeg_bytes())
    assert features.warmth > 0.3  # a sunset stays warm
    assert features.brightness < 0.5


@pytest.mark.parametrize("make", [imagegen.grayscale_png_bytes, imagegen.grayscale_jpeg_bytes, imagegen.la_png_bytes])
def test_grayscale_pictures_have_no_colour(make: Callable[[], bytes]) -> None:
    features = analyze_image(make())
    assert features.saturation == 0.0
    assert features.colorfulness == 0.0
    assert features.warmth == 0.0
    assert features.dominant_hues == []
    assert 0.2 < features.brightness < 0.6


def test_16_bit_grayscale_png_is_scaled_not_clipped() -> None:
    features = analyze_image(imagegen.png16_gray_bytes())
    profile = features.profile_brightness
    assert profile[0] < 0.1
    assert profile[-1] > 0.9
    assert profile == sorted(profile)
    assert features.brightness == pytest.approx(0.5, abs=0.02)


def test_dark_16_bit_grayscale_png_stays_dark() -> None:
    # Samples up to 200 of 65535: nearly black, however small the numbers look next to 8-bit ones.
    assert analyze_image(imagegen.png16_gray_bytes(peak=200)).brightness < 0.01


def test_16_bit_rgb_png() -> None:
    features = analyze_image(imagegen.png16_rgb_bytes())
    assert features.width == 64
    assert features.height == 48
    assert sorted(round(h / 10) * 10 % 360 for h in features.dominant_hues) == [0, 240]
    assert features.profile_brightness[0] > features.profile_brightness[-1]  # red is lighter than blue


def test_rgba_transparent_area_reads_as_neutral_grey() -> None:
    features = analyze_image(imagegen.rgba_png_bytes())
    for value in features.profile_brightness[STRIPS // 2 + 1 :]:
        assert value == pytest.approx(0.5, abs=0.01)
    for value in features.profile_energy[STRIPS // 2 + 1 :]:
        assert value == 0.0
    assert features.profile_brightness[0] < 0.4  # the opaque sunset half keeps its own brightness


def test_palette_transparency_is_composited() -> None:
    opaque = analyze_image(imagegen.palette_png_bytes(transparent=False))
    transparent = analyze_image(imagegen.palette_png_bytes(transparent=True))
    assert opaque.format == transparent.format == "PNG"
    assert transparent.brightness != opaque.brightness  # index 0 became grey background


@pytest.mark.parametrize(("make", "fmt"), [(imagegen.animated_gif_bytes, "GIF"), (imagegen.animated_webp_bytes, "WEBP")])
def test_animated_images_use_the_first_frame(make: Callable[[], bytes], fmt: str) -> None:
    features = analyze_image(make())  # frames: blue, red, green
    assert features.format == fmt
    assert features.dominant_hues == [pytest.approx(234.3, abs=3)]
    assert features.warmth < -0.5


# --- orientation -------------------------------------------------------------------------------


def test_exif_orientation_6_puts_the_bright_half_on_the_right() -> None:
    features = analyze_image(imagegen.exif_rotated_jpeg_bytes(orientation=6))
    assert (features.width, features.height) == (200, 320)  # displayed size
    assert features.profile_brightness[0] < 0.15
    assert features.profile_brightness[-1] > 0.85


def test_exif_orientation_8_puts_the_bright_half_on_the_left() -> None:
    features = analyze_image(imagegen.exif_rotated_jpeg_bytes(orientation=8))
    assert features.profile_brightness[0] > 0.85
    assert features.profile_brightness[-1] < 0.15


def test_without_rotation_the_bright_half_stays_on_top() -> None:
    features = analyze_image(imagegen.exif_rotated_jpeg_bytes(orientation=1))
    assert (features.width, features.height) == (320, 200)
    assert max(features.profile_brightness) - min(features.profile_brightness) < 0.02
    assert min(features.profile_height) > 0.6


# --- decoding cost -----------------------------------------------------------------------------


def test_big_jpeg_is_decoded_in_draft_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, Any, tuple[int, int]]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: Any) -> Any:
        result = original(self, mode, size)
        calls.append((mode, size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    features = analyze_image(imagegen.jpeg_bytes(2400, 1600, "mist"))
    assert (features.width, features.height) == (2400, 1600)  # the original size is reported
    assert len(calls) == 1
    mode, _, decoded_size = calls[0]
    assert mode == "RGB"
    assert decoded_size[0] <= 600  # libjpeg decoded at 1/4 scale or smaller


def test_features_do_not_depend_on_resolution() -> None:
    small = analyze_image(imagegen.png_bytes(320, 200, "night"))
    large = analyze_image(imagegen.png_bytes(1920, 1200, "night"))
    assert large.width == 1920
    assert large.brightness == pytest.approx(small.brightness, abs=0.02)
    assert large.warmth == pytest.approx(small.warmth, abs=0.05)
    assert large.dominant_hues[0] == pytest.approx(small.dominant_hues[0], abs=5)


# --- features ----------------------------------------------------------------------------------


def features_of(palette: str) -> ImageFeatures:
    return analyze_image(imagegen.jpeg_bytes(640, 400, palette))


def test_features_are_json_friendly_rounded_and_complete() -> None:
    features = features_of("sunset")
    data = features.to_dict()
    assert json.loads(json.dumps(data)) == data
    for name in ("profile_brightness", "profile_height", "profile_energy"):
        assert len(data[name]) == STRIPS
    scalars = [data[k] for k in ("brightness", "contrast", "saturation", "colorfulness", "edge_density")]
    for value in [*scalars, *features.profile_brightness, *features.profile_height, *features.profile_energy]:
        assert type(value) is float
        assert 0.0 <= value <= 1.0
        assert round(value, 4) == value
    assert -1.0 <= features.warmth <= 1.0
    assert 1 <= len(features.dominant_hues) <= 3
    assert all(type(h) is float and 0.0 <= h < 360.0 for h in features.dominant_hues)


def test_analysis_is_deterministic() -> None:
    data = imagegen.jpeg_bytes(640, 400, "night")
    assert analyze_image(data).to_dict() == analyze_image(data).to_dict()


def test_dark_busy_and_pale_calm_pictures_differ() -> None:
    night, mist = features_of("night"), features_of("mist")
    assert night.brightness < 0.25 < 0.6 < mist.brightness
    assert night.edge_density > 0.3 > 0.02 > mist.edge_density
    assert mist.contrast < 0.2
    assert night.warmth < 0  # blue
    assert 200 < night.dominant_hues[0] < 250


def test_warm_and_colourful_pictures_differ() -> None:
    sunset, neon, mist = features_of("sunset"), features_of("neon"), features_of("mist")
    assert sunset.warmth > 0.3 > mist.warmth
    assert neon.colorfulness > 0.8 > 0.2 > mist.colorfulness
    assert neon.saturation > sunset.saturation > mist.saturation
    assert len(neon.dominant_hues) == 3


def test_grayscale_high_contrast_picture() -> None:
    mono = analyze_image(imagegen.jpeg_bytes(640, 400, "mono"))
    assert mono.dominant_hues == []
    assert mono.contrast > 0.7


def test_profile_follows_the_picture_left_to_right() -> None:
    features = analyze_image(imagegen.encode(imagegen.half_bright_image(bright="left"), "PNG"))
    assert all(v > 0.85 for v in features.profile_brightness[: STRIPS // 2 - 1])
    assert all(v < 0.15 for v in features.profile_brightness[STRIPS // 2 + 1 :])
    # The only edge is the boundary in the middle.
    assert features.profile_energy[0] == features.profile_energy[-1] == 0.0
    assert max(features.profile_energy) == max(features.profile_energy[STRIPS // 2 - 1 : STRIPS // 2 + 1])


@pytest.mark.parametrize(("bright", "low", "high"), [("top", 0.6, 1.0), ("bottom", 0.0, 0.4)])
def test_profile_height_is_measured_from_the_bottom(bright: str, low: float, high: float) -> None:
    features = analyze_image(imagegen.encode(imagegen.half_bright_image(bright=bright), "PNG"))
    assert all(low < h < high for h in features.profile_height)


def test_busy_strips_have_more_energy() -> None:
    # Left half: the busy night skyline; right half: flat mist.
    left = imagegen.landscape_image(320, 200, "night").crop((0, 0, 160, 200))
    right = imagegen.landscape_image(320, 200, "mist").crop((160, 0, 320, 200))
    combined = Image.new("RGB", (320, 200))
    combined.paste(left, (0, 0))
    combined.paste(right, (160, 0))
    features = analyze_image(imagegen.encode(combined, "PNG"))
    assert min(features.profile_energy[: STRIPS // 2 - 1]) > 0.1
    assert max(features.profile_energy[STRIPS // 2 + 1 :]) < 0.02


def test_tiny_and_extreme_aspect_images_still_give_full_profiles() -> None:
    for width, height in ((1, 1), (8, 4), (3000, 2)):
        features = analyze_image(imagegen.png_bytes(width, height))
        assert (features.width, features.height) == (width, height)
        assert len(features.profile_brightness) == len(features.profile_height) == len(features.profile_energy) == STRIPS


def test_sample_pictures_analyse() -> None:
    images = Path(__file__).resolve().parents[3] / "events" / "generation" / "images"
    sunset = analyze_image((images / "sunset.jpg").read_bytes())
    night = analyze_image((images / "night-city.png").read_bytes())
    assert (sunset.width, sunset.height, sunset.format) == (1600, 1000, "JPEG")
    assert night.format == "PNG"
    assert sunset.warmth > 0 > night.warmth
    assert night.edge_density > 5 * sunset.edge_density
    assert night.brightness < sunset.brightness
