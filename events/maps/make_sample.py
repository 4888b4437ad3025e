"""Recreate the sample song for Maps, deterministically (no network, no assets).

    python events/maps/make_sample.py      # writes groove.mp3 next to this file

groove.mp3  about 33 s, 22.05 kHz mono MP3 (128 kbps): a rock groove at 120 BPM (kick, snare, closed
            and open hi-hat, a fill and a crash every four bars) under a finger bass and a piano, written
            by bench.maps.grooves (seed 101) and rendered with FluidSynth and the FluidR3 SoundFont.
            What `make demo-maps` uploads, maps and identifies.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED, STYLE, TEMPO_BPM, SECONDS = 101, "rock", 120.0, 32.0


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bench.maps import grooves
    from soundcanvas.maps.drums import SAMPLE_RATE_HZ

    song = grooves.groove(SEED, style=STYLE, tempo_bpm=TEMPO_BPM, seconds=SECONDS)
    with tempfile.TemporaryDirectory() as cache:
        samples = grooves.render_groove(song, grooves.FLUIDR3, Path(cache), mix=True)
    wav = io.BytesIO()
    soundfile.write(wav, samples, SAMPLE_RATE_HZ, format="WAV", subtype="PCM_16")
    mp3 = subprocess.run(["ffmpeg", "-v", "error", "-f", "wav", "-i", "-", "-b:a", "128k", "-f", "mp3", "-"],
                         input=wav.getvalue(), capture_output=True, check=True).stdout
    (HERE / "groove.mp3").write_bytes(mp3)
    sys.stdout.write(f"groove.mp3: {song.duration_seconds:.1f} s, {len(mp3) / 1024:.0f} KiB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
