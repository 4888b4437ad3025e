"""Decode an uploaded picture defensively and measure what the music is made from.

The format is sniffed from the bytes (never a file name), the pixel count is checked from the
header before any pixel is decoded, and JPEGs are decoded at a reduced scale (draft mode) so a
12-megapixel photo costs a fraction of a full decode. Every failure a person could cause with
their upload becomes an ImageRejected whose message says what was wrong.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
import warnings
import zlib
from io import BytesIO

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from soundcanvas.core.errors import ImageRejected
from soundcanvas.generation.music import ImageFeatures

SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
SUPPORTED_FORMATS_TEXT = "JPEG, PNG, WebP, GIF, BMP or TIFF"
DEFAULT_MAX_PIXELS = 50_000_000

WORK_LONG_SIDE = 320  # pixels on the long side of the image the features are measured on
MIN_WORK_SIDE = 16  # at least one column per profile strip
PROFILE_STRIPS = 16
EDGE_THRESHOLD = 0.06  # Sobel gradient magnitude (luma units per pixel) that counts as an edge
NEUTRAL_BACKGROUND = (128, 128, 128)  # what transparent areas are composited onto
COLORFULNESS_SCALE = 120.0  # Hasler-Suesstrunk M of ~109 is "extremely colourful"; M/120 clipped to 1

# Exceptions Pillow and its plugins raise on malformed data, on open or on decode.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
)

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Magic bytes of formats people upload by mistake: (prefix, what to call it).
_FOREIGN_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF data"),
    (b"PK\x03\x04", "ZIP data"),
    (b"PK\x05\x06", "ZIP data"),
    (b"\x1f\x8b", "gzip data"),
    (b"7z\xbc\xaf\x27\x1c", "7z data"),
    (b"Rar!\x1a\x07", "RAR data"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg audio"),
    (b"fLaC", "FLAC audio"),
    (b"MThd", "MIDI data"),
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM video"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a program (Windows executable)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"SQLite format 3\x00", "SQLite data"),
)

# Image formats we recognise but do not decode.
_UNSUPPORTED_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"qoif", "QOI"),
)

_BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

_BASE64_IMAGE_PREFIXES = ("data:", "/9j/", "iVBORw0KGgo", "R0lGOD", "UklGR", "Qk", "SUkq", "TU0A")


def analyze_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFeatures:
    """Decode `data` (the raw upload) and measure it; raise ImageRejected if it is not a usable picture."""
    if not data:
        raise ImageRejected("the file is empty")
    fmt, width, height, rgb = _decode(data, max_pixels)
    return _measure(rgb, fmt=fmt, width=width, height=height)


# --- decoding ----------------------------------------------------------------------------------


def _decode(data: bytes, max_pixels: int) -> tuple[str, int, int, np.ndarray]:
    """Return (format, displayed width, displayed height, RGB float32 array of the working image)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(BytesIO(data), formats=SUPPORTED_FORMATS)
        except UnidentifiedImageError as exc:
            raise ImageRejected(_describe_unidentified(data)) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(_too_large_message(_pixels_from_bomb_message(exc), _pillow_limit(max_pixels))) from exc
        except _DECODE_ERRORS as exc:
            raise ImageRejected(_corrupt_message(_sniff_supported(data))) from exc

        with img:
            fmt = "JPEG" if img.format == "MPO" else str(img.format)
            width, height = img.size
            if width * height > max_pixels:
                raise ImageRejected(_too_large_message(width * height, max_pixels))
            orientation = _orientation(img)
            try:
                work, full_scale = _load_reduced(img)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ImageRejected(_too_large_message(width * height, _pillow_limit(max_pixels))) from exc
            except _DECODE_ERRORS as exc:
                raise ImageRejected(_corrupt_message(fmt)) from exc
            if orientation in _TRANSPOSE:
                work = work.transpose(_TRANSPOSE[orientation])
                if orientation >= 5:
                    width, height = height, width
            return fmt, width, height, _to_rgb_array(work, full_scale)


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation tag (1 when absent or unreadable: bad metadata must not sink a good picture)."""
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) else 1


def _work_size(width: int, height: int) -> tuple[int, int]:
    """The size the features are measured at: long side at most WORK_LONG_SIDE, aspect kept, no side under MIN_WORK_SIDE."""
    scale = min(1.0, WORK_LONG_SIDE / max(width, height))
    return max(MIN_WORK_SIDE, round(width * scale)), max(MIN_WORK_SIDE, round(height * scale))


def _load_reduced(img: Image.Image) -> tuple[Image.Image, float | None]:
    """Decode the first frame at (about) the working size; return it (mode L, I, F, RGB or RGBA) and its full scale."""
    target = _work_size(*img.size)
    if img.format in ("JPEG", "MPO"):
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding; the result stays at least `target`.
        img.draft("RGB", target)
    img.load()
    frame, full_scale = _normalise_mode(img)
    factor = min(frame.width // target[0], frame.height // target[1])
    if factor >= 2:
        frame = frame.reduce(factor)
    if frame.size != target:
        upscaling = frame.width < target[0] or frame.height < target[1]
        frame = frame.resize(target, Image.Resampling.NEAREST if upscaling else Image.Resampling.BILINEAR)
    return frame, full_scale


def _normalise_mode(img: Image.Image) -> tuple[Image.Image, float | None]:
    """Convert any decoded mode to L, I, F, RGB or RGBA (alpha kept for compositing after resizing).

    Also returns the value that means full white for I/F images when the mode says so
    (65535 for 16-bit samples), or None to infer it from the data.
    """
    mode = img.mode
    bands = img.getbands()
    has_alpha = "A" in bands or "a" in bands or "transparency" in img.info
    if mode.startswith("I;16"):
        return img.convert("I"), 65535.0
    if mode in ("L", "I", "F", "RGB") and not has_alpha:
        return img, None
    if mode == "1" and not has_alpha:
        return img.convert("L"), None
    return img.convert("RGBA" if has_alpha else "RGB"), None


def _to_rgb_array(img: Image.Image, full_scale: float | None = None) -> np.ndarray:
    """The working image as float32 RGB in 0..1, transparent areas composited onto a neutral grey."""
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (*NEUTRAL_BACKGROUND, 255))
        img = Image.alpha_composite(background, img).convert("RGB")
    if img.mode == "RGB":
        return np.asarray(img, dtype=np.float32) / 255.0
    values = np.asarray(img, dtype=np.float32)
    if full_scale is None:
        full_scale = 255.0
        if img.mode in ("I", "F"):
            top = float(values.max(initial=0.0))
            if img.mode == "F" and top <= 1.0:
                full_scale = 1.0
            elif top > 255.0:
                full_scale = 65535.0  # 16-bit samples
    values = np.clip(values / full_scale, 0.0, 1.0)
    return np.repeat(values[:, :, None], 3, axis=2)


# --- rejection messages ------------------------------------------------------------------------


def _format_megapixels(pixels: float, limit: float) -> str:
    """Megapixels with the fewest decimals (up to 3) that still show `pixels` is above `limit`."""
    value = pixels / 1e6
    digits = 0
    while digits < 3 and round(value, digits) <= limit / 1e6:
        digits += 1
    return f"{value:.{digits}f}"


def _pillow_limit(max_pixels: int) -> int:
    """The limit that applies when Pillow's own decompression-bomb check fires: ours or Pillow's, the lower."""
    pillow = Image.MAX_IMAGE_PIXELS
    return min(max_pixels, int(pillow)) if pillow else max_pixels


def _too_large_message(pixels: int | None, max_pixels: int) -> str:
    limit = f"{max_pixels / 1e6:g}"
    if pixels is None:
        return f"image is too large to decode safely; the limit is {limit} megapixels"
    return f"image is {_format_megapixels(pixels, max_pixels)} megapixels; the limit is {limit}"


def _pixels_from_bomb_message(exc: BaseException) -> int | None:
    """Pillow's bomb check names the pixel count in its message: 'Image size (N pixels) exceeds ...'."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match.group(1)) if match else None


def _corrupt_message(fmt: str | None) -> str:
    if fmt is None:
        return "the image is truncated or corrupt"
    name = "WebP" if fmt == "WEBP" else fmt
    return f"the {name} image is truncated or corrupt"


def _sniff_supported(data: bytes) -> str | None:
    """The supported format `data` claims to be by its magic bytes, if any."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data.startswith(b"BM") and len(data) >= 18 and struct.unpack_from("<I", data, 14)[0] in _BMP_HEADER_SIZES:
        return "BMP"
    return None


def _describe_unidentified(data: bytes) -> str:
    """Why Pillow could not identify `data`: a damaged supported image, or something else named by its magic bytes."""
    supported = _sniff_supported(data)
    if supported is not None:
        return _corrupt_message(supported)
    kind = _sniff_foreign(data)
    if kind is None:
        return "not a supported image: unrecognised data"
    return f"not a supported image: got {kind}"


def _sniff_foreign(data: bytes) -> str | None:
    """Name common non-image (or unsupported image) data from its first bytes."""
    head = data[:64]
    for prefix, image_format in _UNSUPPORTED_IMAGE_SIGNATURES:
        if head.startswith(prefix):
            return f"a {image_format} image; use {SUPPORTED_FORMATS_TEXT}"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return f"a HEIC image; use {SUPPORTED_FORMATS_TEXT}"
        if brand in _AVIF_BRANDS:
            return f"an AVIF image; use {SUPPORTED_FORMATS_TEXT}"
        if brand.startswith(b"M4A") or brand.startswith(b"M4B"):
            return "M4A audio"
        if brand == b"qt  ":
            return "QuickTime video"
        return "MP4 video"
    if head[:4] == b"RIFF":
        riff = {b"WAVE": "WAV audio", b"AVI ": "AVI video"}
        return riff.get(head[8:12], "RIFF data")
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF audio"
    for prefix, kind in _FOREIGN_SIGNATURES:
        if head.startswith(prefix):
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MP3 audio" if head[1] & 0x06 else "AAC audio"
    return _sniff_text(data)


def _sniff_text(data: bytes) -> str | None:
    """Name text data (HTML, SVG, JSON, base64, plain text); None when `data` is not text."""
    sample = data[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "plain text"
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut at the sample's end
            return None
        text = sample[: exc.start].decode("utf-8")
    if not text:
        return None
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    if printable / len(text) < 0.95:
        return None
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(("<!doctype html", "<html")) or "<html" in stripped[:1024]:
        return "HTML"
    if stripped.startswith("<svg") or (stripped.startswith("<?xml") and "<svg" in stripped):
        return f"an SVG image; use {SUPPORTED_FORMATS_TEXT}"
    if stripped.startswith("<?xml"):
        return "XML"
    if stripped.startswith(("{", "[")):
        return "JSON"
    if stripped.startswith(tuple(p.lower() for p in _BASE64_IMAGE_PREFIXES)) and _looks_base64(text):
        return "base64 text; upload the image's raw bytes"
    return "plain text"


def _looks_base64(text: str) -> bool:
    body = text.split(",", 1)[1] if text.lower().startswith("data:") else text
    return bool(re.fullmatch(r"[A-Za-z0-9+/=\s]*", body[:1024]))


# --- features ----------------------------------------------------------------------------------


def _r(value: float) -> float:
    """A plain float rounded to 4 decimals (JSON-friendly, deterministic)."""
    return round(float(value), 4)


def _measure(rgb: np.ndarray, *, fmt: str, width: int, height: int) -> ImageFeatures:
    """Compute every ImageFeatures field from the working RGB image (float32, 0..1)."""
    red, green, blue = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    top = rgb.max(axis=2)
    chroma = top - rgb.min(axis=2)
    # HSV saturation; near-black pixels (where sensor noise looks "saturated") count as less saturated.
    saturation = chroma / np.maximum(top, 0.1)

    magnitude = _sobel_magnitude(luma)
    edges = magnitude > EDGE_THRESHOLD

    return ImageFeatures(
        width=int(width),
        height=int(height),
        format=fmt,
        brightness=_r(luma.mean()),
        contrast=_r(min(1.0, float(luma.std()) / 0.5)),
        saturation=_r(saturation.mean()),
        warmth=_r(math.tanh(3.0 * float((red - blue).mean()))),
        colorfulness=_r(_colorfulness(red, green, blue)),
        edge_density=_r(edges.mean()),
        dominant_hues=_dominant_hues(rgb, top, chroma, saturation),
        **_profiles(luma, magnitude, edges),
    )


def _sobel_magnitude(luma: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude per pixel, in luma units per pixel (edge-replicated borders)."""
    p = np.pad(luma, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:] - p[:-2, :-2] - 2 * p[1:-1, :-2] - p[2:, :-2]) / 8.0
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:] - p[:-2, :-2] - 2 * p[:-2, 1:-1] - p[:-2, 2:]) / 8.0
    return np.hypot(gx, gy)


def _colorfulness(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness M (on 0..255 samples) scaled to 0..1."""
    rg = (red - green) * 255.0
    yb = (0.5 * (red + green) - blue) * 255.0
    m = math.hypot(float(rg.std()), float(yb.std())) + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))
    return min(1.0, m / COLORFULNESS_SCALE)


def _dominant_hues(rgb: np.ndarray, top: np.ndarray, chroma: np.ndarray, saturation: np.ndarray) -> list[float]:
    """Up to 3 hue peaks (degrees, strongest first) of a saturation-weighted hue histogram; [] for grey pictures."""
    chromatic = (saturation >= 0.15) & (top >= 0.1) & (chroma > 0.02)
    weights = np.where(chromatic, saturation, 0.0)
    total = float(weights.sum())
    if total < 0.02 * weights.size:
        return []
    hue = _hue_degrees(rgb, top, chroma)
    bins = 36
    hist, _ = np.histogram(hue, bins=bins, range=(0.0, 360.0), weights=weights)
    smooth = 0.5 * hist + 0.25 * np.roll(hist, 1) + 0.25 * np.roll(hist, -1)
    centres = (np.arange(bins) + 0.5) * (360.0 / bins)
    peaks: list[float] = []
    first = 0.0
    for _ in range(3):
        i = int(np.argmax(smooth))
        value = float(smooth[i])
        if value <= 0.0 or value < 0.15 * first or value < 0.01 * weights.size:
            break
        first = first or value
        # Refine to the weighted mean hue of the pixels within +-15 degrees of the peak bin's centre.
        offset = (hue - centres[i] + 180.0) % 360.0 - 180.0
        near = np.where(np.abs(offset) <= 15.0, weights, 0.0)
        shift = float((near * offset).sum()) / max(float(near.sum()), 1e-9)
        peaks.append(_r((centres[i] + shift) % 360.0))
        for k in range(-3, 4):
            smooth[(i + k) % bins] = 0.0
    return peaks


def _hue_degrees(rgb: np.ndarray, top: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """HSV hue in degrees 0..360 (0 where the pixel is grey)."""
    red, green, blue = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(
        top == red,
        ((green - blue) / safe) % 6.0,
        np.where(top == green, (blue - red) / safe + 2.0, (red - green) / safe + 4.0),
    )
    return np.where(chroma > 0, hue * 60.0, 0.0) % 360.0


def _profiles(luma: np.ndarray, magnitude: np.ndarray, edges: np.ndarray) -> dict[str, list[float]]:
    """Per vertical strip, left to right: mean brightness, height of the salient mass, edge density."""
    rows, cols = luma.shape
    bounds = np.linspace(0, cols, PROFILE_STRIPS + 1).round().astype(int)
    heights_of_rows = 1.0 - (np.arange(rows) + 0.5) / rows  # 1 at the top row, 0 at the bottom
    edge_strength = np.clip(magnitude / (4 * EDGE_THRESHOLD), 0.0, 1.0)
    brightness: list[float] = []
    height: list[float] = []
    energy: list[float] = []
    for a, b in itertools.pairwise(bounds.tolist()):
        strip = luma[:, a:b]
        mean = float(strip.mean())
        # Salient: brighter than the strip around it, or on an edge.
        salience = np.maximum(strip - mean, 0.0) + 0.25 * edge_strength[:, a:b]
        weight_per_row = salience.sum(axis=1)
        total = float(weight_per_row.sum())
        centre = float((weight_per_row * heights_of_rows).sum()) / total if total > 1e-6 else 0.5
        brightness.append(_r(mean))
        height.append(_r(centre))
        energy.append(_r(edges[:, a:b].mean()))
    return {"profile_brightness": brightness, "profile_height": height, "profile_energy": energy}
