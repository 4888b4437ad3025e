"""Test pictures built in memory: every helper is deterministic and needs no files or network.

Pictures (`landscape_image` palettes):
  "sunset" - warm, colourful gradient sky, sun, mountain silhouettes, water reflections
  "night"  - dark blue sky over a skyline with many lit windows (busy edges)
  "mist"   - pale, low-contrast, soft hills (calm)
  "neon"   - very colourful, bright rainbow bands
  "mono"   - grayscale, high-contrast black-and-white shapes

Encoded bytes: `jpeg_bytes`, `png_bytes`, `webp_bytes`, `gif_bytes`, `bmp_bytes`, `tiff_bytes`,
`grayscale_png_bytes`, `grayscale_jpeg_bytes`, `palette_png_bytes`, `rgba_png_bytes`, `la_png_bytes`,
`png16_gray_bytes`, `png16_rgb_bytes`, `animated_gif_bytes`, `animated_webp_bytes`, `exif_rotated_jpeg_bytes`,
`cmyk_jpeg_bytes`, `truncated_jpeg_bytes`, `bomb_png_bytes`, and non-images: `pdf_bytes`, `zip_bytes`,
`mp3_bytes`, `html_bytes`, `text_bytes`, `heic_bytes` (an image format we do not decode).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO
from typing import Any

import numpy as np
from PIL import Image

PALETTES: tuple[str, ...] = ("sunset", "night", "mist", "neon", "mono")
RGB = tuple[int, int, int]
BLUE_RED_GREEN: tuple[RGB, ...] = ((20, 40, 230), (230, 30, 20), (30, 220, 40))


def encode(image: Image.Image, fmt: str, **save_options: Any) -> bytes:
    """`image` encoded as `fmt` ("JPEG", "PNG", ...) with Pillow's save options."""
    out = BytesIO()
    image.save(out, format=fmt, **save_options)
    return out.getvalue()


# --- pictures ----------------------------------------------------------------------------------


def landscape_image(width: int = 640, height: int = 400, palette: str = "sunset") -> Image.Image:
    """A procedural picture in one of PALETTES: RGB, except "mono" which is mode L."""
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= max(height - 1, 1)  # 0 at the top, 1 at the bottom
    xx /= max(width - 1, 1)
    rng = np.random.default_rng(7)
    if palette == "sunset":
        rgb = _sunset(xx, yy, rng)
    elif palette == "night":
        rgb = _night(xx, yy, rng)
    elif palette == "mist":
        rgb = _mist(xx, yy)
    elif palette == "neon":
        rgb = _neon(xx, yy)
    else:
        return Image.fromarray(_mono(xx, yy), mode="L")
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")


def _lerp(a: tuple[float, float, float], b: tuple[float, float, float], t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)[..., None]
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


def _sunset(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    horizon = 0.62
    sky = _lerp((250, 130, 70), (90, 50, 130), (horizon - yy) / horizon)
    sun_d = np.hypot((xx - 0.62) * 1.6, yy - 0.46)
    sky += (np.exp(-((sun_d / 0.2) ** 2)) * 120)[..., None] * np.array([1.0, 0.8, 0.4], np.float32)
    sky = np.where((sun_d < 0.07)[..., None], np.array([255, 240, 190], np.float32), sky)
    ridge = 0.47 + 0.06 * np.sin(xx * 9.0) + 0.03 * np.sin(xx * 23.0 + 1.0)
    mountains = (yy > ridge) & (yy < horizon)
    rgb = np.where(mountains[..., None], np.array([55, 25, 60], np.float32), sky)
    mirror = np.clip(2 * horizon - yy, 0, 1)
    reflected = _lerp((250, 130, 70), (90, 50, 130), (horizon - mirror) / horizon) * 0.7
    ripples = 0.85 + 0.15 * np.sin(yy * 260.0 + np.sin(xx * 40.0) * 2.0)
    rgb = np.where((yy >= horizon)[..., None], reflected * ripples[..., None], rgb)
    return rgb + rng.normal(0, 2.0, rgb.shape).astype(np.float32)


def _night(xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = xx.shape
    rgb = _lerp((30, 45, 95), (5, 8, 25), (0.8 - yy) / 0.8)
    stars = rng.random(xx.shape) > 0.998
    rgb[stars & (yy < 0.4)] = (200, 210, 255)
    col = 0
    while col < width:
        bw = int(rng.integers(max(4, width // 24), max(6, width // 9)))
        top = int(height * rng.uniform(0.2, 0.65))
        rgb[top:, col : col + bw] = (12, 16, 34)
        wy, wx = np.mgrid[top:height, col : min(col + bw, width)]
        windows = ((wy - top) % 9 < 5) & ((wx - col) % 7 < 4) & ((wx - col) > 1) & (wy - top > 3)
        lit = rng.random(windows.shape) < 0.45
        colours = np.where(
            (rng.random(windows.shape) < 0.5)[..., None], np.array([255, 215, 120]), np.array([150, 200, 255])
        )
        block = rgb[top:, col : col + bw]
        block[windows & lit] = colours[windows & lit]
        col += bw + int(rng.integers(0, 3))
    return rgb


def _mist(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    rgb = _lerp((196, 204, 212), (170, 180, 186), yy)
    hills = yy > 0.55 + 0.06 * np.sin(xx * 5.0)
    rgb = np.where(hills[..., None], rgb - np.array([14, 12, 10], np.float32), rgb)
    return rgb


def _neon(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    hue = (xx * 2.0 + yy * 0.5) % 1.0 * 6.0
    value = 245.0
    k = lambda n: (n + hue) % 6.0  # noqa: E731
    channel = lambda n: value * (1 - np.clip(np.minimum(k(n), 4 - k(n)), 0, 1))  # noqa: E731
    return np.stack([channel(5.0), channel(3.0), channel(1.0)], axis=-1)


def _mono(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    circles = (np.sin(xx * 30.0) * np.sin(yy * 20.0)) > 0.2
    bars = (xx * 12.0).astype(int) % 2 == 0
    value = np.where(circles ^ bars, 235, 15)
    return value.astype(np.uint8)


def half_bright_image(width: int = 320, height: int = 200, bright: str = "left") -> Image.Image:
    """RGB picture that is near-white on one half ("left", "right", "top" or "bottom") and near-black on the other."""
    yy, xx = np.mgrid[0:height, 0:width]
    masks = {"left": xx < width / 2, "right": xx >= width / 2, "top": yy < height / 2, "bottom": yy >= height / 2}
    value = np.where(masks[bright], 235, 20).astype(np.uint8)
    return Image.fromarray(np.stack([value] * 3, axis=-1), mode="RGB")


# --- encoded images ----------------------------------------------------------------------------


def jpeg_bytes(width: int = 640, height: int = 400, palette: str = "sunset", quality: int = 90) -> bytes:
    """A baseline RGB JPEG of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette).convert("RGB"), "JPEG", quality=quality)


def png_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """A RGB PNG of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette), "PNG")


def webp_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """A lossy RGB WebP of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette), "WEBP", quality=90)


def gif_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """A GIF (Pillow quantises to a palette) of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette), "GIF")


def bmp_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """A 24-bit BMP of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette), "BMP")


def tiff_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """A deflate-compressed RGB TIFF of `landscape_image(width, height, palette)`."""
    return encode(landscape_image(width, height, palette), "TIFF", compression="tiff_deflate")


def grayscale_png_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """Mode L PNG."""
    return encode(landscape_image(width, height, palette).convert("L"), "PNG")


def grayscale_jpeg_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """Single-channel (mode L) JPEG."""
    return encode(landscape_image(width, height, palette).convert("L"), "JPEG", quality=90)


def palette_png_bytes(width: int = 320, height: int = 200, palette: str = "sunset", transparent: bool = True) -> bytes:
    """Mode P PNG with 32 colours; with `transparent`, palette index 0 is transparent (a tRNS chunk)."""
    image = landscape_image(width, height, palette).convert("RGB").quantize(32)
    return encode(image, "PNG", transparency=0) if transparent else encode(image, "PNG")


def rgba_png_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """RGBA PNG whose right half is fully transparent."""
    image = landscape_image(width, height, palette).convert("RGBA")
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, width // 2 :] = 0
    image.putalpha(Image.fromarray(alpha, mode="L"))
    return encode(image, "PNG")


def la_png_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """Grayscale-with-alpha (LA) PNG, half transparent."""
    image = landscape_image(width, height, palette).convert("LA")
    alpha = np.full((height, width), 255, np.uint8)
    alpha[: height // 2] = 128
    image.putalpha(Image.fromarray(alpha, mode="L"))
    return encode(image, "PNG")


def png16_gray_bytes(width: int = 320, height: int = 200, peak: int = 65535) -> bytes:
    """16-bit grayscale PNG (Pillow mode I;16): a left-to-right ramp from 0 to `peak` (65535 is white)."""
    ramp = np.tile(np.linspace(0, peak, width), (height, 1)).astype(np.uint16)
    return encode(Image.fromarray(ramp), "PNG")


def png16_rgb_bytes(width: int = 64, height: int = 48) -> bytes:
    """16-bit-per-channel RGB PNG, written by hand (Pillow cannot write one): red on the left, blue on the right."""
    row = np.zeros((width, 3), np.uint16)
    row[: width // 2, 0] = 60000
    row[width // 2 :, 2] = 60000
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return _png_file(ihdr, zlib.compress(raw))


def animated_gif_bytes(width: int = 160, height: int = 100, colours: tuple[RGB, ...] = BLUE_RED_GREEN) -> bytes:
    """Animated GIF, one flat colour per frame; by default blue first, then red and green."""
    frames = [Image.new("RGB", (width, height), c) for c in colours]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_webp_bytes(width: int = 160, height: int = 100, colours: tuple[RGB, ...] = BLUE_RED_GREEN) -> bytes:
    """Animated WebP, one flat colour per frame; by default blue first, then red and green."""
    frames = [Image.new("RGB", (width, height), c) for c in colours]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)


def exif_rotated_jpeg_bytes(orientation: int = 6, width: int = 320, height: int = 200) -> bytes:
    """JPEG whose stored pixels are bright in the top half, tagged with an EXIF orientation.

    Orientation 6 means "rotate 90 degrees clockwise to display": displayed, the picture is
    `height` x `width` and its bright half is on the right. Orientation 8 puts it on the left.
    """
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(half_bright_image(width, height, bright="top"), "JPEG", quality=90, exif=exif.tobytes())


def cmyk_jpeg_bytes(width: int = 320, height: int = 200, palette: str = "sunset") -> bytes:
    """CMYK JPEG (as print workflows write them)."""
    return encode(landscape_image(width, height, palette).convert("CMYK"), "JPEG", quality=90)


def truncated_jpeg_bytes(width: int = 640, height: int = 400, keep: float = 0.6) -> bytes:
    """A valid JPEG cut off after `keep` of its bytes (the header is intact, the scan data is not)."""
    data = jpeg_bytes(width, height)
    return data[: int(len(data) * keep)]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _png_file(ihdr: bytes, idat: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def bomb_png_bytes(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny, well-formed PNG (valid CRCs) whose IHDR claims `width` x `height` 8-bit grayscale pixels.

    Its IDAT holds only the first row, so a decoder that trusts the header allocates the full
    size before finding out; a safe one rejects it from the header.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return _png_file(ihdr, zlib.compress(b"\x00" * (width + 1)))


# --- not images --------------------------------------------------------------------------------


def pdf_bytes() -> bytes:
    """The start of a (fake) PDF document."""
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def zip_bytes() -> bytes:
    """A ZIP archive holding a JPEG (what a "download all" button produces)."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", jpeg_bytes(64, 40))
    return out.getvalue()


def mp3_bytes() -> bytes:
    """An MP3 file's ID3v2 header followed by an MPEG audio frame header."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400


def html_bytes() -> bytes:
    """An HTML page (what a link to a photo page rather than the photo returns)."""
    return b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body><img src='a.jpg'></body></html>\n"


def text_bytes() -> bytes:
    """Plain UTF-8 text."""
    return "A picture of a sunset over the lake, caf\u00e9 lights in the distance.\n".encode() * 5


def heic_bytes() -> bytes:
    """The start of a HEIC file (an ISO-BMFF `ftyp` box with the heic brand), as iPhones save photos."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64
