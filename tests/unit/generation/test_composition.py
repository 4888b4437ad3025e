"""The composer: valid General MIDI that stays in key, lasts exactly as long as asked, follows the picture,
and is reproducible. Every check parses the produced bytes with mido."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import mido
import pytest

from soundcanvas.core.errors import CompositionFailed
from soundcanvas.generation.composition import compose, load_model
from soundcanvas.generation.composition.composer import build_context
from soundcanvas.generation.composition.progressions import GENRE_HARMONY
from soundcanvas.generation.genres import GENRES, KEYS, SCALES
from soundcanvas.generation.music import ImageFeatures
from tests.unit.generation.music_inputs import features, params

ROOT = Path(__file__).resolve().parents[3]
MODEL_PATH = ROOT / "layers" / "common" / "soundcanvas" / "generation" / "composition" / "markov_model.json"
DRUM_CHANNEL = 9
DRUM_STYLES_WITH_DRUMS = [name for name, g in GENRES.items() if g.drum_style not in ("none", "ambient")]


def rising(strips: int = 24, low: float = 0.05, high: float = 0.95) -> list[float]:
    return [low + (high - low) * i / (strips - 1) for i in range(strips)]


def parse(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=BytesIO(data))


def notes(midi: mido.MidiFile, track: str | None = None) -> list[tuple[int, int, int, int, int]]:
    """(start tick, end tick, channel, pitch, velocity) for every note, optionally of one named track."""
    out = []
    for tr in midi.tracks:
        if track is not None and tr.name != track:
            continue
        tick = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        for msg in tr:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                assert (msg.channel, msg.note) not in sounding, "a note started twice without a note-off"
                sounding[(msg.channel, msg.note)] = (tick, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                start, velocity = sounding.pop((msg.channel, msg.note))
                out.append((start, tick, msg.channel, msg.note, velocity))
        assert not sounding, f"notes left hanging in {tr.name}"
    return sorted(out)


def lead_pitches(data: bytes) -> list[int]:
    return [n[3] for n in notes(parse(data), "Lead")]


def end_tick(midi: mido.MidiFile) -> int:
    return max(sum(msg.time for msg in tr) for tr in midi.tracks)


# --- key, scale, channels, programs -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["heuristic", "model"])
@pytest.mark.parametrize(
    ("genre", "key", "scale"),
    [
        ("pop", "C", "major"),
        ("house", "F#", "minor"),
        ("techno", "A#", "phrygian"),
        ("hiphop", "E", "minor_pentatonic"),
        ("lofi", "G", "dorian"),
        ("ambient", "B", "lydian"),
        ("rock", "D#", "mixolydian"),
        ("jazz", "G#", "dorian"),
        ("classical", "A", "harmonic_minor"),
        ("cinematic", "C#", "harmonic_minor"),
        ("pop", "F", "major_pentatonic"),
    ],
)
def test_every_pitched_note_is_in_key_and_scale(genre: str, key: str, scale: str, mode: str) -> None:
    midi = parse(compose(params(genre, key=key, scale=scale, mode=mode, durationSeconds=45), features(height=rising())))
    allowed = {(KEYS.index(key) + offset) % 12 for offset in SCALES[scale]}
    # The lead always stays in the scale; chords and bass leave it only in genres whose harmony uses
    # chromatic chords (secondary dominants, borrowed chords: see test_harmony.py).
    chromatic_ok = bool(GENRE_HARMONY[genre].named)
    pitched = notes(midi, "Lead") if chromatic_ok else [n for n in notes(midi) if n[2] != DRUM_CHANNEL]
    assert len(pitched) > 20
    outside = sorted({n[3] for n in pitched if n[3] % 12 not in allowed})
    assert outside == [], f"pitches outside {key} {scale}: {outside}"


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_drums_use_channel_10_only_and_play_in_genres_with_drums(genre: str) -> None:
    midi = parse(compose(params(genre), features()))
    channels = {tr.name: {m.channel for m in tr if m.type in ("note_on", "note_off")} for tr in midi.tracks}
    drum_notes = [n for n in notes(midi) if n[2] == DRUM_CHANNEL]
    if genre in DRUM_STYLES_WITH_DRUMS:
        assert channels.get("Drums") == {DRUM_CHANNEL}
        assert len(drum_notes) > 40
    if GENRES[genre].drum_style == "none":
        assert drum_notes == [] and "Drums" not in channels
    for name in ("Lead", "Chords", "Bass"):
        assert channels[name] and DRUM_CHANNEL not in channels[name]


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_programs_match_the_instruments(mode: str) -> None:
    instruments = {"bass": 33, "chords": 90, "lead": 73}
    midi = parse(compose(params("lofi", instruments=instruments, mode=mode), features()))
    programs = {tr.name: [m.program for m in tr if m.type == "program_change"] for tr in midi.tracks}
    assert programs["Bass"] == [33]
    assert programs["Chords"] == [90]
    assert programs["Lead"] == [73]
    assert midi.type == 1


def test_conductor_track_sets_tempo_and_time_signature() -> None:
    midi = parse(compose(params("house", tempoBpm=125), features()))
    conductor = midi.tracks[0]
    tempos = [m.tempo for m in conductor if m.type == "set_tempo"]
    # One tempo, within 4 % of the requested one (it moves so the form fills whole 4-bar phrases).
    assert len(tempos) == 1 and abs(mido.tempo2bpm(tempos[0]) / 125 - 1) <= 0.0401
    assert [(m.numerator, m.denominator) for m in conductor if m.type == "time_signature"] == [(4, 4)]
    assert not any(m.type == "note_on" for m in conductor)


# --- duration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["heuristic", "model"])
@pytest.mark.parametrize(("genre", "seconds"), [("pop", 15), ("ambient", 15), ("techno", 60), ("jazz", 60), ("rock", 300)])
def test_the_piece_lasts_exactly_the_requested_duration(genre: str, seconds: int, mode: str) -> None:
    p = params(genre, durationSeconds=seconds, mode=mode)
    midi = parse(compose(p, features(height=rising())))
    assert midi.length == pytest.approx(seconds, abs=0.01)
    end = end_tick(midi)
    beat = midi.ticks_per_beat
    # Every track's end-of-track sits at the end (± a tick).
    for tr in midi.tracks:
        assert tr[-1].type == "end_of_track"
        assert abs(sum(m.time for m in tr) - end) <= 1
    all_notes = notes(midi)
    assert max(n[1] for n in all_notes) <= end
    assert max(n[1] for n in all_notes) >= end - beat  # the last note-off is within a beat of the end
    tempo_us = next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")
    assert mido.tick2second(end, beat, tempo_us) == pytest.approx(seconds, abs=mido.tick2second(1, beat, tempo_us))


@pytest.mark.parametrize("seconds", [15, 60, 300])
def test_every_tempo_in_the_catalogue_fits_the_duration(seconds: int) -> None:
    for genre, g in GENRES.items():
        for bpm in g.tempo_range:
            midi = parse(compose(params(genre, tempoBpm=bpm, durationSeconds=seconds), features()))
            assert midi.length == pytest.approx(seconds, abs=0.01), (genre, bpm)


# --- determinism and variety ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_same_inputs_give_byte_identical_midi(mode: str) -> None:
    p = params("jazz", mode=mode, durationSeconds=60)
    f = features(height=rising(), energy=rising(low=0.1, high=0.8))
    assert compose(p, f) == compose(p, f)


def test_output_does_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import hashlib, sys\n"
        "from soundcanvas.generation.composition import compose\n"
        "from soundcanvas.generation.music import ImageFeatures, MusicParams\n"
        "f = ImageFeatures(8, 8, 'PNG', 0.5, 0.5, 0.5, 0.0, 0.5, 0.5, [],\n"
        "                  [0.2, 0.9, 0.4], [0.1, 0.8, 0.5], [0.3, 0.6, 0.2])\n"
        "for mode in ('heuristic', 'model'):\n"
        "    p = MusicParams('hiphop', 90, 'E', 'dorian', 'calm', 0.6, 0.5,\n"
        "                    {'bass': 33, 'chords': 4, 'lead': 11}, 40, mode, 9)\n"
        "    sys.stdout.write(hashlib.sha256(compose(p, f)).hexdigest() + '\\n')\n"
    )
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": pythonpath}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        digests.add(result.stdout)
    assert len(digests) == 1


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_different_seeds_give_different_leads(mode: str) -> None:
    f = features(height=rising())
    a = lead_pitches(compose(params("pop", seed=1, mode=mode), f))
    b = lead_pitches(compose(params("pop", seed=2, mode=mode), f))
    assert a != b


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_different_pictures_give_different_leads(mode: str) -> None:
    p = params("pop", mode=mode)
    a = lead_pitches(compose(p, features(height=rising())))
    b = lead_pitches(compose(p, features(height=rising()[::-1])))
    c = lead_pitches(compose(p, features(height=[0.5 + 0.4 * math.sin(i) for i in range(24)])))
    assert a != b and a != c and b != c


# --- the picture is audible -------------------------------------------------------------------------


def _halves(values: list[int]) -> tuple[float, float]:
    half = len(values) // 2
    return sum(values[:half]) / half, sum(values[half:]) / (len(values) - half)


@pytest.mark.parametrize("mode", ["heuristic", "model"])
@pytest.mark.parametrize("genre", ["pop", "ambient", "techno"])
def test_lead_contour_follows_the_height_profile(genre: str, mode: str) -> None:
    p = params(genre, mode=mode, durationSeconds=60)
    up = lead_pitches(compose(p, features(height=rising())))
    down = lead_pitches(compose(p, features(height=rising()[::-1])))
    early, late = _halves(up)
    assert late > early + 4, "a rising horizon should lift the melody"
    early, late = _halves(down)
    assert early > late + 4, "a falling horizon should lower the melody"


def test_lead_pitch_correlates_with_height_over_time() -> None:
    heights = [0.5 + 0.45 * math.sin(i / 2.5) for i in range(40)]
    midi = parse(compose(params("pop", durationSeconds=90), features(height=heights, strips=40)))
    end = end_tick(midi)
    pairs = []
    for start, _, _, pitch, _ in notes(midi, "Lead"):
        x = start / end * (len(heights) - 1)
        i = min(int(x), len(heights) - 2)
        pairs.append((heights[i] + (heights[i + 1] - heights[i]) * (x - i), pitch))
    n = len(pairs)
    mh = sum(h for h, _ in pairs) / n
    mp = sum(p for _, p in pairs) / n
    cov = sum((h - mh) * (p - mp) for h, p in pairs)
    var_h = sum((h - mh) ** 2 for h, _ in pairs)
    var_p = sum((p - mp) ** 2 for _, p in pairs)
    assert cov / math.sqrt(var_h * var_p) > 0.6


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_note_density_follows_energy_and_density(mode: str) -> None:
    busy_then_calm = [0.9] * 12 + [0.05] * 12
    midi = parse(compose(params("pop", mode=mode, durationSeconds=60), features(energy=busy_then_calm)))
    end = end_tick(midi)
    lead = notes(midi, "Lead")
    middle = (min(n[0] for n in lead) + end) / 2  # the middle of the lead's span (it enters after the intro)
    first = sum(1 for n in lead if n[0] < middle)
    assert first > 1.5 * (len(lead) - first)

    f = features(height=rising())
    sparse = len(lead_pitches(compose(params("pop", mode=mode, density=0.1), f)))
    dense = len(lead_pitches(compose(params("pop", mode=mode, density=0.95), f)))
    assert dense > 1.5 * sparse


def test_lead_velocity_follows_brightness() -> None:
    p = params("pop", durationSeconds=60)
    dark = [n[4] for n in notes(parse(compose(p, features(brightness=[0.05] * 24))), "Lead")]
    bright = [n[4] for n in notes(parse(compose(p, features(brightness=[0.95] * 24))), "Lead")]
    assert sum(bright) / len(bright) > sum(dark) / len(dark) + 15


# --- form -------------------------------------------------------------------------------------------


def test_form_has_intro_verse_chorus_outro_and_the_chorus_changes_the_harmony() -> None:
    ctx = build_context(params("pop", durationSeconds=90), features())
    names = [s.name for s in ctx.timeline.sections]
    assert names[0] == "intro" and names[-1] == "outro"
    assert {"verse", "chorus", "chorus2"} <= set(names)
    bar = 0
    degrees: dict[str, set[tuple[int, ...]]] = {}
    for section in ctx.timeline.sections:
        prog = tuple(ctx.chords[b].degree for b in range(section.start_bar, section.start_bar + min(4, section.bars)))
        degrees.setdefault(section.name, set()).add(prog)
        bar = section.end_bar
    assert bar == ctx.timeline.bars
    assert degrees["verse"] != degrees["chorus"]
    assert ctx.chords[-1].degree == 0  # ends on the tonic


def test_drums_thin_out_in_intro_and_outro() -> None:
    p = params("rock", durationSeconds=90)
    ctx = build_context(p, features())
    midi = parse(compose(p, features()))
    bar_ticks = 4 * midi.ticks_per_beat
    per_bar: dict[int, int] = {}
    for n in notes(midi, "Drums"):
        per_bar[n[0] // bar_ticks] = per_bar.get(n[0] // bar_ticks, 0) + 1

    def average(name: str) -> float:
        bars = [b for s in ctx.timeline.sections if s.name == name for b in range(s.start_bar, s.end_bar)]
        return sum(per_bar.get(b, 0) for b in bars) / len(bars)

    assert average("intro") < average("verse")
    assert average("outro") < average("verse")


def test_swing_delays_off_beat_eighths() -> None:
    midi = parse(compose(params("jazz", durationSeconds=30), features()))
    beat = midi.ticks_per_beat
    ride = [n[0] % beat for n in notes(midi, "Drums") if n[3] == 51]
    assert ride and not any(pos == beat // 2 for pos in ride)
    assert any(beat // 2 < pos < beat for pos in ride)
    straight = parse(compose(params("pop", durationSeconds=30), features()))
    assert any(n[0] % beat == beat // 2 for n in notes(straight, "Drums"))


# --- the model --------------------------------------------------------------------------------------


def test_the_markov_model_file_is_small_and_documented() -> None:
    assert MODEL_PATH.stat().st_size < 300_000
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    header = data["header"]
    assert header["pieces"] > 100 and header["notes"] > 1000
    assert "music21Version" in header and "corpus" in header
    model = load_model()
    assert model.tokens and model.order1 and model.order2
    row = model.next_tokens(None, None)
    assert math.isclose(sum(p for _, p in row), 1.0)
    assert load_model() is model  # loaded once


def test_model_mode_differs_from_heuristic_mode() -> None:
    f = features(height=rising())
    heuristic = compose(params("pop", mode="heuristic"), f)
    model = compose(params("pop", mode="model"), f)
    assert lead_pitches(heuristic) != lead_pitches(model)
    # Model mode draws its harmony from the trained corpus too, so the bass follows other chords.
    assert notes(parse(heuristic), "Bass") != notes(parse(model), "Bass")


# --- the encoder and bad parameters -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["heuristic", "model"])
def test_the_file_is_what_mido_itself_would_write(mode: str) -> None:
    data = compose(params("hiphop", mode=mode), features(height=rising()))
    out = BytesIO()
    parse(data).save(file=out)
    assert hashlib.sha256(out.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_empty_profiles_still_compose() -> None:
    f = ImageFeatures(width=1, height=1, format="PNG", brightness=0.5, contrast=0, saturation=0, warmth=0,
                      colorfulness=0, edge_density=0)  # fmt: skip
    midi = parse(compose(params("ambient", durationSeconds=15), f))
    assert midi.length == pytest.approx(15, abs=0.01)
    assert notes(midi, "Lead")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"genre": "polka"}, "genre"),
        ({"key": "H"}, "key"),
        ({"key": "Bb"}, "key"),
        ({"scale": "blues"}, "scale"),
        ({"mode": "neural"}, "mode"),
        ({"tempoBpm": 0}, "tempo"),
        ({"durationSeconds": 0}, "duration"),
        ({"durationSeconds": -5}, "duration"),
        ({"instruments": {"bass": 33, "chords": 4}}, "lead"),
        ({"instruments": {"bass": 33, "chords": 4, "lead": 128}}, "lead"),
        ({"energy": "loud"}, "energy"),
    ],
)
def test_impossible_parameters_raise_composition_failed(override: dict[str, object], message: str) -> None:
    p = params("pop")
    for name, value in override.items():
        setattr(p, name, value)
    with pytest.raises(CompositionFailed, match=message):
        compose(p, features())
