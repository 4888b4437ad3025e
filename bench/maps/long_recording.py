"""The Fingerprint function on a recording of hours: peak memory and time, against decoding it whole.

The Fingerprint function (functions/maps/analysis/fingerprint.py, 1,024 MB) accepts recordings of up to
4 hours (library tracks up to the 200 MB upload limit: 3.6 hours of 128 kbps MP3). It decodes them a chunk
at a time (soundcanvas.core.audio.pcm16_chunks) into Chromaprint (soundcanvas.maps.fingerprints.fingerprint_pcm16).
The baseline, run in the same bench, is the plain way: `audio.decode` to one float array, then
`fingerprint_samples`.

The recording is made here: RECORDING_HOURS of synthetic music (a random chord every 0.25 s, decaying, with a
noise tick on each beat; never repeating, so Chromaprint's items vary as music's do), written as a 22,050 Hz
mono 16-bit WAV a minute at a time. Each path runs in a fresh interpreter that first imports what the
function imports (boto3 with an S3 client, Powertools, numpy, Chromaprint) and reports its peak resident set
(VmHWM of /proc/self/status) and the same figure before the step; ffmpeg's own memory is not in it (it is a
separate process of ~55 MB, streaming).

    python -m bench.maps long [--hours H] [--out docs/maps-long-recording-bench.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from local_stack.stack import ROOT

RECORDING_HOURS = 3.0
RATE_HZ = 22050
FUNCTION_MEMORY_MB = 1024
CHORD_SECONDS = 0.25
OUT = ROOT / "docs" / "maps-long-recording-bench.md"

_CHILD = """
import json, sys, time
from pathlib import Path
import boto3, aws_lambda_powertools, numpy, chromaprint  # what the function imports
from soundcanvas.core import audio
from soundcanvas.maps import fingerprints
boto3.client("s3", region_name="us-east-1")
def peak_mb():
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
before = peak_mb()
path, how = Path(sys.argv[1]), sys.argv[2]
rate, limit = fingerprints.SAMPLE_RATE_HZ, 4 * 3600
started = time.perf_counter()
if how == "chunks":
    items, seconds = fingerprints.fingerprint_pcm16(
        audio.pcm16_chunks(path, sample_rate_hz=rate, max_duration_seconds=limit, timeout_seconds=600), rate)
else:
    samples = audio.decode(path, sample_rate_hz=rate, max_duration_seconds=limit, timeout_seconds=600)
    items, seconds = fingerprints.fingerprint_samples(samples, rate), samples.size / rate
print(json.dumps({"beforeMb": before, "peakMb": peak_mb(), "wallSeconds": time.perf_counter() - started,
                  "items": int(items.size), "seconds": seconds}))
"""


def write_recording(path: Path, hours: float, seed: int = 7) -> float:
    """RECORDING_HOURS of never-repeating synthetic music as a 16-bit WAV, a minute at a time; its seconds."""
    rng = np.random.default_rng(seed)
    chord_samples = int(CHORD_SECONDS * RATE_HZ)
    t = np.arange(chord_samples) / RATE_HZ
    envelope = np.exp(-t * 6.0)
    tick = rng.normal(0, 0.15, chord_samples) * np.exp(-t * 60.0)
    total_chords = int(hours * 3600 / CHORD_SECONDS)
    with soundfile.SoundFile(path, "w", samplerate=RATE_HZ, channels=1, subtype="PCM_16") as out:
        for first in range(0, total_chords, 240):  # a minute of chords at a time
            count = min(240, total_chords - first)
            pitches = rng.integers(45, 86, size=(count, 3))
            hz = 440.0 * 2.0 ** ((pitches - 69) / 12.0)
            block = np.sin(2 * np.pi * hz[:, :, None] * t[None, None, :]).sum(axis=1) * envelope * 0.2
            block[::4] += tick  # a beat every four chords
            out.write(block.reshape(-1).astype(np.float32))
    return total_chords * chord_samples / RATE_HZ


def measure(path: Path, how: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), how], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT / "layers" / "common"), "PATH": "/usr/bin:/bin"},
                          check=False)
    if done.returncode != 0:  # the baseline may be killed for its memory on a small machine: say so
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(rows: dict[str, dict[str, Any]], hours: float, wav_mb: float) -> str:
    lines = [
        "# Maps: fingerprinting a recording of hours (bench)",
        "",
        f"Made by `python -m bench.maps long` (bench/maps/long_recording.py) on {datetime.now(UTC):%Y-%m-%d}: a "
        f"{hours:g}-hour recording ({wav_mb:.0f} MB WAV, 22,050 Hz mono), fingerprinted in a fresh interpreter per "
        "path. Peak is the whole Python process (interpreter and the function's imports included), ffmpeg apart. "
        f"Target: the Fingerprint function's {FUNCTION_MEMORY_MB:,} MB.",
        "",
        "| path | peak MB | before the step MB | wall s | items | audio s | within 1,024 MB |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {"chunks": "Fingerprint function: decoded a chunk at a time",
             "whole": "baseline: decoded whole, then fingerprinted"}
    for how, row in rows.items():
        if "error" in row:
            lines.append(f"| {names[how]} | failed: {row['error']} | | | | | no |")
            continue
        within = "yes" if row["peakMb"] <= FUNCTION_MEMORY_MB else "NO"
        lines.append(f"| {names[how]} | {row['peakMb']:.0f} | {row['beforeMb']:.0f} | {row['wallSeconds']:.1f} | "
                     f"{row['items']:,} | {row['seconds']:.0f} | {within} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.maps long", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=RECORDING_HOURS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        path = Path(tmp) / "long.wav"
        write_recording(path, args.hours)
        wav_mb = path.stat().st_size / 2**20
        rows = {how: measure(path, how) for how in ("chunks", "whole")}
    text = report(rows, args.hours, wav_mb)
    args.out.write_text(text)
    sys.stdout.write(text)
    return 0
