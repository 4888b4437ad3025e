"""Genre harmony: cadences into the final tonic, jazz ii-V-I, rock power chords, where chromatic chords may
sound, and model mode's progressions from the trained chord-root table."""

from __future__ import annotations

import io
import itertools
import random

import mido
import pytest

from bench import music_figures as fig
from soundcanvas.generation.composition import harmony_model, progressions
from soundcanvas.generation.composition.composer import build_context, compose
from soundcanvas.generation.composition.context import Context, chord_plan
from soundcanvas.generation.composition.form import BAR
from soundcanvas.generation.composition.theory import Chord
from soundcanvas.generation.genres import GENRES, MODES, SCALES
from tests.unit.generation.music_inputs import features, params

PICTURES = {
    "rising": features(height=[i / 23 for i in range(24)], energy=[0.2 + 0.6 * i / 23 for i in range(24)]),
    "calm": features(height=0.3, energy=0.1, brightness=0.3),
    "busy": features(height=[0.9, 0.1] * 12, energy=0.9, brightness=0.8),
}


def tracks(data: bytes) -> dict[str, list[tuple[int, int, int, int]]]:
    """(start, end, pitch, velocity) per track name."""
    song = mido.MidiFile(file=io.BytesIO(data))
    out: dict[str, list[tuple[int, int, int, int]]] = {}
    for track in song.tracks:
        tick = 0
        sounding: dict[int, tuple[int, int]] = {}
        notes = out.setdefault(track.name, [])
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.note] = (tick, msg.velocity)
            elif msg.type in ("note_on", "note_off") and msg.note in sounding:
                start, velocity = sounding.pop(msg.note)
                notes.append((start, tick, msg.note, velocity))
    return out


def halves(ctx: Context) -> list[Chord]:
    """The chord of every half bar, then the final tonic."""
    out = [half for chord in ctx.chords[:-1] for half in chord.halves()]
    return [*out, ctx.chords[-1]]


def interval(chord: Chord, ctx: Context) -> int:
    return (chord.root - ctx.harmony.tonic) % 12


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("genre", sorted(GENRES))
def test_every_piece_ends_on_its_genres_cadence(genre: str, mode: str) -> None:
    """Heard as the music report hears it: roots of chords + bass, half a bar at a time, over the last bars."""
    for seconds in (15, 60, 150):
        for seed, picture in enumerate(PICTURES.values()):
            for scale in GENRES[genre].scales:
                p = params(genre, mode=mode, scale=scale, seed=seed, durationSeconds=seconds)
                ctx = build_context(p, picture)
                parts = tracks(compose(p, picture))
                harmony = parts["Chords"] + parts["Bass"]
                end = ctx.timeline.end_tick
                roots = fig.chord_roots(harmony, BAR // 2, end, max(0, end // BAR - 8) * BAR)
                found = fig.cadence(roots, ctx.harmony.tonic, fig.allowed_cadences(genre))
                assert found is not None, f"{genre} {mode} {scale} {seconds}s seed {seed}: roots {roots[-4:]}"


@pytest.mark.parametrize("mode", MODES)
def test_jazz_has_ii_v_i_with_a_dominant_seventh(mode: str) -> None:
    for seed in range(4):
        for scale in GENRES["jazz"].scales:
            ctx = build_context(params("jazz", mode=mode, scale=scale, seed=seed, durationSeconds=60), features())
            chords = halves(ctx)
            roots = [interval(c, ctx) for c in chords]
            found = [
                i for i in range(len(chords) - 2)
                if roots[i] == 2 and roots[i + 1] == 7 and roots[i + 2] == 0
            ]
            assert found, f"{scale} seed {seed}: no ii-V-I in {roots}"
            dominant = chords[found[-1] + 1]
            tones = {(pc - dominant.root) % 12 for pc in dominant.pcs}
            assert {4, 7, 10} <= tones  # major third, fifth, minor seventh


def test_jazz_and_lofi_chords_have_sevenths_and_pop_has_triads() -> None:
    for genre, size in (("jazz", 4), ("lofi", 4), ("pop", 3)):
        ctx = build_context(params(genre, durationSeconds=60), features())
        assert min(len(c.pcs) for c in halves(ctx)) >= size
        if genre == "pop":  # triads, a secondary dominant seventh at most at a phrase's end
            sizes = sorted(len(c.pcs) for c in halves(ctx))
            assert sizes[len(sizes) // 2] == 3 and sizes[-1] <= 4


@pytest.mark.parametrize(("program", "power"), [(30, True), (29, True), (0, False)])
def test_rock_guitars_play_power_chords(program: int, power: bool) -> None:
    p = params("rock", durationSeconds=45, instruments={"bass": 34, "chords": program, "lead": 30})
    chords = tracks(compose(p, features()))["Chords"]
    onsets: dict[int, set[int]] = {}
    for start, _, pitch, _ in chords:
        onsets.setdefault(start, set()).add(pitch)
    shapes = {tuple(sorted(q - min(group) for q in group)) for group in onsets.values()}
    if power:
        assert shapes == {(0, 7, 12)}
    else:
        assert (0, 7, 12) not in shapes and all(len(s) >= 3 for s in shapes)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("genre", sorted(GENRES))
def test_chromatic_chords_only_where_the_genre_uses_them(genre: str, mode: str) -> None:
    spec = progressions.genre_harmony(genre)
    for seed in range(3):
        for scale in GENRES[genre].scales:
            ctx = build_context(params(genre, mode=mode, scale=scale, seed=seed, durationSeconds=90), features())
            ends = progressions.phrase_ends(ctx.timeline)
            for bar, chord in enumerate(ctx.chords[:-1]):
                for half, c in enumerate(chord.halves()):
                    if not ctx.harmony.chromatic(c):
                        continue
                    assert spec.named, f"{genre}: a chromatic chord {c} in a genre without any"
                    assert spec.chromatic_anywhere or bar in ends, f"{genre} bar {bar} half {half}: {c}"


def test_genres_with_secondary_dominants_or_borrowed_chords_use_them() -> None:
    for genre in ("jazz", "classical", "pop", "cinematic", "rock"):
        used = 0
        for seed in range(12):
            scale = "major" if genre == "rock" else GENRES[genre].scales[0]  # rock's minor modes own bVII
            ctx = build_context(params(genre, seed=seed, scale=scale, durationSeconds=90), features())
            used += any(ctx.harmony.chromatic(c) for c in halves(ctx))
        assert used >= 3, genre


@pytest.mark.parametrize("mode", MODES)
def test_the_lead_does_not_rub_against_chromatic_chord_tones(mode: str) -> None:
    """A lead note a semitone from a chromatic chord tone sounding with it is rare (jazz excepted: its
    altered dominants are meant to rub)."""
    clashing = total = 0
    for genre in ("classical", "pop", "cinematic", "rock"):
        for seed in range(4):
            p = params(genre, mode=mode, seed=seed, durationSeconds=60)
            ctx = build_context(p, features())
            lead = tracks(compose(p, features()))["Lead"]
            for start, end, pitch, _ in lead:
                for tick in range(start, end, BAR // 4):
                    chord = ctx.chord_at_tick(tick)
                    outside = [pc for pc in chord.pcs if pc not in ctx.harmony.pcs]
                    total += 1
                    clashing += any((pitch - pc) % 12 in (1, 11) for pc in outside)
    assert clashing / total < 0.02


def test_the_harmony_is_deterministic_and_depends_on_the_seed() -> None:
    genre = GENRES["jazz"]
    ctx = build_context(params("jazz", durationSeconds=90), features())
    plans = {
        chord_plan(genre, ctx.harmony, ctx.timeline, Context.stream(seed, "harmony"), mode)
        for seed in (1, 1, 2, 3)
        for mode in MODES
    }
    assert len(plans) >= 4
    again = chord_plan(genre, ctx.harmony, ctx.timeline, Context.stream(1, "harmony"), "model")
    assert again in plans


def test_model_progressions_follow_the_trained_transitions() -> None:
    table = harmony_model.load()["families"]
    assert table["major"]["pieces"] > 100 and table["minor"]["pieces"] > 100
    for family in ("major", "minor"):
        nxt = table[family]["next"]
        for seed in range(20):
            walk = harmony_model.walk(random.Random(seed), family, seed % 2)
            assert len(walk) == harmony_model.BARS
            for a, b in itertools.pairwise(walk[:-1]):
                assert nxt[str(a)].get(str(b), 0) > 0
            assert table[family]["close"].get(str(walk[-1]), 0) > 0


def test_a_contrasting_material_gets_its_own_progression() -> None:
    for genre in sorted(GENRES):
        ctx = build_context(params(genre, durationSeconds=120), features())
        by_material: dict[str, set[tuple[tuple[int, ...], ...]]] = {}
        for section in ctx.timeline.sections:
            if section.bars >= 4 and section.name not in ("intro", "outro"):
                bars = tuple(ctx.chords[b].pcs for b in range(section.start_bar, section.start_bar + 3))
                by_material.setdefault(section.material, set()).add(bars)
        if len(by_material) >= 2:
            assert len({frozenset(v) for v in by_material.values()}) >= 2, genre


def test_every_scale_has_a_family() -> None:
    assert {progressions.family(SCALES[s]) for s in ("minor", "dorian", "phrygian", "minor_pentatonic")} == {"minor"}
    assert {progressions.family(SCALES[s]) for s in ("major", "lydian", "mixolydian")} == {"major"}
