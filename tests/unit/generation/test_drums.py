"""The groove: drum bars that vary, fills at phrase ends, humanised timing and velocity that stay reproducible,
and calm pictures that thin the kit instead of silencing it. Figures are computed from the notes themselves."""

from __future__ import annotations

import hashlib
import itertools
import os
import statistics
import subprocess
import sys
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import mido
import pytest

from soundcanvas.generation.composition import compose
from soundcanvas.generation.composition.composer import build_context
from soundcanvas.generation.composition.context import Note
from soundcanvas.generation.composition.drums import drum_part
from soundcanvas.generation.composition.form import BAR, STEP, TICKS_PER_BEAT, Section, Timeline
from soundcanvas.generation.genres import GENRES
from soundcanvas.generation.mapping import map_to_params
from soundcanvas.generation.music import ImageFeatures, MusicParams
from tests.unit.generation import music_inputs

ROOT = Path(__file__).resolve().parents[3]
DRUM_GENRES = [name for name, g in GENRES.items() if g.drum_style != "none"]
BEAT_GENRES = ["house", "techno", "hiphop", "rock", "pop"]  # a kick carries these in every section
KICKS = frozenset({35, 36})
FILL_KEYS = frozenset({37, 38, 39, 40, 41, 43, 45, 47, 48, 50})  # snares, claps, side stick, toms
GM_DRUM_KEYS = range(35, 82)  # General MIDI percussion map


def features(energy: float = 0.4, strips: int = 24) -> ImageFeatures:
    return music_inputs.features(energy=energy, strips=strips)


def params(genre: str, **overrides: object) -> MusicParams:
    defaults: dict[str, object] = {"mood": "calm", "energy": 0.5, "density": 0.5, "durationSeconds": 90, "seed": 7}
    return music_inputs.params(genre, **{**defaults, **overrides})


def drums(genre: str, **overrides: object) -> tuple[list[Note], Timeline]:
    p = params(genre, **overrides)
    ctx = build_context(p, features(float(p.energy)))
    return drum_part(ctx), ctx.timeline


# --- figures (pure functions of the notes) ----------------------------------------------------------


def bar_patterns(notes: list[Note], bars: int) -> list[frozenset[tuple[int, int]]]:
    """Each bar's hits as (nearest 16th step, key): the rhythm a listener hears, without timing or velocity."""
    out: list[set[tuple[int, int]]] = [set() for _ in range(bars)]
    for start, _end, key, _vel in notes:
        step = round(start / STEP)
        bar, pos = divmod(step, 16)
        if bar < bars:
            out[bar].add((pos, key))
    return [frozenset(b) for b in out]


def distinct_bars(notes: list[Note], timeline: Timeline) -> int:
    return len(set(bar_patterns(notes, timeline.bars)))


def phrase_end_bars(timeline: Timeline) -> list[int]:
    """Every 4th bar of a section and each section's last bar, except the piece's last bar (nothing follows it)."""
    ends: set[int] = set()
    for s in timeline.sections:
        ends.update(b for b in range(s.start_bar, s.end_bar) if (b - s.start_bar) % 4 == 3 or b == s.end_bar - 1)
    return sorted(b for b in ends if b < timeline.bars - 1)


def fill_hits(notes: list[Note], bar: int) -> int:
    """Snare, clap and tom onsets (to the nearest 32nd) in the last two beats of a bar, the beat-4 backbeat aside."""
    lo, hi, backbeat = bar * BAR + BAR // 2, (bar + 1) * BAR, bar * BAR + 12 * STEP
    half = STEP // 2
    return len({round(n[0] / half) for n in notes if n[2] in FILL_KEYS and lo <= n[0] < hi and abs(n[0] - backbeat) >= half})


def fill_share(notes: list[Note], timeline: Timeline) -> float:
    """Share of phrase ends whose last two beats hold at least two more snare/tom hits than the latest bar before
    them that is not a phrase end."""
    ends = phrase_end_bars(timeline)
    filled = 0
    for b in ends:
        before = max((p for p in range(b) if p not in ends), default=None)
        filled += before is not None and fill_hits(notes, b) - fill_hits(notes, before) >= 2
    return filled / len(ends) if ends else 1.0


def grid_share(notes: list[Note]) -> float:
    return sum(n[0] % STEP == 0 for n in notes) / len(notes) if notes else 1.0


def body(timeline: Timeline) -> list[Section]:
    """The sections between intro and outro at full layering (a breakdown thins its kit on purpose)."""
    sections = [s for s in timeline.sections if s.bars and not s.frame and "breakdown" not in s.name]
    assert sections
    return sections


def kick_sections(notes: list[Note], timeline: Timeline) -> tuple[int, int]:
    """(sections with a kick, sections) over the sections that have bars."""
    sections = [s for s in timeline.sections if s.bars]
    kicked = sum(any(n[2] in KICKS and s.start_bar * BAR <= n[0] < s.end_bar * BAR for n in notes) for s in sections)
    return kicked, len(sections)


def longest_repeat(notes: list[Note], timeline: Timeline) -> int:
    """The longest run of consecutive bars with the same pattern."""
    patterns = bar_patterns(notes, timeline.bars)
    best = run = 1
    for a, b in itertools.pairwise(patterns):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best if patterns else 0


def ms_per_tick(timeline: Timeline) -> float:
    return timeline.tempo_us / 1000 / TICKS_PER_BEAT


# --- the notes are valid General MIDI drums --------------------------------------------------------

SEEDS = (1, 2, 3)
ENERGIES = (0.0, 0.5, 1.0)


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_every_hit_is_a_gm_drum_inside_the_piece(genre: str) -> None:
    for seed, energy in itertools.product(SEEDS, ENERGIES):
        notes, tl = drums(genre, seed=seed, energy=energy, durationSeconds=45)
        assert notes
        for start, end, key, velocity in notes:
            assert 0 <= start < end <= tl.end_tick
            assert key in GM_DRUM_KEYS
            assert 1 <= velocity <= 127


def test_the_drum_track_parses_with_every_note_closed() -> None:
    for genre in DRUM_GENRES:
        midi = mido.MidiFile(file=BytesIO(compose(params(genre, durationSeconds=40, energy=0.9), features(0.9))))
        track = next(t for t in midi.tracks if t.name == "Drums")
        sounding: set[int] = set()
        for msg in track:
            if msg.type == "note_on" and msg.velocity:
                assert msg.note not in sounding
                sounding.add(msg.note)
            elif msg.type in ("note_on", "note_off"):
                sounding.discard(msg.note)
        assert not sounding


# --- reproducible ----------------------------------------------------------------------------------


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_same_seed_same_groove_and_another_seed_another(genre: str) -> None:
    assert drums(genre, seed=5)[0] == drums(genre, seed=5)[0]
    assert drums(genre, seed=5)[0] != drums(genre, seed=6)[0]


def test_the_groove_is_the_same_in_another_process() -> None:
    script = (
        "import hashlib, sys\n"
        "from tests.unit.generation.test_drums import drums, DRUM_GENRES\n"
        "for g in DRUM_GENRES:\n"
        "    sys.stdout.write(hashlib.sha256(repr(drums(g, seed=11, energy=0.3)[0]).encode()).hexdigest() + '\\n')\n"
    )
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])
    here = "".join(hashlib.sha256(repr(drums(g, seed=11, energy=0.3)[0]).encode()).hexdigest() + "\n" for g in DRUM_GENRES)
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": pythonpath}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert result.stdout == here


# --- a living groove -------------------------------------------------------------------------------


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_a_minute_or_more_has_at_least_eight_distinct_drum_bars(genre: str) -> None:
    for seed, energy, seconds in itertools.product(SEEDS, ENERGIES, (60, 150)):
        notes, tl = drums(genre, seed=seed, energy=energy, durationSeconds=seconds)
        assert distinct_bars(notes, tl) >= 8, (seed, energy, seconds)


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_the_pattern_changes_at_least_every_four_bars(genre: str) -> None:
    for seed, energy in itertools.product(SEEDS, ENERGIES):
        notes, tl = drums(genre, seed=seed, energy=energy, durationSeconds=120)
        assert longest_repeat(notes, tl) <= 4, (seed, energy)


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_most_phrase_ends_have_a_fill(genre: str) -> None:
    shares = []
    for seed, energy, seconds in itertools.product(SEEDS, ENERGIES, (60, 150)):
        notes, tl = drums(genre, seed=seed, energy=energy, durationSeconds=seconds)
        shares.append(fill_share(notes, tl))
    assert min(shares) >= 0.6
    assert statistics.mean(shares) >= 0.75


@pytest.mark.parametrize("genre", ["house", "techno", "hiphop", "rock", "pop", "jazz", "cinematic"])
def test_a_crash_opens_every_section_after_the_intro(genre: str) -> None:
    notes, tl = drums(genre, energy=0.0, durationSeconds=90)
    tolerance = round(30 / ms_per_tick(tl))
    for section in tl.sections[1:]:
        downbeat = section.start_bar * BAR
        assert any(n[2] == 49 and abs(n[0] - downbeat) <= tolerance for n in notes), section


@pytest.mark.parametrize("genre", BEAT_GENRES)
def test_a_calm_picture_still_has_a_kick_in_every_section(genre: str) -> None:
    for seed in SEEDS:
        notes, tl = drums(genre, seed=seed, energy=0.0, durationSeconds=60)
        kicked, sections = kick_sections(notes, tl)
        assert kicked == sections, seed


def test_a_calm_picture_still_has_a_kick_in_house() -> None:
    calm = replace(features(0.02), contrast=0.05, saturation=0.05, edge_density=0.02, colorfulness=0.05)
    p = map_to_params(calm, genre="house", mode="heuristic", duration_seconds=60, seed=3)
    assert p.energy < 0.15
    midi = mido.MidiFile(file=BytesIO(compose(p, calm)))
    bar = 4 * midi.ticks_per_beat
    kick_bars, tick = set(), 0
    for msg in next(t for t in midi.tracks if t.name == "Drums"):
        tick += msg.time
        if msg.type == "note_on" and msg.velocity and msg.note in KICKS:
            kick_bars.add(tick // bar)
    tl = build_context(p, calm).timeline
    for section in tl.sections:
        assert kick_bars & set(range(section.start_bar, section.end_bar)), section


def test_a_calm_jazz_piece_keeps_kick_snare_and_ride_in_head_and_solos() -> None:
    notes, tl = drums("jazz", energy=0.0, durationSeconds=90)
    for section in body(tl):
        keys = {n[2] for n in notes if section.start_bar * BAR <= n[0] < section.end_bar * BAR}
        assert {36, 38, 51} <= keys, section


FAMILIES = {"kick": KICKS, "backbeat": frozenset({37, 38, 39, 40}), "time": frozenset({42, 44, 46, 51, 53, 54, 70})}


def families(notes: list[Note], start_bar: int, end_bar: int) -> set[str]:
    keys = {n[2] for n in notes if start_bar * BAR <= n[0] < end_bar * BAR}
    return {name for name, members in FAMILIES.items() if keys & members}


@pytest.mark.parametrize("genre", [g for g in DRUM_GENRES if g != "ambient"])  # ambient's shaker is texture, no kit
def test_calm_thins_the_kit_rather_than_switching_parts_off(genre: str) -> None:
    for seed in SEEDS:
        calm, tl = drums(genre, seed=seed, energy=0.0)
        busy, _ = drums(genre, seed=seed, energy=1.0)
        assert len(calm) < len(busy)
        for s in body(tl):
            assert families(busy, s.start_bar, s.end_bar) <= families(calm, s.start_bar, s.end_bar), (seed, s)


# --- feel: off the grid by the genre's amount ------------------------------------------------------


@pytest.mark.parametrize("genre", DRUM_GENRES)
def test_onsets_leave_the_sixteenth_grid(genre: str) -> None:
    notes, _ = drums(genre, energy=0.7)
    assert grid_share(notes) < 0.5


def grid_deviation_ms(notes: list[Note], timeline: Timeline, keys: frozenset[int], steps: tuple[int, ...]) -> list[float]:
    """Signed distance (ms) of hits on the given keys from the given 16th steps of their bar."""
    out = []
    for start, _end, key, _vel in notes:
        if key not in keys or start >= timeline.final_tick:
            continue
        pos = start % BAR
        nearest = min(steps, key=lambda s: abs(pos - s * STEP))
        if abs(pos - nearest * STEP) < STEP // 2:
            out.append((pos - nearest * STEP) * ms_per_tick(timeline))
    return out


def test_techno_is_tight_and_the_hiphop_snare_lays_back() -> None:
    notes, tl = drums("techno", energy=0.8)
    kicks = grid_deviation_ms(notes, tl, KICKS, (0, 4, 8, 12))
    assert kicks and max(abs(d) for d in kicks) <= 3
    notes, tl = drums("hiphop", energy=0.8)
    snares = grid_deviation_ms(notes, tl, frozenset({38}), (4, 12))
    kicks = grid_deviation_ms(notes, tl, KICKS, (0,))
    assert statistics.mean(snares) > statistics.mean(kicks) + 5
    assert max(abs(d) for d in snares) < 40  # laid back, not late


def test_lofi_is_looser_than_techno() -> None:
    def spread(genre: str) -> float:
        notes, tl = drums(genre, energy=0.8)
        return statistics.pstdev(grid_deviation_ms(notes, tl, KICKS, (0, 8)))

    assert spread("lofi") > 2 * spread("techno")


@pytest.mark.parametrize("genre", ["house", "techno", "rock", "pop"])
def test_hats_are_accented_not_flat(genre: str) -> None:
    notes, tl = drums(genre, energy=1.0)
    hats = [n for n in notes if n[2] in (42, 46) and n[0] < tl.final_tick]
    by_bar: dict[int, set[int]] = {}
    for n in hats:
        by_bar.setdefault(n[0] // BAR, set()).add(n[3])
    assert statistics.mean(len(v) for v in by_bar.values()) >= 3


@pytest.mark.parametrize("genre", ["hiphop", "lofi", "jazz", "rock"])
def test_ghost_notes_fall_in_varying_places(genre: str) -> None:
    notes, tl = drums(genre, energy=0.8, durationSeconds=120)
    snares = [n for n in notes if n[2] in (37, 38) and n[0] < tl.final_tick]
    loud = max(n[3] for n in snares)
    places = {round(n[0] % BAR / STEP) % 16 for n in snares if n[3] < loud * 0.6}
    assert len(places - {4, 12}) >= 3
