"""Real audio files for the track library tests: tones written by libsndfile, tags by mutagen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from mutagen.flac import FLAC, Picture

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
    "010100c9fe92ef0000000049454e44ae426082"
)


def tone(seconds: float, rate: int = 44100, freq: float = 440.0) -> np.ndarray:
    """A stereo chord (root, fifth, octave) with a little noise: something an encoder has to work on."""
    t = np.arange(int(seconds * rate)) / rate
    mono = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (freq, freq * 1.5, freq * 2))
    mono = mono + 0.01 * np.random.default_rng(7).standard_normal(t.size)
    return np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)


def write(path: Path, seconds: float = 2.0, *, fmt: str | None = None, subtype: str | None = None,
          rate: int = 44100) -> Path:
    soundfile.write(path, tone(seconds, rate), rate, format=fmt, subtype=subtype)
    return path


def tagged_flac(path: Path, seconds: float = 2.0, *, title: str = "Blue Hour", artist: str = "Nadia K",
                album: str = "Evenings", cover: bytes | None = PNG_1PX) -> Path:
    write(path, seconds)
    flac = FLAC(path)
    flac["title"], flac["artist"], flac["album"] = title, artist, album
    if cover is not None:
        picture = Picture()
        picture.type, picture.mime, picture.data = 3, "image/png", cover
        flac.add_picture(picture)
    flac.save()
    return path
