"""Recreate the sample track, procedurally and deterministically (no network, no assets).

    python events/library/audio/make_sample.py            # writes demo-track.flac next to this file

demo-track.flac  12 s, 44.1 kHz stereo 16-bit FLAC, tagged "Tide Lines" by "SoundCanvas Demo"
                 (album "Samples"), with a small PNG cover: what a DJ's tagged file looks like.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import soundfile
from mutagen.flac import FLAC, Picture
from PIL import Image

HERE = Path(__file__).resolve().parent
RATE = 44100


def _music(seconds: float) -> np.ndarray:
    """A little four-chord progression with a plucked envelope: real content for the encoder."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros((t.size, 2))
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 329.63)]
    beat = 0.5
    for i in range(int(seconds / beat)):
        start = int(i * beat * RATE)
        n = min(int(beat * RATE), t.size - start)
        local = t[:n]
        envelope = np.exp(-4.0 * local)
        for j, freq in enumerate(chords[(i // 4) % 4]):
            tone = 0.12 * envelope * np.sin(2 * np.pi * freq * local + j)
            out[start:start + n, 0] += tone * (1.0 - 0.2 * j)
            out[start:start + n, 1] += tone * (0.6 + 0.2 * j)
    return out.astype(np.float32)


def _cover() -> bytes:
    gradient = np.linspace(0, 255, 64, dtype=np.uint8)
    channels = [np.tile(gradient, (64, 1)), np.tile(gradient[:, None], (1, 64)), np.full((64, 64), 160, np.uint8)]
    pixels = np.stack(channels, -1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def make(out: Path) -> Path:
    path = out / "demo-track.flac"
    soundfile.write(path, _music(12.0), RATE, subtype="PCM_16")
    flac = FLAC(path)
    flac["title"], flac["artist"], flac["album"] = "Tide Lines", "SoundCanvas Demo", "Samples"
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", _cover()
    flac.add_picture(picture)
    flac.save()
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    make(parser.parse_args().out)
