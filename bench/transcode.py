"""Track transcode benchmark: soundcanvas.library.transcode against the plain ffmpeg command, same file, same run.

`transcode_rows(workdir)` makes a 5-minute 44.1 kHz stereo 16-bit FLAC of music-like content,
runs `bare_transcode` and `transcode_to_mp3` alternately (so neither gets a warmer page cache)
and reports the median of each; `transcode_lines(rows)` formats them for docs/benchmarks.md.
`pipeline_rows(workdir)` re-measures the design choice recorded in soundcanvas.library.transcode's
docstring: one ffmpeg process against ffmpeg decoding into `lame -r` on a pipe.

    python -m bench.transcode            # prints both tables (about a minute on 2 cores)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from soundcanvas.library.transcode import bare_transcode, transcode_to_mp3

RATE = 44100
SECONDS = 300
RUNS = 3
TARGET_RATIO = 1.1  # ours / bare: the probe and checks may cost at most 10 %
CHUNK_SECONDS = 10


def music_like_flac(path: Path, seconds: int = SECONDS, rate: int = RATE) -> Path:
    """A stereo FLAC an encoder has real work on: a chord progression of plucked notes with
    harmonics panned across the field, a bass line, hi-hat noise bursts and a quiet noise floor.
    Written in chunks, so memory stays small; deterministic (fixed seed)."""
    rng = np.random.default_rng(11)
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 329.63)]
    beat = 0.5  # seconds: 120 BPM
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=2, format="FLAC", subtype="PCM_16") as out:
        for start in range(0, seconds, CHUNK_SECONDS):
            n = min(CHUNK_SECONDS, seconds - start) * rate
            t = start + np.arange(n) / rate
            since_beat = t % beat
            chord = np.asarray(chords[0])[None, :].repeat(n, 0)
            for i, notes in enumerate(chords):
                chord[(t // (4 * beat)) % len(chords) == i] = notes
            pluck = np.exp(-4.0 * since_beat)
            left = np.zeros(n)
            right = np.zeros(n)
            for voice in range(3):
                f = chord[:, voice]
                tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3, 5))
                pan = (voice + 0.5) / 3
                left += (1 - pan) * 0.12 * pluck * tone
                right += pan * 0.12 * pluck * tone
            bass = 0.18 * np.sin(2 * np.pi * chord[:, 0] / 2 * t) * np.exp(-2.0 * since_beat)
            hats = rng.standard_normal((n, 2)) * (0.08 * np.exp(-60.0 * (t % (beat / 2))))[:, None]
            floor = rng.standard_normal((n, 2)) * 0.004
            block = np.stack([left + bass, right + bass], axis=1) + hats + floor
            out.write(np.clip(block, -1.0, 1.0).astype(np.float32))
    return path


def transcode_rows(workdir: Path) -> list[dict[str, Any]]:
    """One row: median seconds of ours and of the bare ffmpeg command on a 5-minute FLAC, and the ratio."""
    source = _source(Path(workdir))
    ours_out, bare_out = Path(workdir) / "ours.mp3", Path(workdir) / "bare.mp3"
    bare_s, ours_s = _alternate(
        {
            "bare": lambda: bare_transcode(source, bare_out),
            "ours": lambda: _seconds(lambda: transcode_to_mp3(source, ours_out)),
        }
    ).values()
    ratio = statistics.median(ours_s) / statistics.median(bare_s)
    return [
        {
            "input": f"{SECONDS // 60}-minute 44.1 kHz stereo 16-bit FLAC ({source.stat().st_size / 1e6:.1f} MB)",
            "seconds": SECONDS,
            "ours": statistics.median(ours_s),
            "bare": statistics.median(bare_s),
            "ours_runs": ours_s,
            "bare_runs": bare_s,
            "ratio": ratio,
            "target": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO,
            "mp3_bytes": ours_out.stat().st_size,
        }
    ]


def transcode_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines for docs/benchmarks.md."""
    lines = [
        "| track transcode to 320 kbps MP3 | transcode_to_mp3 (median of "
        f"{RUNS}) | bare `ffmpeg -i src -codec:a libmp3lame -b:a 320k` | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['input']} | {r['ours']:.2f} s | {r['bare']:.2f} s | {r['ratio']:.2f} | "
                     f"<= {r['target']} x bare | {'yes' if r['met'] else 'NO'} |")
    return lines


def pipeline_rows(workdir: Path, runs: int = 5) -> list[dict[str, Any]]:
    """Median seconds of the two pipelines soundcanvas.library.transcode chose between, on the same FLAC."""
    source = _source(Path(workdir))
    timings = _alternate(
        {
            "one ffmpeg process (transcode_to_mp3)": lambda: _seconds(
                lambda: transcode_to_mp3(source, Path(workdir) / "a.mp3")
            ),
            "ffmpeg -f s16le - | lame -r (two processes)": lambda: _ffmpeg_into_lame(source, Path(workdir) / "b.mp3"),
            "bare ffmpeg command": lambda: bare_transcode(source, Path(workdir) / "c.mp3"),
        },
        runs,
    )
    return [{"pipeline": name, "median": statistics.median(v), "min": min(v), "max": max(v)} for name, v in timings.items()]


def _source(workdir: Path) -> Path:
    """The benchmark FLAC in `workdir`, made once."""
    path = workdir / "bench-5min.flac"
    return path if path.is_file() else music_like_flac(path)


def _ffmpeg_into_lame(src: Path, dst: Path) -> float:
    """ffmpeg decoding to 16-bit PCM on a pipe into lame at the same settings (-q 3 is ffmpeg's default)."""
    ffmpeg, lame = shutil.which("ffmpeg"), shutil.which("lame")
    if ffmpeg is None or lame is None:
        raise RuntimeError("the pipeline comparison needs ffmpeg and lame (apt-get install ffmpeg lame)")
    started = time.perf_counter()
    decode = subprocess.Popen([ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(src), "-map", "0:a:0",
                               "-f", "s16le", "-acodec", "pcm_s16le", "-"], stdout=subprocess.PIPE)
    assert decode.stdout is not None
    encode = subprocess.run([lame, "--silent", "-r", "-s", "44.1", "--bitwidth", "16", "--signed", "--little-endian",
                             "-b", "320", "--cbr", "-q", "3", "--noreplaygain", "-", str(dst)],
                            stdin=decode.stdout, stderr=subprocess.DEVNULL, check=False)
    decode.stdout.close()
    if decode.wait() != 0 or encode.returncode != 0:
        raise RuntimeError("ffmpeg | lame failed")
    return time.perf_counter() - started


def _alternate(runners: dict[str, Callable[[], float]], runs: int = RUNS) -> dict[str, list[float]]:
    """Seconds of each runner, `runs` times, taking turns."""
    results: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(runs):
        for name, run in runners.items():
            results[name].append(run())
    return results


def _seconds(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        rows = transcode_rows(Path(tmp))
        pipelines = pipeline_rows(Path(tmp))
    lines = [*transcode_lines(rows), "", "| pipeline (5 runs) | median | min | max |", "|---|---|---|---|"]
    lines += [f"| {p['pipeline']} | {p['median']:.2f} s | {p['min']:.2f} s | {p['max']:.2f} s |" for p in pipelines]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
