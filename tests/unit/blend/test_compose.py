"""Compose: determinism, the knobs' effects, the MIDI it writes, the gates, and the retry bound."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mido
import pytest

from soundcanvas.blend.arrange import GENRES, STYLES
from soundcanvas.blend.compose import BlendOptions, BlendResult, attempt_bound, compose_blend, derive_genre
from soundcanvas.blend.midi_files import read_song
from soundcanvas.blend.prepare import Prepared, prepare_blend
from soundcanvas.core.errors import BlendRejected
from tests.unit.blend import songs

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def three() -> Prepared:
    """The bench's three seed-like songs, equal weights."""
    return prepare_blend([(song_id, read_song(data)) for song_id, data in songs.seed_like_songs()])


@pytest.fixture(scope="module")
def two() -> tuple[bytes, bytes]:
    return songs.reel_in_g(), songs.waltz_in_a_minor()


def blend(prepared: Prepared, **options: object) -> BlendResult:
    return compose_blend(prepared, BlendOptions(**options))  # type: ignore[arg-type]


def tracks(result: BlendResult) -> dict[str, list[tuple[int, int, int]]]:
    """Each track's notes as (start tick, end tick, pitch), by track name."""
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    out: dict[str, list[tuple[int, int, int]]] = {}
    for track in midi.tracks[1:]:
        tick, started, notes = 0, {}, []
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity:
                started[msg.note] = tick
            elif msg.type in ("note_off", "note_on") and msg.note in started:
                notes.append((started.pop(msg.note), tick, msg.note))
        out[track.name] = sorted(notes)
    return out


def melody_tokens(result: BlendResult) -> list[tuple[int, int]]:
    """The melody as (pitch, ticks to the next note) tokens, read back from the MIDI file."""
    notes = tracks(result)["Melody"]
    return [(a[2], b[0] - a[0]) for a, b in itertools.pairwise(notes)]


def entropy_bits(tokens: list[tuple[int, int]]) -> float:
    counts = Counter(tokens)
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values())


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(three: Prepared) -> None:
    first, again = blend(three, seed=11, length_seconds=60), blend(three, seed=11, length_seconds=60)
    assert first.midi == again.midi and first.summary() == again.summary()
    assert blend(three, seed=12, length_seconds=60).midi != first.midi
    through_json = Prepared.from_json(json.loads(json.dumps(three.to_json())))  # as Compose reads it from S3
    assert compose_blend(through_json, BlendOptions(seed=11, length_seconds=60)).midi == first.midi


def test_same_bytes_in_another_process() -> None:
    script = (
        "import hashlib\n"
        "from soundcanvas.blend.midi_files import read_song\n"
        "from soundcanvas.blend.prepare import prepare_blend\n"
        "from soundcanvas.blend.compose import BlendOptions, compose_blend\n"
        "from tests.unit.blend.songs import seed_like_songs\n"
        "p = prepare_blend([(i, read_song(d)) for i, d in seed_like_songs()])\n"
        "print(hashlib.sha256(compose_blend(p, BlendOptions(seed=5, length_seconds=30)).midi).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'common'}"}
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    prepared = prepare_blend([(i, read_song(d)) for i, d in songs.seed_like_songs()])
    here = hashlib.sha256(compose_blend(prepared, BlendOptions(seed=5, length_seconds=30)).midi).hexdigest()
    assert output.stdout.strip() == here


# --- the knobs ------------------------------------------------------------------------------------


def test_higher_temperature_gives_a_more_varied_melody(three: Prepared) -> None:
    seeds = range(4)
    cool = [melody_tokens(blend(three, temperature=0.2, seed=s, length_seconds=60)) for s in seeds]
    hot = [melody_tokens(blend(three, temperature=1.8, seed=s, length_seconds=60)) for s in seeds]
    assert sum(map(entropy_bits, hot)) > sum(map(entropy_bits, cool)) + 0.3 * len(seeds)
    assert sum(len(set(tokens)) for tokens in hot) > sum(len(set(tokens)) for tokens in cool)


def test_higher_creativity_copies_less_and_invents_more(three: Prepared) -> None:
    seeds = range(4)
    faithful = [blend(three, creativity=0.1, seed=s, length_seconds=60).novelty for s in seeds]
    creative = [blend(three, creativity=0.9, seed=s, length_seconds=60).novelty for s in seeds]
    assert sum(n["longestCopiedBars"] for n in creative) < sum(n["longestCopiedBars"] for n in faithful)
    assert sum(n["newPhraseShare"] for n in creative) > sum(n["newPhraseShare"] for n in faithful) + 0.2 * len(seeds)
    assert all(n["longestCopiedBars"] <= 4 - 3 * 0.9 for n in creative)


def test_weights_shift_the_attribution(two: tuple[bytes, bytes]) -> None:
    reel, waltz = (read_song(data) for data in two)
    for weights in ([0.7, 0.3], [0.3, 0.7]):
        prepared = prepare_blend([("reel", reel), ("waltz", waltz)], weights)
        shares = [blend(prepared, seed=s).attribution["reel"] for s in range(2)]
        assert all(abs(share - weights[0]) <= 0.1 for share in shares), (weights, shares)


# --- the MIDI file --------------------------------------------------------------------------------


@pytest.mark.parametrize("length_seconds", [15.0, 120.0, 300.0])
def test_the_midi_file(three: Prepared, length_seconds: float) -> None:
    result = blend(three, seed=2, length_seconds=length_seconds)
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    assert midi.type == 1 and [t.name for t in midi.tracks] == ["SoundCanvas Blend", "Melody", "Chords", "Bass", "Drums"]
    meta = [msg for msg in midi.tracks[0] if msg.is_meta]
    tempo = next(msg for msg in meta if msg.type == "set_tempo")
    signature = next(msg for msg in meta if msg.type == "time_signature")
    assert (signature.numerator, signature.denominator) == (4, 4) and result.time_signature == "4/4"
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(result.tempo_bpm, abs=0.01)
    assert next(msg for msg in meta if msg.type == "key_signature").key == "D"
    drums = [msg for msg in midi.tracks[4] if msg.type == "note_on" and msg.velocity]
    assert drums and {msg.channel for msg in drums} == {9}
    notes = tracks(result)
    assert notes["Bass"] and max(p for *_, p in notes["Bass"]) < 60
    assert {msg.channel for msg in midi.tracks[3] if msg.type == "note_on"} == {2}
    bar_seconds = 4 * 60 / result.tempo_bpm
    assert abs(midi.length - length_seconds) <= bar_seconds
    assert result.duration_seconds == pytest.approx(midi.length, abs=0.01)
    assert notes["Melody"][-1][2] % 12 == 2  # ends on the tonic (D)
    # The final bar: tonic in the bass too.
    assert notes["Bass"][-1][2] % 12 == 2


@pytest.mark.parametrize(
    ("makers", "weights", "signature", "beats_per_bar", "quarters_per_beat"),
    [
        ((songs.jig_in_d, songs.waltz_in_a_minor), [3, 1], (6, 8), 2, 1.5),
        ((songs.waltz_in_a_minor, songs.reel_in_g), [2, 1], (3, 4), 3, 1.0),
    ],
)
def test_other_metres(
    makers: tuple[object, object],
    weights: list[float],
    signature: tuple[int, int],
    beats_per_bar: int,
    quarters_per_beat: float,
) -> None:
    prepared = prepare_blend([(str(i), read_song(make())) for i, make in enumerate(makers)], weights)  # type: ignore[operator]
    result = blend(prepared, seed=4, length_seconds=45)
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    meta = next(m for m in midi.tracks[0] if m.type == "time_signature")
    assert (meta.numerator, meta.denominator) == signature and result.time_signature == f"{signature[0]}/{signature[1]}"
    bar_seconds = beats_per_bar * quarters_per_beat * 60 / result.tempo_bpm
    assert abs(midi.length - 45) <= bar_seconds
    bar_ticks = round(beats_per_bar * quarters_per_beat * midi.ticks_per_beat)
    downbeats = {start for start, _, _ in tracks(result)["Drums"] if start % bar_ticks == 0}
    assert len(downbeats) == round(midi.length / bar_seconds)  # a hit on every bar's downbeat
    assert all(gate["passed"] for gate in result.gates.values())


@pytest.mark.parametrize("genre", GENRES)
def test_every_genre_is_arranged_for_its_instruments(three: Prepared, genre: str) -> None:
    result = blend(three, genre=genre, seed=1, length_seconds=30)
    midi = mido.MidiFile(file=io.BytesIO(result.midi))
    programs = [next(m.program for m in t if m.type == "program_change") for t in midi.tracks[1:4]]
    style = STYLES[genre]
    assert programs == [style.melody_program, style.chord_program, style.bass_program]
    assert result.genre == genre and all(gate["passed"] for gate in result.gates.values())
    low, high = style.beat_bpm_range
    assert low <= result.tempo_bpm <= high


def test_genre_is_derived_from_the_songs() -> None:
    band, chorale, reel = (read_song(f()) for f in (songs.band_in_e_minor, songs.chorale_in_c, songs.reel_in_g))
    assert derive_genre(prepare_blend([("band", band), ("reel", reel)], [2, 1])) == "pop"
    assert derive_genre(prepare_blend([("chorale", chorale), ("reel", reel)], [2, 1])) == "classical"
    assert derive_genre(prepare_blend([("chorale", chorale), ("reel", reel)], [1, 2])) == "folk"


# --- the gates ------------------------------------------------------------------------------------


def test_gates_pass_on_realistic_songs(three: Prepared) -> None:
    result = blend(three, seed=0)
    assert set(result.gates) == {"attribution", "copy", "inKey", "blend"}
    assert all(gate["passed"] for gate in result.gates.values()), result.gates
    assert result.gates["copy"]["threshold"] == pytest.approx(4 - 3 * 0.7)
    assert sum(result.attribution.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(abs(share - 1 / 3) <= 0.1 for share in result.attribution.values())
    assert 0 < result.novelty["newPhraseShare"] < 1 and result.novelty["longestCopiedBars"] <= 1.9
    summary = result.summary()
    assert summary["attempts"] == result.attempts >= 1 and summary["seedUsed"] == result.seed_used
    assert summary["key"] == "D major" and summary["genre"] == "folk"
    json.dumps(summary)


def test_impossible_gates_are_rejected_after_the_bound() -> None:
    # The same chorale in two keys: every 4-note figure is in both, so each song's share is always 1/2.
    same = [("in-c", read_song(songs.chorale_in_c())), ("in-d", read_song(songs.chorale_in_c(transpose=2)))]
    prepared = prepare_blend(same, [0.85, 0.15])
    with pytest.raises(BlendRejected) as caught:
        compose_blend(prepared, BlendOptions(seed=3, length_seconds=60))
    message = str(caught.value)
    assert "8 attempts (seeds 3-10)" in message and "attribution gate failed 8 times" in message
    assert "0.50" in message and "0.85" in message
    with pytest.raises(BlendRejected, match="in 2 attempts"):
        compose_blend(prepared, BlendOptions(length_seconds=30), max_attempts=2)


def test_short_pieces_get_more_attempts() -> None:
    assert [attempt_bound(seconds) for seconds in (15, 30, 45, 60, 120, 300)] == [32, 16, 11, 8, 8, 8]


def test_a_retry_uses_the_next_seed(three: Prepared) -> None:
    result = blend(three, seed=0, length_seconds=15)  # short pieces are the hardest to balance
    assert result.seed_used == result.attempts - 1
    assert all(gate["passed"] for gate in result.gates.values())


# --- options --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0.05),
        ("temperature", 2.5),
        ("creativity", -0.1),
        ("creativity", 1.1),
        ("length_seconds", 10),
        ("length_seconds", 301),
        ("genre", "polka"),
        ("seed", -1),
    ],
)
def test_options_out_of_range(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        BlendOptions(**{field: value})  # type: ignore[arg-type]


def test_options_from_the_api() -> None:
    assert BlendOptions.from_json(None) == BlendOptions() == BlendOptions(0.8, 0.7, 120.0, None, 0)
    options = BlendOptions.from_json(
        {"temperature": 1.2, "creativity": 0.2, "lengthSeconds": 45, "genre": "Jazz", "seed": 9}
    )
    assert options == BlendOptions(1.2, 0.2, 45.0, "jazz", 9)
    assert BlendOptions.from_json({"genre": None, "seed": None}) == BlendOptions()
    assert BlendOptions.from_json(options.to_json()) == options
