"""Real audio files for the track library tests: tones written by libsndfile, tags by mutagen."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
import soundfile
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3
from PIL import Image

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


def mp3(path: Path, seconds: float = 2.0) -> Path:
    """A 192 kbps MP3 encoded by ffmpeg (libmp3lame) from the same chord."""
    wav = write(path.with_suffix(".src.wav"), seconds)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame",
                    "-b:a", "192k", str(path)], check=True)
    wav.unlink()
    return path


def with_apic(path: Path, data: bytes, mime: str) -> Path:
    """Give an MP3 an ID3v2 tag with one APIC (cover) frame."""
    tags = ID3()
    tags.add(APIC(encoding=3, mime=mime, type=3, desc="cover", data=data))
    tags.save(path)
    return path


def with_pictures(path: Path, *pictures: tuple[bytes, str]) -> Path:
    """Add METADATA_BLOCK_PICTUREs to a FLAC: (data, mime) each."""
    flac = FLAC(path)
    for data, mime in pictures:
        picture = Picture()
        picture.type, picture.mime, picture.data = 3, mime, data
        flac.add_picture(picture)
    flac.save()
    return path


def picture(width: int, height: int, *, alpha: bool = False, fmt: str = "PNG") -> bytes:
    """A gradient image (with a transparent half when `alpha`), encoded by Pillow."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    channels = [x, y, 255 - x] + ([np.where(x > 127, 255, 0).astype(np.float32)] if alpha else [])
    image = Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8), "RGBA" if alpha else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def lying_wav(path: Path, *, actual_seconds: float, header_minutes: float) -> bytes:
    """A 16-bit stereo WAV holding `actual_seconds` whose RIFF and data sizes claim `header_minutes`."""
    data = bytearray(write(path, actual_seconds, fmt="WAV", subtype="PCM_16").read_bytes())
    declared = int(header_minutes * 60 * 44100 * 4)
    at = data.find(b"data")
    struct.pack_into("<I", data, at + 4, declared)
    struct.pack_into("<I", data, 4, declared + at)
    path.write_bytes(bytes(data))
    return bytes(data)
