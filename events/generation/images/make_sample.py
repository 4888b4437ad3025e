"""Recreate the demo's sample pictures, procedurally and deterministically (no network, no assets).

    python events/generation/images/make_sample.py            # writes sunset.jpg and night-city.png next to this file
    python events/generation/images/make_sample.py --out DIR

sunset.jpg      1600x1000 JPEG (quality 85): a warm sky over layered mountains and a lake.
night-city.png  1280x800 palette PNG: a dark blue skyline with lit windows (busy edges).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SUNSET_SIZE = (1600, 1000)
NIGHT_SIZE = (1280, 800)


def _gradient(t: np.ndarray, stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Colours along `t` (0..1) interpolated between (position, RGB) stops."""
    positions = np.array([p for p, _ in stops])
    colours = np.array([c for _, c in stops], dtype=np.float32)
    return np.stack([np.interp(t, positions, colours[:, i]) for i in range(3)], axis=-1)


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth 2-D noise in 0..1: a coarse random grid upsampled bicubically to `size` (width, height)."""
    coarse = Image.fromarray((rng.random((cells[1], cells[0])) * 255).astype(np.uint8), mode="L")
    return np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


def _ridge(rng: np.random.Generator, width: int, base: float, amplitude: float, octaves: int = 5) -> np.ndarray:
    """A mountain ridge line (fraction of the height from the top) for each column: fractal 1-D noise."""
    x = np.linspace(0.0, 1.0, width)
    line = np.zeros(width)
    for octave in range(octaves):
        points = 3 * 2**octave + 1
        line += np.interp(x, np.linspace(0.0, 1.0, points), rng.random(points) - 0.5) / 1.9**octave
    return base - amplitude * line


def sunset(width: int = SUNSET_SIZE[0], height: int = SUNSET_SIZE[1], seed: int = 2024) -> Image.Image:
    """A sunset over layered mountains with the sky reflected in a rippled lake."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / (height - 1), xx / (width - 1)
    horizon = 0.66
    sun_x, sun_y = 0.58, 0.47

    sky_stops = [
        (0.0, (48, 40, 112)),
        (0.25, (122, 62, 140)),
        (0.45, (224, 96, 110)),
        (0.58, (250, 150, 80)),
        (0.66, (255, 206, 120)),
    ]

    def sky_at(t: np.ndarray, x: np.ndarray) -> np.ndarray:
        rgb = _gradient(t, sky_stops)
        d = np.hypot((x - sun_x) * (width / height), t - sun_y)
        rgb += (np.exp(-((d / 0.18) ** 2)) * 90.0)[..., None] * np.array([1.0, 0.75, 0.35], np.float32)
        rgb += (np.exp(-((d / 0.05) ** 2)) * 140.0)[..., None] * np.array([1.0, 0.95, 0.8], np.float32)
        return rgb

    rgb = sky_at(yy, xx)
    # Long, soft clouds lit from below.
    clouds = _smooth_noise(rng, (width, height), (6, 28))
    cloud_mask = np.clip((clouds - 0.55) * 4.0, 0.0, 1.0) * np.clip((0.5 - yy) * 4.0, 0.0, 1.0)
    cloud_colour = _gradient(yy, [(0.0, (90, 60, 120)), (0.3, (240, 130, 130)), (0.5, (255, 190, 140))])
    rgb = rgb * (1 - 0.7 * cloud_mask[..., None]) + cloud_colour * 0.7 * cloud_mask[..., None]
    sun = np.hypot((xx - sun_x) * (width / height), yy - sun_y) < 0.045
    rgb[sun] = (255, 244, 214)

    # Three ranges of mountains, paler with distance.
    for base, amplitude, colour in (
        (0.54, 0.16, (150, 80, 120)),
        (0.60, 0.14, (96, 48, 88)),
        (0.645, 0.10, (48, 24, 52)),
    ):
        ridge = _ridge(rng, width, base, amplitude)
        rgb[(yy > ridge[None, :]) & (yy < horizon)] = colour

    # The lake: the scene above mirrored and darkened, broken by ripples, with a glitter path under the sun.
    below = yy >= horizon
    depth = np.clip(yy - horizon, 0.0, None)
    mirror_row = np.clip(((2 * horizon - yy) * (height - 1)).round().astype(int), 0, height - 1)
    ripple = (np.sin(yy * 900.0 + 2.0 * np.sin(xx * 25.0)) * (2.0 + depth * 40.0)).round().astype(int)
    mirror_col = np.clip((xx * (width - 1)).round().astype(int) + ripple, 0, width - 1)
    shimmer = 0.95 + 0.05 * np.sin(yy * 700.0 + np.sin(xx * 60.0))
    reflected = rgb[mirror_row, mirror_col] * (0.7 * shimmer)[..., None] + np.array([4, 8, 24], np.float32)
    spread = 0.015 + 0.3 * depth
    chance = np.exp(-(((xx - sun_x) / spread) ** 2)) * 0.35
    sparks = rng.random((height, width)) < chance
    dashes = np.zeros_like(sparks)
    for shift in range(-4, 5):  # stretch each spark into a short horizontal dash
        dashes |= np.roll(sparks, shift, axis=1)
    glow = np.exp(-(((xx - sun_x) / spread) ** 2))[..., None]
    reflected = np.where(dashes[..., None], reflected * (1 - 0.6 * glow) + np.array([255, 222, 170]) * 0.6 * glow, reflected)
    rgb = np.where(below[..., None], reflected, rgb)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    return image.filter(ImageFilter.GaussianBlur(0.6))


def night_city(width: int = NIGHT_SIZE[0], height: int = NIGHT_SIZE[1], seed: int = 1987) -> Image.Image:
    """A dark blue skyline: three layers of towers, lit windows, a moon and stars."""
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:height, 0:width][0].astype(np.float32) / (height - 1)
    rgb = _gradient(yy, [(0.0, (4, 8, 28)), (0.55, (16, 30, 78)), (0.8, (40, 60, 130))])
    stars = (rng.random((height, width)) > 0.9985) & (yy < 0.45)
    rgb[stars] = (210, 220, 255)
    moon_y, moon_x = np.ogrid[0:height, 0:width]
    rgb[np.hypot(moon_x - width * 0.8, moon_y - height * 0.14) < height * 0.045] = (230, 236, 255)

    for layer, (top_range, tone, lit_share) in enumerate(
        (((0.25, 0.5), (22, 36, 84), 0.15), ((0.3, 0.62), (12, 20, 52), 0.3), ((0.45, 0.75), (6, 10, 28), 0.45))
    ):
        col = int(rng.integers(-20, 0))
        while col < width:
            tower = int(rng.integers(width // 40, width // 12))
            top = int(height * rng.uniform(*top_range))
            left, right = max(col, 0), min(col + tower, width)
            if right > left:
                rgb[top:, left:right] = tone
                if rng.random() < 0.25:  # an antenna
                    mid = (left + right) // 2
                    rgb[max(top - height // 20, 0) : top, mid : mid + 2] = tone
                # Windows: a grid per tower, each window lit (warm or cool) or dark as a whole.
                pitch_y, pitch_x = 9 + 3 * layer, 7 + 2 * layer
                wy, wx = np.mgrid[top:height, left:right]
                row, column = (wy - top) // pitch_y, (wx - col) // pitch_x
                lit_table = rng.random((row.max() + 1, column.max() + 1))
                window = ((wy - top) % pitch_y >= pitch_y // 2) & ((wx - col) % pitch_x >= pitch_x // 2)
                window &= (wx - col > 2) & (col + tower - wx > 2) & (wy - top > 4)
                lit = window & (lit_table[row, column] < lit_share)
                warm = lit_table[row, column] < lit_share * 0.6
                block = rgb[top:, left:right]
                block[lit & warm] = (255, 206, 120)
                block[lit & ~warm] = (150, 205, 255)
            col += tower + int(rng.integers(0, 6))

    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    return image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write into (default: next to this script)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sunset_path, night_path = args.out / "sunset.jpg", args.out / "night-city.png"
    sunset().save(sunset_path, format="JPEG", quality=85, optimize=True)
    night_city().save(night_path, format="PNG", optimize=True)
    for path in (sunset_path, night_path):
        logger.info("wrote %s (%d KB)", path, path.stat().st_size // 1024)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
