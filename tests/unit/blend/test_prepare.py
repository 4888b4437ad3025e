"""Prepare: common key, metre and tempo; melody skyline, chords, rhythm; the JSON handed to Compose."""

from __future__ import annotations

import json

import pytest

from soundcanvas.blend.midi_files import read_song
from soundcanvas.blend.prepare import (
    SCALES,
    Prepared,
    beat_quarters,
    beats_per_bar,
    degree_map,
    prepare_blend,
)
from soundcanvas.core.errors import SongRejected
from tests.unit.blend import songs


@pytest.fixture(scope="module")
def library() -> dict[str, object]:
    return {
        "jig": read_song(songs.jig_in_d()),
        "reel": read_song(songs.reel_in_g()),
        "waltz": read_song(songs.waltz_in_a_minor()),
        "chorale": read_song(songs.chorale_in_c()),
        "band": read_song(songs.band_in_e_minor()),
    }


def pick(library: dict[str, object], *names: str) -> list[tuple[str, object]]:
    return [(name, library[name]) for name in names]


def test_metre_helpers() -> None:
    assert [beats_per_bar(ts) for ts in ((6, 8), (3, 4), (4, 4), (2, 2), (9, 8))] == [2, 3, 4, 2, 3]
    assert [beat_quarters(ts) for ts in ((6, 8), (3, 4), (2, 2), (3, 8))] == [1.5, 1.0, 2.0, 0.5]


def test_key_from_the_heaviest_metre_by_majority_tempo_by_mean(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "jig", "reel", "chorale"), [1, 2, 1])  # type: ignore[arg-type]
    assert prepared.key_name == "G major"
    assert prepared.time_signature == (4, 4)  # reel + chorale outweigh the jig
    assert prepared.weights == pytest.approx((0.25, 0.5, 0.25))
    assert prepared.beat_bpm == pytest.approx(0.25 * 116 + 0.5 * 112 + 0.25 * 80)  # the jig's beat is its dotted quarter
    jig = prepared.songs[0]
    assert jig.time_scale == 1.0 and {d for _, _, d in jig.melody} <= {4, 8, 12}  # eighths as triplets of the beat


def test_a_heavy_jig_makes_it_six_eight_and_halves_the_others(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "jig", "reel"), [3, 1])  # type: ignore[arg-type]
    assert prepared.time_signature == (6, 8) and prepared.key_name == "D major"
    reel = prepared.songs[1]
    assert reel.time_scale == 0.5
    assert {d for _, _, d in reel.melody} <= {3, 6, 12}  # eighths become a quarter of the dotted quarter
    assert reel.beat_bpm == pytest.approx(56)
    assert len(reel.onset_histogram) == 24


def test_skyline_of_a_chorale_is_the_soprano(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "chorale", "reel"))  # type: ignore[arg-type]
    chorale = prepared.songs[0]
    soprano = songs.parse(f"{songs.CHORALE_SOPRANO} | {songs.CHORALE_SOPRANO}", 1.0)
    scale = SCALES["major"]
    assert [(60 + 12 * (s // 7) + scale[s % 7] + a) % 12 for s, a, _ in chorale.melody] == [p % 12 for _, _, p in soprano]
    assert [d for _, _, d in chorale.melody] == [round(length * 12) for _, length, _ in soprano]
    assert chorale.voices == 4 and not chorale.has_drums


def test_skyline_prefers_the_track_with_the_top_notes(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "band", "reel"))  # type: ignore[arg-type]
    band = prepared.songs[0]
    assert len(band.melody) == 84  # the lead's notes, not the block chords' or the bass's
    assert band.has_drums and band.mode == "minor"


def test_melody_steps_sit_near_the_fifth(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "jig", "reel", "waltz"))  # type: ignore[arg-type]
    for song in prepared.songs:
        steps = sorted(s for s, _, _ in song.melody)
        assert 1 <= steps[len(steps) // 2] <= 8


def test_chords_by_template(library: dict[str, object]) -> None:
    bars = [(0, 4, 7), (5, 9, 0), (7, 11, 2, 5), (0, 4, 7)]  # C F G7 C, whole bars
    notes = [(4.0 * b, 4.0, 48 + pc + (12 if pc < 5 else 0)) for b, chord in enumerate(bars) for pc in chord]
    melody = [(4.0 * b + beat, 1.0, 72 + bars[b][beat % len(bars[b])]) for b in range(4) for beat in range(4)]
    block = read_song(songs.file_of([(melody, 0, 0), (notes, 1, 0)], 100, (4, 4)))
    prepared = prepare_blend([("block", block), ("reel", library["reel"])])  # type: ignore[list-item]
    assert prepared.songs[0].chords == ("I", "I", "IV", "IV", "V7", "V7", "I", "I")
    waltz = prepare_blend(pick(library, "waltz", "reel")).songs[0]  # type: ignore[arg-type]
    assert waltz.chords[:8] == ("i", "i", "iv", "i", "iv", "III", "V7", "i")


def test_other_modes_map_degree_by_degree(library: dict[str, object]) -> None:
    as_minor = prepare_blend(pick(library, "waltz", "reel"), [2, 1])  # type: ignore[arg-type]
    as_major = prepare_blend(pick(library, "reel", "waltz"), [2, 1])  # type: ignore[arg-type]
    in_minor, in_major = as_minor.songs[0].melody, as_major.songs[1].melody
    assert [s for s, _, _ in in_minor] == [s for s, _, _ in in_major]  # same degrees
    assert any(a == 1 for _, a, _ in in_minor)  # the raised leading tone (G#) survives in minor
    assert all(a == 0 for _, a, _ in in_major)  # ... and becomes the major scale's own 7th
    assert list(degree_map("minor", "major")) == [0, 0, 2, 4, 4, 5, 5, 7, 9, 9, 11, 11]


def test_json_round_trip(library: dict[str, object]) -> None:
    prepared = prepare_blend(pick(library, "jig", "waltz", "chorale", "band"), [1, 1, 2, 1])  # type: ignore[arg-type]
    data = json.loads(json.dumps(prepared.to_json()))
    assert Prepared.from_json(data) == prepared
    assert data["songs"][2]["songId"] == "chorale" and data["format"] == "soundcanvas-blend-prepared/1"
    with pytest.raises(ValueError, match="not a prepared blend"):
        Prepared.from_json({**data, "format": "something else"})


def test_bad_song_counts_and_weights(library: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="2 to 4 songs"):
        prepare_blend(pick(library, "jig"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 to 4 songs"):
        prepare_blend(pick(library, "jig", "reel", "waltz", "chorale", "band"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3 weights for 2 songs"):
        prepare_blend(pick(library, "jig", "reel"), [1, 1, 1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        prepare_blend(pick(library, "jig", "reel"), [1, 0])  # type: ignore[arg-type]


def test_a_song_with_too_few_melody_notes_is_rejected(library: dict[str, object]) -> None:
    tiny = read_song(songs.file_of([([(0.0, 1.0, 60), (1.0, 1.0, 64), (2.0, 2.0, 67)], 0, 0)], 100, (4, 4)))
    with pytest.raises(SongRejected, match="only 3 melody notes"):
        prepare_blend([("tiny", tiny), ("reel", library["reel"])])  # type: ignore[list-item]
