"""Listen's audio: mono float32 at 22050 Hz, the rate basic-pitch's model was trained at, decoded by
soundcanvas.core.audio (sniffing, length limits and ffmpeg's failures in plain words live there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundcanvas.core import audio

SAMPLE_RATE_HZ = 22050  # basic-pitch's rate (basic_pitch.constants.AUDIO_SAMPLE_RATE)


def decode(path: Path, *, max_duration_seconds: float = audio.MAX_DURATION_SECONDS) -> np.ndarray:
    """The recording at `path` as Listen reads it (see soundcanvas.core.audio.decode for the errors)."""
    return audio.decode(path, sample_rate_hz=SAMPLE_RATE_HZ, max_duration_seconds=max_duration_seconds)
