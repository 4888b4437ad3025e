"""Measure the composer's mix on rendered stems and derive the volume (CC7) table of composition/mix.py.

For every genre and every program the genre can pick for a part, a few pieces are composed (fixed
seeds and pictures), each part is rendered alone with the product's FluidSynth settings and the
FluidR3 SoundFont ("stems"), and its level is measured. Levels are K-weighted (ITU-R BS.1770) and
gated like loudness (400 ms blocks, -70 dBFS absolute and -10 dB relative gates), so a part is
measured while it plays, not diluted by its rests. Each measured level is referred to CC7 = 127
with the General MIDI volume curve (40 log10(cc / 127) dB), so the table does not depend on the
volumes the composer wrote when it was measured.

    .venv/bin/python tools/calibrate_mix.py                   # every genre (a few minutes on 2 cores)
    .venv/bin/python tools/calibrate_mix.py --genres house pop  # some genres

Paste the printed STEM_LEVELS into layers/common/soundcanvas/generation/composition/mix.py when a
part writer, a genre's programs or the SoundFont changes. Needs fluidsynth, FluidR3_GM.sf2 and scipy.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common"))

from bench import music_figures as fig  # noqa: E402  (one definition of each measure, shared with bench.music)
from soundcanvas.generation import render as render_module  # noqa: E402
from soundcanvas.generation.composition import compose  # noqa: E402
from soundcanvas.generation.composition.mix import DRUM_PROGRAM, PARTS, cc7_gain_db  # noqa: E402
from soundcanvas.generation.genres import GENRES  # noqa: E402
from soundcanvas.generation.music import ImageFeatures, MusicParams  # noqa: E402

SAMPLE_RATE = 44100
SECONDS = 20
SEEDS = (11, 29)
TRACK_OF = {"lead": "Lead", "chords": "Chords", "bass": "Bass", "drums": "Drums"}


def picture(seed: int) -> ImageFeatures:
    """A synthetic picture: a calm flat one for even seeds' neighbours, a busy rising one otherwise."""
    strips = 24
    busy = seed % 2 == 1
    ramp = [0.1 + 0.8 * i / (strips - 1) for i in range(strips)]
    return ImageFeatures(
        width=1024,
        height=768,
        format="JPEG",
        brightness=0.55,
        contrast=0.4,
        saturation=0.5,
        warmth=0.1,
        colorfulness=0.45,
        edge_density=0.3,
        dominant_hues=[30.0],
        profile_brightness=ramp if busy else [0.5] * strips,
        profile_height=ramp[::-1] if busy else [0.5] * strips,
        profile_energy=ramp if busy else [0.3] * strips,
    )


def params(genre: str, programs: dict[str, int], seed: int) -> MusicParams:
    g = GENRES[genre]
    low, high = g.tempo_range
    return MusicParams(
        genre=genre,
        tempoBpm=(low + high) // 2,
        key="D",
        scale=g.scales[0],
        mood="bright",
        energy=0.35 if seed % 2 == 0 else 0.7,
        density=0.5,
        instruments=programs,
        durationSeconds=SECONDS,
        mode="heuristic",
        seed=seed,
    )


def stem(midi: bytes, part: str) -> tuple[bytes, int]:
    """The piece with only `part`'s notes (every other part's track keeps its setup, loses its notes), and its CC7."""
    mf = mido.MidiFile(file=BytesIO(midi))
    volume = 127
    for track in mf.tracks:
        if track.name == TRACK_OF[part]:
            volume = next((m.value for m in track if m.type == "control_change" and m.control == 7), 127)
        elif track.name in TRACK_OF.values():
            kept, pending = [], 0
            for message in track:
                pending += message.time
                if message.type not in ("note_on", "note_off"):
                    kept.append(message.copy(time=pending))
                    pending = 0
            track[:] = kept
    out = BytesIO()
    mf.save(file=out)
    return out.getvalue(), volume


def synthesize(midi: bytes, soundfont: Path) -> np.ndarray:
    """(frames, 2) float64, exactly as Render's FluidSynth pass produces it (before leveler and limiter)."""
    args = render_module._fluidsynth_raw_args(SAMPLE_RATE)
    path = Path(f"/tmp/calibrate-mix-{abs(hash(midi))}.mid")  # noqa: S108 (a scratch file of this tool)
    path.write_bytes(midi)
    try:
        done = subprocess.run(["fluidsynth", *args, str(soundfont), str(path)], capture_output=True, check=True)
    finally:
        path.unlink()
    audio = np.frombuffer(done.stdout, dtype=np.float32).reshape(-1, 2).astype(np.float64)
    return audio[: SECONDS * SAMPLE_RATE]


def combos(genre: str) -> Iterable[dict[str, int]]:
    """Every program each part can get, the other parts at their first choice (stems are independent)."""
    g = GENRES[genre]
    first = {"bass": g.bass_programs[0], "chords": g.chord_programs[0], "lead": g.lead_programs[0]}
    seen = []
    for part, choices in (("bass", g.bass_programs), ("chords", g.chord_programs), ("lead", g.lead_programs)):
        for program in choices:
            programs = {**first, part: program}
            if programs not in seen:
                seen.append(programs)
    return seen


def measure(genre: str, soundfont: Path) -> tuple[dict[tuple[str, int], float], list[dict]]:
    """Stem levels at CC7 127 per (part, program) (mean over seeds, in dB) and per-piece mix figures.

    A part's notes do not depend on the other parts' programs, so each (part, program, seed) stem is
    rendered once and its level reused by every piece that plays it.
    """
    heard: dict[tuple[str, int, int], float] = {}  # (part, program, seed) -> level as composed
    at_full: dict[tuple[str, int], list[float]] = {}  # (part, program) -> levels referred to CC7 127
    pieces = []
    for programs in combos(genre):
        for seed in SEEDS:
            midi = compose(params(genre, programs, seed), picture(seed))
            mix = synthesize(midi, soundfont)
            levels: dict[str, float] = {}
            for part in PARTS:
                program = DRUM_PROGRAM if part == "drums" else programs[part]
                key = (part, program, seed)
                if key not in heard:
                    data, volume = stem(midi, part)
                    heard[key] = fig.gated_loudness_db(synthesize(data, soundfont), SAMPLE_RATE)
                    if not math.isinf(heard[key]):
                        at_full.setdefault((part, program), []).append(heard[key] - cc7_gain_db(volume))
                if not math.isinf(heard[key]):
                    levels[part] = heard[key]
            pieces.append(
                {
                    "programs": programs,
                    "correlation": fig.stereo_correlation(mix),
                    "mono_loss": -fig.mono_loss_db(mix),  # negative: the level lost
                    **{f"{p}_vs_lead": levels[p] - levels["lead"] for p in ("drums", "bass", "chords") if p in levels},
                }
            )
            sys.stderr.write(f"{genre} {programs} seed {seed}: corr {pieces[-1]['correlation']:+.2f}\n")
    table = {key: float(np.mean(values)) for key, values in at_full.items()}
    return table, pieces


def _spread(pieces: list[dict], key: str) -> str:
    """The median of a figure over the pieces, and its lowest value in brackets."""
    values = [p[key] for p in pieces if key in p]
    return f"{np.median(values):+5.1f} ({min(values):+5.1f})" if values else "n/a"


def report(results: dict[str, tuple[dict[tuple[str, int], float], list[dict]]]) -> str:
    """Per genre: worst correlation and mono loss over the pieces; median stem levels against the lead."""
    lines = [
        "levels in dB: median over the pieces (worst piece)",
        "genre      | corr min | mono loss worst |   drums - lead |    bass - lead |  lead - chords",
    ]
    for genre, (_, pieces) in results.items():
        for piece in pieces:
            if "chords_vs_lead" in piece:
                piece["lead_vs_chords"] = -piece["chords_vs_lead"]
        lines.append(
            f"{genre:10} | {min(p['correlation'] for p in pieces):+8.2f} | {min(p['mono_loss'] for p in pieces):+15.1f} |"
            f" {_spread(pieces, 'drums_vs_lead'):>14} | {_spread(pieces, 'bass_vs_lead'):>14} |"
            f" {_spread(pieces, 'lead_vs_chords'):>14}"
        )
    lines.append("\nSTEM_LEVELS: dict[str, dict[tuple[str, int], float]] = {")
    for genre, (table, _) in results.items():
        lines.append(f'    "{genre}": {{')
        lines += [f'        ("{part}", {program}): {level:.1f},' for (part, program), level in sorted(table.items())]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genres", nargs="*", default=list(GENRES))
    args = parser.parse_args()
    soundfont = render_module.find_soundfont()
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(args.genres, pool.map(lambda g: measure(g, soundfont), args.genres), strict=True))
    sys.stdout.write(report(results))


if __name__ == "__main__":
    main()
