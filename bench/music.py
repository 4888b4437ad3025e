"""The music report: what a listener notices, measured per genre, for today's composer and the working tree's.

    python -m bench.music [--out docs/music-report.md] [--audio-pictures 2] [--seconds 60]

A fixed picture set (the repository's sample pictures, the test pictures of tests/imagegen.py, a few
seeded pictures made here and the real photographs of tests/images/photos) goes through each tree's own
analysis and mapping; every picture x all 10 genres x both modes is composed (the MIDI figures), and
`--audio-pictures` pictures per genre (rotating through the set, the modes taking turns) are also rendered,
one FluidSynth pass per part (the audio figures). Today's composer is the `soundcanvas` package of commit
TODAY_COMMIT, extracted with `git archive` into a temporary directory; both trees compose in a subprocess of
their own (bench/music_runner.py). Beside them, the melody figures of a sample of real music from the Blend
seed catalog (Bach chorales, folk tunes; data/seed-catalog). How each figure is computed: docs/music.md.
Nothing here fails the build.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import mido
import numpy as np
from PIL import Image, ImageFilter

from bench import music_figures as fig
from bench.report import say
from soundcanvas.blend.seed import read_seed_catalog
from soundcanvas.generation.genres import GENRE_NAMES, KEYS, MODES, SCALES
from soundcanvas.generation.render import find_soundfont
from tests import imagegen

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "music-report.md"
RUNNER = Path(__file__).resolve().parent / "music_runner.py"
# Today's composer: main when the music work started (its `layers/common/soundcanvas` is extracted with
# `git archive`, never copied into the repository). Bump it only to compare against another baseline.
TODAY_COMMIT = "316bf9e"
PACKAGE_PATH = "layers/common/soundcanvas"
SAMPLE_RATE = 22050  # enough for levels and stereo image; half the synthesis time of 44.1 kHz
# Loudness windows for the lead-rest figure: momentary (EBU's 400 ms), since the composer's lead rests last
# 0.4 to 1 s and no 3 s short-term window is ever free of the lead.
WINDOW_S, HOP_S = 0.4, 0.1
REFERENCE_SAMPLE = 50  # chorales and folk tunes each, evenly spaced through the catalog
FOLK_COLLECTIONS = ("ryans-mammoth", "oneills-music-of-ireland", "airds-airs", "northumbrian-minstrelsy")
PENTATONIC_PARENT = {"major_pentatonic": "major", "minor_pentatonic": "minor"}
# The targets: the genres whose drums and bass must sit within 6 dB of the lead.
DRIVEN_GENRES = frozenset({"house", "techno", "hiphop", "rock", "pop"})
CADENCE_BARS = 8  # the closing bars whose chords are read for the cadence figure
SYNTHETIC = ("gradient-", "noise-")  # made pictures that are not photo-like
PHOTOS = ROOT / "tests" / "images" / "photos"  # real photographs (CC0 / public domain; their README.md)
REAL = "real-"  # name prefix of the real photographs in the picture set


# --- pictures ----------------------------------------------------------------------------------


def _png(array: np.ndarray) -> bytes:
    out = BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _jpeg(array: np.ndarray) -> bytes:
    out = BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=88)
    return out.getvalue()


def _texture(rng: np.random.Generator, shape: tuple[int, int], scales: Sequence[int]) -> np.ndarray:
    """Smooth multi-scale noise 0..1 (coarse grids upsampled bicubically and summed): natural-looking texture."""
    height, width = shape
    total = np.zeros(shape, np.float32)
    for i, cells in enumerate(scales):
        grid = rng.random((max(2, height * cells // width), cells)).astype(np.float32)
        layer = np.asarray(Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC))
        total += layer / (i + 1)
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def made_pictures(seed: int = 2026) -> dict[str, bytes]:
    """Seeded pictures: two gradients, two noises and six photo-like scenes (640x400)."""
    h, w = 400, 640
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / (h - 1), xx / (w - 1)
    rng = np.random.default_rng(seed)
    out: dict[str, bytes] = {}
    warm = np.stack([230 - 80 * xx, 120 - 40 * xx + 30 * yy, 60 + 140 * xx], axis=-1)
    out["gradient-warm"] = _png(warm)
    grey = (40 + 180 * yy)[..., None].repeat(3, axis=-1)
    out["gradient-grey"] = _png(grey)
    out["noise-colour"] = _png(rng.integers(0, 256, (h, w, 3)).astype(np.float32))
    out["noise-grey-soft"] = _png((90 + 60 * _texture(rng, (h, w), (8, 32, 128)))[..., None].repeat(3, axis=-1))
    leaves = _texture(rng, (h, w), (16, 64, 200))
    forest = np.stack([30 + 60 * leaves, 70 + 110 * leaves, 25 + 40 * leaves], axis=-1)
    trunks = (np.sin(xx * 70 + 3 * _texture(rng, (h, w), (4,))) > 0.93)[..., None]
    out["photo-forest"] = _jpeg(np.where(trunks, np.array([60, 40, 25], np.float32), forest))
    sand = _texture(rng, (h, w), (32, 160))
    beach = np.where((yy < 0.45)[..., None], np.stack([110 + 80 * yy, 170 + 40 * yy, 240 + 0 * yy], axis=-1),
                     np.where((yy < 0.7)[..., None], np.stack([20 + 30 * sand, 110 + 40 * sand, 160 + 30 * sand], -1),
                              np.stack([225 + 20 * sand, 200 + 20 * sand, 150 + 20 * sand], axis=-1)))
    out["photo-beach"] = _jpeg(beach)
    face = np.hypot((xx - 0.5) * 1.6, (yy - 0.45) * 1.1) < 0.28
    shade = (0.8 + 0.4 * _texture(rng, (h, w), (6,)))[..., None]
    backdrop = np.stack([60 + 40 * xx, 70 + 30 * yy, 90 + 20 * xx], axis=-1) * shade
    skin = np.array([224, 172, 140], np.float32) * (0.85 + 0.15 * (1 - yy))[..., None]
    portrait = np.where(face[..., None], skin, backdrop)
    out["photo-portrait"] = _jpeg(np.asarray(Image.fromarray(portrait.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))))
    street = np.full((h, w, 3), 18, np.float32) + 30 * _texture(rng, (h, w), (16, 64))[..., None]
    for _ in range(160):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(int(h * 0.2), h - 12))
        street[y0:y0 + int(rng.integers(3, 12)), x0:x0 + int(rng.integers(4, 30))] = rng.integers(80, 256, 3)
    out["photo-street"] = _jpeg(street)
    snow_tex = _texture(rng, (h, w), (24, 96, 240))
    out["photo-snow"] = _jpeg(np.stack([215 + 35 * snow_tex, 220 + 30 * snow_tex, 232 + 23 * snow_tex], axis=-1))
    meadow = np.stack([50 + 60 * leaves, 120 + 80 * leaves, 40 + 30 * leaves], axis=-1)
    for _ in range(400):
        cx, cy, r = int(rng.integers(0, w)), int(rng.integers(int(h * 0.3), h)), int(rng.integers(3, 10))
        meadow[max(0, cy - r):cy + r, max(0, cx - r):cx + r] = rng.choice(
            np.array([[240, 40, 60], [250, 210, 40], [200, 80, 220], [250, 250, 250]], np.float32))
    out["photo-flowers"] = _jpeg(meadow)
    return out


def picture_set() -> dict[str, bytes]:
    """The fixed picture set, in a fixed order: the demo's samples, the test pictures, the made ones, the real
    photographs (named real-<file stem>)."""
    pictures = {p.stem: p.read_bytes() for p in sorted((ROOT / "events" / "generation" / "images").iterdir())
                if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")}
    for palette in imagegen.PALETTES:
        pictures[f"test-{palette}"] = imagegen.png_bytes(640, 400, palette)
    pictures.update(made_pictures())
    pictures.update({f"{REAL}{p.stem}": p.read_bytes() for p in sorted(PHOTOS.glob("*.jpg"))})
    return pictures


# --- composing with each tree --------------------------------------------------------------------


@dataclass
class Tree:
    label: str  # "today" or "now"
    pythonpath: Path | None  # None: not available
    note: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None


def extract_today(into: Path) -> tuple[Path | None, str]:
    """`git archive TODAY_COMMIT layers/common/soundcanvas` extracted under `into`; (None, why) when it cannot."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", TODAY_COMMIT, PACKAGE_PATH],
                                 capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"git could not run ({exc})"
    if archive.returncode != 0:
        why = archive.stderr.decode(errors="replace").strip().splitlines()
        return None, f"commit {TODAY_COMMIT} is not in this clone (a shallow clone?): {why[-1] if why else ''}"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "layers" / "common", f"`soundcanvas` of commit {TODAY_COMMIT}, extracted with git archive"


def run_tree(tree: Tree, jobs_path: Path, out: Path) -> None:
    """Compose every piece with the tree's package in a subprocess of its own; fills tree.result."""
    assert tree.pythonpath is not None
    env = {**os.environ, "PYTHONPATH": str(tree.pythonpath)}
    done = subprocess.run([sys.executable, "-P", str(RUNNER), str(jobs_path), str(out)], env=env,
                          capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the {tree.label} composer failed: {done.stderr[-2000:]}")
    tree.result = json.loads((out / "result.json").read_text())
    tree.out = out
    if not Path(tree.result["package"]).is_relative_to(tree.pythonpath):
        raise RuntimeError(f"the {tree.label} run imported {tree.result['package']}, not {tree.pythonpath}")


def plan_pieces(pictures: Sequence[str], seconds: int) -> list[dict[str, Any]]:
    """Every picture x genre x mode; the seed follows the picture (it picks the instruments)."""
    return [{"id": f"{genre}-{mode}-{name}", "picture": name, "genre": genre, "mode": mode, "seed": 100 + i,
             "durationSeconds": seconds}
            for genre in GENRE_NAMES for mode in MODES for i, name in enumerate(pictures)]


def audio_pictures(pictures: Sequence[str], genre_index: int, count: int) -> list[str]:
    """`count` pictures for one genre, rotating through the set so the genres share it out."""
    return [pictures[(genre_index * count + k) % len(pictures)] for k in range(count)]


# --- rendering -----------------------------------------------------------------------------------


def stem_files(data: bytes, folder: Path, stem: str) -> list[tuple[fig.Track, Path]]:
    """One MIDI file per part: the conductor plus that part's track (tracks without notes are left out)."""
    midi = mido.MidiFile(file=BytesIO(data))
    song = fig.read_song(data)
    files = []
    for index, track in enumerate(song.tracks, start=1):
        if not track.notes:
            continue
        part = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
        part.tracks = [midi.tracks[0], midi.tracks[index]]
        path = folder / f"{stem}.{index}.mid"
        part.save(path)
        files.append((track, path))
    return files


def synthesize(path: Path, soundfont: Path) -> np.ndarray:
    """FluidSynth's raw float output (frames x 2), at the product's gain, effects on, nothing after it."""
    done = subprocess.run(["fluidsynth", "-ni", "-q", "-T", "raw", "-O", "float", "-F", "-", "-r", str(SAMPLE_RATE),
                           "-g", "0.2", str(soundfont), str(path)], capture_output=True, check=True, timeout=600)
    return np.frombuffer(done.stdout, dtype=np.float32).reshape(-1, 2)


def audio_figures(data: bytes, form: dict[str, Any] | None, folder: Path, stem: str, soundfont: Path,
                  pool: ThreadPoolExecutor) -> dict[str, Any]:
    """Render each part alone, sum the stems into the mix (FluidSynth is linear: the sum matches a full render
    to about -40 dB) and measure the mix's stereo image, the stems' levels and the lead-rest drops."""
    song = fig.read_song(data)
    files = stem_files(data, folder, stem)
    stems = list(pool.map(lambda item: synthesize(item[1], soundfont), files))
    length = round(song.seconds(max(n[1] for t in song.tracks for n in t.notes)) * SAMPLE_RATE) if files else 0
    mix = np.zeros((max([length, *(len(s) for s in stems)]), 2), np.float64)
    levels: dict[str, float] = {}
    for (track, _), audio in zip(files, stems, strict=True):
        mix[:len(audio)] += audio
        level = fig.gated_loudness_db(audio, SAMPLE_RATE)  # as the mix is calibrated: rests do not count
        name = fig.role(track)
        levels[name] = max(levels.get(name, -math.inf), level)  # the loudest track of a role stands for it
    mix = mix[:length] if length else mix
    lead = [(song.seconds(a), song.seconds(b)) for t in song.tracks if fig.role(t) == "lead" for a, b, _, _ in t.notes]
    breakdowns = [(song.seconds(start * song.bar_ticks), song.seconds((start + bars) * song.bar_ticks))
                  for name, start, bars in (form or {}).get("sections", []) if "breakdown" in name.lower()]
    windows = fig.window_levels_db(mix, SAMPLE_RATE, WINDOW_S, HOP_S)
    figures: dict[str, Any] = {
        "correlation": fig.stereo_correlation(mix),
        "monoLoss": fig.mono_loss_db(mix),
        "restDrop": fig.largest_rest_drop_db(windows, WINDOW_S, lead, breakdowns),
    }
    if "lead" in levels:
        for key, part, other in (("drumsVsLead", "drums", "lead"), ("bassVsLead", "bass", "lead"),
                                 ("leadVsChords", "lead", "chords")):
            if part in levels and other in levels:
                figures[key] = levels[part] - levels[other]
    return figures


# --- MIDI figures --------------------------------------------------------------------------------


def tonic_and_scale(params: dict[str, Any]) -> tuple[int, tuple[int, ...]]:
    scale = PENTATONIC_PARENT.get(params["scale"], params["scale"])
    return KEYS.index(params["key"]), SCALES[scale]


def midi_figures(data: bytes, piece: dict[str, Any]) -> dict[str, Any]:
    """Form, melody, drums, timing and harmony figures of one composed piece."""
    song = fig.read_song(data)
    parts = {role: [n for t in song.tracks if fig.role(t) == role for n in t.notes]
             for role in ("lead", "chords", "bass", "drums", "other")}
    lead = sorted(parts["lead"])
    form = piece.get("form") or {}
    sections = [tuple(s) for s in form.get("sections", []) if s[2] > 0]
    step = song.ticks_per_beat // 4
    end_tick = max((n[1] for t in song.tracks for n in t.notes), default=0)
    tonic, scale = tonic_and_scale(piece["params"])
    pitched = [n[2] for role in ("lead", "chords", "bass", "other") for n in parts[role]]
    harmony = parts["chords"] + parts["bass"]
    last_bars = max(0, end_tick // song.bar_ticks - CADENCE_BARS) * song.bar_ticks
    roots = fig.chord_roots(harmony, song.bar_ticks // 2, end_tick, last_bars)
    patterns = fig.drum_bars(parts["drums"], song.bar_ticks, step) if parts["drums"] else {}
    ends = fig.phrase_ends(sections) if sections else list(range(3, end_tick // song.bar_ticks, 4))
    bars_before_final = form.get("bars")
    if bars_before_final is not None:
        ends = [b for b in ends if b < bars_before_final]
    own = fig.scale_share(pitched, tonic, scale)
    grid = fig.grid_shares([n[0] for t in song.tracks for n in t.notes], song.ticks_per_beat)
    return {
        "sectionLengths": [s[2] for s in sections],
        "multipleOf4": fig.multiple_of_four_share([s[2] for s in sections]) if sections else None,
        "repeatShare": fig.repeated_bar_share(lead, song.bar_ticks, song.ticks_per_beat // 8),
        "range": fig.pitch_range(lead),
        "drumBars": len(set(patterns.values())) if patterns else None,
        "fillShare": fig.fill_share(patterns, ends) if patterns else None,
        "gridExact": grid[0] if grid else None,
        "mechanical": grid[1] if grid else None,
        "cadence": fig.cadence(roots, tonic, fig.allowed_cadences(piece["genre"])),
        "leadScale": fig.best_diatonic_share([n[2] for n in lead]),
        "ownScale": own,
        "chromatic": own is not None and own < 1.0,
    }


# --- reference corpus --------------------------------------------------------------------------


def evenly(items: Sequence[Any], count: int) -> list[Any]:
    """`count` items spread evenly through `items` (all of them when there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def reference_figures() -> dict[str, list[dict[str, Any]]]:
    """Melody figures of REFERENCE_SAMPLE Bach chorales (soprano; cadence from all four voices, a chord per beat)
    and REFERENCE_SAMPLE folk tunes (melody only: no cadence figure) of the Blend seed catalog."""
    songs = list(read_seed_catalog())
    groups = {"Bach chorales (soprano)": evenly([s for s in songs if s.collection == "bach-chorales"], REFERENCE_SAMPLE),
              "folk tunes": evenly([s for s in songs if s.collection in FOLK_COLLECTIONS], REFERENCE_SAMPLE)}
    out: dict[str, list[dict[str, Any]]] = {}
    for label, chosen in groups.items():
        rows = []
        for seed_song in chosen:
            song = fig.read_song(seed_song.midi)
            voiced = [t for t in song.tracks if t.notes]
            melody = sorted(voiced[0].notes)
            tonic = key_pitch_class(seed_song.key.split()[0])
            row: dict[str, Any] = {
                "repeatShare": fig.repeated_bar_share(melody, song.bar_ticks, song.ticks_per_beat // 8),
                "range": fig.pitch_range(melody),
                "leadScale": fig.best_diatonic_share([n[2] for n in melody]),
            }
            if len(voiced) >= 4:
                notes = [n for t in voiced for n in t.notes]
                roots = fig.chord_roots(notes, song.ticks_per_beat, max(n[1] for n in notes))
                row["cadence"] = fig.cadence(roots, tonic, (7, 5))
            rows.append(row)
        out[label] = rows
    return out


def key_pitch_class(name: str) -> int:
    """Pitch class of a tonic name: "G", "F#", "Bb" (or music21's "B-")."""
    letter = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name[0].upper()]
    return (letter + sum(1 for c in name[1:] if c == "#") - sum(1 for c in name[1:] if c in "-b")) % 12


# --- the report ----------------------------------------------------------------------------------


def fmt(values: Sequence[float], digits: int = 2, signed: bool = False) -> str:
    """"median (min-max)" of the values; "—" for none."""
    got = fig.summary([v for v in values if v is not None])
    if got is None:
        return "—"
    pattern = f"{{:{'+' if signed else ''}.{digits}f}}"
    median, low, high = (pattern.format(v) for v in got)
    return median if low == high else f"{median} ({low} to {high})"


@dataclass(frozen=True)
class Figure:
    title: str
    key: str
    target: str
    meets: Callable[[float], bool] | None  # per piece; the genre meets it when every piece does
    applies: Callable[[str], bool] = lambda genre: True
    digits: int = 2
    signed: bool = False
    by_mode: bool = False
    reference: bool = False
    note: str = ""


def met(values: Sequence[Any], check: Callable[[float], bool] | None) -> str:
    present = [v for v in values if v is not None]
    if check is None or not present:
        return "—"
    return "yes" if all(check(v) for v in present) else "no"


def rows_of(pieces: dict[str, list[dict[str, Any]]], genre: str, mode: str | None) -> list[dict[str, Any]]:
    return [p for p in pieces.get(genre, []) if mode is None or p["mode"] == mode]


def figure_table(figure: Figure, trees: dict[str, dict[str, list[dict[str, Any]]]],
                 reference: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [f"### {figure.title}", ""]
    if figure.note:
        lines += [figure.note, ""]
    head = "| genre | today | now | target | met |" + (" reference |" if figure.reference else "")
    lines += [head, "|---" * (head.count("|") - 1) + "|"]
    for genre in GENRE_NAMES:
        for mode in (MODES if figure.by_mode else (None,)):
            label = genre if mode is None else f"{genre} · {mode}"
            if not figure.applies(genre):
                cells = ["n/a", "n/a", figure.target, "—"]
            else:
                today = [p[figure.key] for p in rows_of(trees.get("today", {}), genre, mode) if figure.key in p]
                now = [p[figure.key] for p in rows_of(trees.get("now", {}), genre, mode) if figure.key in p]
                cells = [fmt(today, figure.digits, figure.signed) if "today" in trees else "not run",
                         fmt(now, figure.digits, figure.signed), figure.target, met(now, figure.meets)]
            lines.append(f"| {label} | " + " | ".join(cells) + (" |  |" if figure.reference else " |"))
    if figure.reference:
        for label, rows in reference.items():
            values = [r[figure.key] for r in rows if r.get(figure.key) is not None]
            lines.append(f"| *{label}, {len(rows)} pieces* | | | | | {fmt(values, figure.digits)} |")
    return [*lines, ""]


def count_table(title: str, key: str, trees: dict[str, dict[str, list[dict[str, Any]]]],
                reference: dict[str, list[dict[str, Any]]], target: str, share: float, note: str) -> list[str]:
    """A table of pieces per genre for which `key` is true (or set), e.g. pieces ending on a cadence."""
    def cell(rows: list[dict[str, Any]]) -> str:
        hits = [r[key] for r in rows if r.get(key)]
        kinds = ", ".join(f"{k} {hits.count(k)}" for k in sorted(set(hits)) if isinstance(k, str))
        return f"{len(hits)}/{len(rows)}" + (f" ({kinds})" if kinds else "")

    lines = [f"### {title}", "", note, "", "| genre | today | now | target | met | reference |",
             "|---|---|---|---|---|---|"]
    for genre in GENRE_NAMES:
        today = rows_of(trees.get("today", {}), genre, None)
        now = rows_of(trees.get("now", {}), genre, None)
        ok = "yes" if now and sum(1 for r in now if r.get(key)) >= share * len(now) else "no"
        lines.append(f"| {genre} | {cell(today) if 'today' in trees else 'not run'} | {cell(now)} | {target} "
                     f"| {ok if share else '—'} |  |")
    for label, rows in reference.items():
        if any(key in r for r in rows):
            lines.append(f"| *{label}* | | | | | {cell([r for r in rows if key in r])} |")
    return [*lines, ""]


DRIVEN_NOTE = ("The target applies where kick and bass carry the music (house, techno, hip-hop, rock, pop); "
               "the other genres are listed below the table.")
FIGURES_AUDIO = (
    Figure("1a. Stereo correlation of the mix", "correlation", "≥ +0.30", lambda v: v >= 0.3, signed=True),
    Figure("1b. Level lost summed to mono (dB)", "monoLoss", "≤ 3 dB", lambda v: v <= 3.0, digits=1),
    Figure("2a. Drums stem vs lead stem (dB)", "drumsVsLead", "≥ -6 dB", lambda v: v >= -6.0, digits=1, signed=True,
           note=DRIVEN_NOTE),
    Figure("2b. Bass stem vs lead stem (dB)", "bassVsLead", "≥ -6 dB", lambda v: v >= -6.0, digits=1, signed=True,
           note=DRIVEN_NOTE),
    Figure("2c. Lead stem vs chords stem (dB)", "leadVsChords", "≥ +2 dB", lambda v: v >= 2.0, digits=1, signed=True),
    Figure("3. Largest loudness drop when the lead rests (dB)", "restDrop", "≤ 4 dB", lambda v: v <= 4.0, digits=1,
           note=f"Momentary level ({WINDOW_S:g} s windows every {HOP_S:g} s) of the mix while the lead rests against "
                "the windows just before and after the rest; a piece whose lead never rests for a whole window inside "
                "its span has no value."),
)
FIGURES_MIDI = (
    Figure("4. Section lengths: share that are multiples of 4 bars", "multipleOf4", "1.00", lambda v: v >= 1.0),
    Figure("5. Share of melody bars repeated exactly", "repeatShare", "0.20 to 0.60", lambda v: 0.2 <= v <= 0.6,
           by_mode=True, reference=True),
    Figure("6. Melody range (semitones)", "range", "≥ 12", lambda v: v >= 12, digits=0, by_mode=True, reference=True),
    Figure("7a. Distinct drum bars per piece", "drumBars", "≥ 8", lambda v: v >= 8, digits=0),
    Figure("7b. Fills: share of phrase ends with a fill", "fillShare", "≥ 0.75", lambda v: v >= 0.75),
    Figure("8a. Onsets on the exact 16th grid", "gridExact", "— (today 1.00 straight)", None),
    Figure("8b. Mechanical onsets: on the grid or at a fixed swing offset", "mechanical", "—", None),
    Figure("10a. Scale consistency of the melody (best diatonic scale)", "leadScale", "—", None, digits=3,
           by_mode=True, reference=True),
    Figure("10b. Share of pitched notes in the piece's own key and scale", "ownScale", "—", None, digits=3),
)


def by_genre(pieces: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for piece in pieces:
        out.setdefault(piece["genre"], []).append(piece)
    return out


def lengths_cell(rows: list[dict[str, Any]]) -> str:
    seen = sorted({n for r in rows for n in r.get("sectionLengths", [])})
    return ", ".join(map(str, seen)) or "—"


def energy_lines(trees: list[Tree], pictures: Sequence[str]) -> list[str]:
    lines = ["### 11. Energy spread over the picture set", "",
             f"The mapping's energy (0..1) of each of the {len(pictures)} pictures, the picture choosing its genre. "
             "Target: the 10th to 90th percentile spans at least 0.5. The real photographs are the CC0 and "
             "public-domain photos of tests/images/photos (`real-` in the list).", "",
             "| composer, pictures | 10th-90th percentile | width | min-max | target | met |", "|---|---|---|---|---|---|"]
    for tree in trees:
        if not tree.result:
            lines.append(f"| {tree.label} | not run | | | ≥ 0.50 | — |")
            continue
        for subset, chosen in (("all pictures", pictures), ("photo-like (no gradient or noise)",
                                                            [p for p in pictures if not p.startswith(SYNTHETIC)]),
                               ("real photographs", [p for p in pictures if p.startswith(REAL)])):
            values = [tree.result["energy"][name] for name in chosen]
            low, high = fig.percentile_spread(values)
            lines.append(f"| {tree.label}, {subset} | {low:.2f}-{high:.2f} | {high - low:.2f} "
                         f"| {min(values):.2f}-{max(values):.2f} | ≥ 0.50 | {'yes' if high - low >= 0.5 else 'no'} |")
    lines += ["", "| picture | " + " | ".join(t.label for t in trees if t.result) + " |",
              "|---" * (1 + sum(1 for t in trees if t.result)) + "|"]
    for name in pictures:
        lines.append(f"| {name} | " + " | ".join(f"{t.result['energy'][name]:.2f}" for t in trees if t.result) + " |")
    return [*lines, ""]


def report(trees: list[Tree], midi: dict[str, list[dict[str, Any]]], audio: dict[str, list[dict[str, Any]]],
           reference: dict[str, list[dict[str, Any]]], context: dict[str, Any]) -> str:
    grouped_midi = {label: by_genre(rows) for label, rows in midi.items()}
    grouped_audio = {label: by_genre(rows) for label, rows in audio.items()}
    today = next(t for t in trees if t.label == "today")
    lines = [
        f"# Music report ({context['date']})",
        "",
        f"Written by `make bench` (`python -m bench.music`) in {context['elapsed']:.0f} s. {platform.machine()}, "
        f"{os.cpu_count()} cores (load average {context['load']:.1f} at the start), Python {platform.python_version()}, "
        f"working tree at commit {context['commit']}{' with local changes' if context['dirty'] else ''}. "
        f"SoundFont `{context['soundfont']}`, FluidSynth rendering at {SAMPLE_RATE} Hz (gain 0.2, effects on, "
        "no leveler or limiter). How each figure is computed: [music.md](music.md).",
        "",
        f"- **today**: {today.note}." if today.pythonpath else f"- **today**: not run: {today.note}.",
        "- **now**: the working tree's `soundcanvas` (`layers/common`).",
        f"- Pictures: {len(context['pictures'])} ({', '.join(context['pictures'])}), each through the composer's own "
        "analysis and mapping.",
        f"- MIDI figures (4 to 10): every picture x 10 genres x both modes, {context['seconds']} s pieces "
        f"({context['midi_count']} pieces per composer).",
        f"- Audio figures (1 to 3): {context['audio_pictures']} picture{'s' if context['audio_pictures'] != 1 else ''} "
        "per genre (rotating through the set), the "
        f"modes taking turns ({context['audio_count']} pieces per composer), each part rendered alone and the stems "
        "summed.",
        "- Cells: median (min to max) over the genre's pieces; **met** (for the working tree): every piece of the "
        "genre meets the target, or for counts, the share of pieces the target names.",
        f"- Reference: {REFERENCE_SAMPLE} Bach chorales and {REFERENCE_SAMPLE} folk tunes, evenly spaced through "
        "the Blend seed catalog (data/seed-catalog, converted from music21's corpus), melody figures only.",
        "",
        "## Mix (rendered)",
        "",
    ]
    for figure in FIGURES_AUDIO:
        applies = (lambda g: g in DRIVEN_GENRES) if figure.key in ("drumsVsLead", "bassVsLead") else (lambda g: True)
        shown = Figure(figure.title, figure.key, figure.target, figure.meets, applies, figure.digits, figure.signed,
                       figure.by_mode, figure.reference, figure.note)
        lines += figure_table(shown, grouped_audio, reference)
        if figure.key in ("drumsVsLead", "bassVsLead"):
            def cell(label: str, genre: str, key: str = figure.key) -> str:
                return fmt([p[key] for p in grouped_audio.get(label, {}).get(genre, []) if key in p], 1, True)

            others = [g for g in GENRE_NAMES if g not in DRIVEN_GENRES]
            lines += ["Other genres (no target): " + "; ".join(
                f"{g} today {cell('today', g)}, now {cell('now', g)}" for g in others) + ".", ""]
    lines += ["## Form, melody, groove, harmony (MIDI)", ""]
    lines += figure_table(FIGURES_MIDI[0], grouped_midi, reference)
    lines += ["Section lengths seen (bars): " + "; ".join(
        f"{g} today {lengths_cell(grouped_midi.get('today', {}).get(g, []))}, "
        f"now {lengths_cell(grouped_midi['now'].get(g, []))}" for g in GENRE_NAMES) + ".", ""]
    for figure in FIGURES_MIDI[1:7]:
        lines += figure_table(figure, grouped_midi, reference)
    lines += count_table(
        "9. Pieces ending on a cadence", "cadence", grouped_midi, reference, "≥ 9/10 of the pieces", 0.9,
        "The last two chords (roots from the chords and bass parts, half a bar at a time; the chorales: all four "
        "voices, a beat at a time) close on the tonic by a motion the genre uses: V-I everywhere, IV-I in rock, pop, "
        "ambient and cinematic, bVII-I in rock, house, techno, hip-hop and lo-fi. In brackets: the motions found.")
    for figure in FIGURES_MIDI[7:]:
        lines += figure_table(figure, grouped_midi, reference)
    lines += count_table("10c. Pieces with any note outside their key's scale", "chromatic", grouped_midi, {},
                         "—", 0.0, "Lead, chords and bass against the params' key and scale (a pentatonic scale "
                         "counts as its parent major or minor scale).")
    lines += energy_lines(trees, context["pictures"])
    compose_ms = {t.label: [p["composeSeconds"] * 1000 for p in t.result.get("pieces", [])] for t in trees if t.result}
    lines += ["## Cost", "", f"| composer | compose time per {context['seconds']} s piece (ms) | pieces |", "|---|---|---|"]
    lines += [f"| {label} | {fmt(values, 1)} | {len(values)} |" for label, values in compose_ms.items()]
    lines += ["", f"Rendering: {context['renders']} FluidSynth passes in {context['render_seconds']:.0f} s "
              "(two at a time).", ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def git_state() -> tuple[str, bool]:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", PACKAGE_PATH],
                           capture_output=True, text=True, check=False)
    return (head.stdout.strip() or "unknown"), bool(dirty.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--audio-pictures", type=int, default=2, help="pictures per genre rendered to audio")
    parser.add_argument("--seconds", type=int, default=60, help="length of every piece")
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    soundfont = find_soundfont()
    pictures = picture_set()
    names = list(pictures)
    pieces = plan_pieces(names, args.seconds)
    audio_ids = {f"{genre}-{MODES[k % len(MODES)]}-{name}" for g, genre in enumerate(GENRE_NAMES)
                 for k, name in enumerate(audio_pictures(names, g, args.audio_pictures))}
    with tempfile.TemporaryDirectory(prefix="music-bench-") as tmp:
        work = Path(tmp)
        (work / "pictures").mkdir()
        paths = {}
        for name, data in pictures.items():
            paths[name] = work / "pictures" / name
            paths[name].write_bytes(data)
        jobs = work / "jobs.json"
        jobs.write_text(json.dumps({"pictures": {k: str(v) for k, v in paths.items()}, "pieces": pieces}))
        today_path, note = extract_today(work / "today")
        trees = [Tree("today", today_path, note), Tree("now", ROOT / "layers" / "common", "the working tree")]
        runnable = [t for t in trees if t.pythonpath]
        say(f"music report: {len(names)} pictures, {len(pieces)} pieces per composer; today: {note}")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda t: run_tree(t, jobs, work / t.label), runnable))
        midi: dict[str, list[dict[str, Any]]] = {}
        audio: dict[str, list[dict[str, Any]]] = {}
        render_started, renders = time.perf_counter(), 0
        with ThreadPoolExecutor(max_workers=2) as pool:
            for tree in runnable:
                assert tree.out is not None
                midi[tree.label], audio[tree.label] = [], []
                for piece in tree.result["pieces"]:
                    data = (tree.out / f"{piece['id']}.mid").read_bytes()
                    midi[tree.label].append({**piece, **midi_figures(data, piece)})
                    if piece["id"] in audio_ids:
                        figures = audio_figures(data, piece.get("form"), tree.out, piece["id"], soundfont, pool)
                        renders += sum(1 for t in fig.read_song(data).tracks if t.notes)
                        audio[tree.label].append({**piece, **figures})
                say(f"{tree.label}: {len(midi[tree.label])} pieces measured, {len(audio[tree.label])} rendered")
        render_seconds = time.perf_counter() - render_started
    reference = reference_figures()
    commit, dirty = git_state()
    context = {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "load": load, "commit": commit, "dirty": dirty,
               "soundfont": soundfont.name, "pictures": names, "seconds": args.seconds,
               "midi_count": len(pieces), "audio_pictures": args.audio_pictures,
               "audio_count": len(audio_ids), "renders": renders, "render_seconds": render_seconds,
               "elapsed": time.perf_counter() - started}
    args.out.write_text(report(trees, midi, audio, reference, context))
    say(f"written {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
