"""Run every Listen stage once on two seconds of sound, so numba (librosa's chroma and onset code)
compiles and caches its functions and the ONNX model loads: the analysis image's build runs this
(`python -m soundcanvas.listen.warm`) to bake the cache in, and `make` runs it once into
`.venv/numba-cache` (about 25 s) before any test, which each test worker then copies
(docs/testing.md#numba-cache)."""

from __future__ import annotations

import numpy as np

from soundcanvas.listen import audio, harmony, rhythm, tab, transcribe


def main() -> None:
    seconds = np.arange(int(2.0 * audio.SAMPLE_RATE_HZ)) / audio.SAMPLE_RATE_HZ
    samples = np.zeros_like(seconds, dtype=np.float32)
    for start, hz in ((0.0, 261.63), (0.5, 329.63), (1.0, 392.0), (1.5, 523.25)):
        envelope = np.where(seconds >= start, np.exp(-3.0 * (seconds - start)), 0.0)
        samples += (0.3 * envelope * np.sin(2 * np.pi * hz * seconds)).astype(np.float32)
    notes = transcribe.transcribe(samples)
    found = rhythm.estimate_rhythm(samples, notes)
    key = harmony.estimate_key(notes, samples)
    harmony.estimate_chords(notes, found.beats_seconds, samples, key=key)
    tab.solve_tab(notes, tab.parse_tuning("standard"), 0)


if __name__ == "__main__":
    main()
