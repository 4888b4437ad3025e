"""Reading uploaded MIDI files (every unusable kind is a SongRejected a person can act on) and key estimation."""

from __future__ import annotations

import mido
import pytest

from soundcanvas.blend.midi_files import estimate_key, key_name, read_song, song_summary
from soundcanvas.core.errors import SongRejected
from tests.unit.blend import songs


def rejected(data: bytes, **kwargs: float) -> str:
    with pytest.raises(SongRejected) as caught:
        read_song(data, **kwargs)
    return str(caught.value)


def test_text_is_not_a_midi_file() -> None:
    message = rejected(b"X:1\nT:The Kesh\nK:G\n|:GAG GAB|\n")
    assert "not a MIDI file" in message and ".mid" in message


def test_empty_file() -> None:
    assert "empty" in rejected(b"")


def test_midi_without_notes() -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=480, tracks=[songs.meta_track(120, (4, 4))])
    assert "no notes" in rejected(songs.to_bytes(midi))


def test_drums_only_have_nothing_to_blend() -> None:
    data = songs.file_of([([(float(b), 0.5, 36) for b in range(8)], 9, 0)], 120, (4, 4))
    message = rejected(data)
    assert "only drums" in message and "pitched notes" in message


def test_longer_than_thirty_minutes() -> None:
    # One note starting at 31 minutes (120 bpm: 2 beats a second).
    data = songs.file_of([([(0.0, 1.0, 60), (31 * 60 * 2.0, 1.0, 62)], 0, 0)], 120, (4, 4))
    message = rejected(data)
    assert "31 minutes" in message and "at most 30 minutes" in message
    assert "lasts 33 seconds" in rejected(songs.jig_in_d(), max_duration_seconds=20)


@pytest.mark.parametrize(
    ("name", "cut"),
    [
        ("truncated", lambda d: d[: len(d) // 2]),
        ("header only", lambda d: d[:14]),
        ("bad data byte", lambda d: d[:60] + bytes([0x90, 0xFF, 0xFF]) + d[63:]),
        ("garbage after the header", lambda d: b"MThd" + bytes(range(200))),
    ],
)
def test_corrupt_files(name: str, cut: object) -> None:
    data = cut(songs.jig_in_d())  # type: ignore[operator]
    message = rejected(data)
    assert "damaged" in message and "Export it again" in message, name


def test_type_two_is_refused() -> None:
    midi = mido.MidiFile(file=__import__("io").BytesIO(songs.jig_in_d()))
    midi.type = 2
    assert "type 2" in rejected(songs.to_bytes(midi))


def test_type_zero_file() -> None:
    song = read_song(songs.reel_in_g())
    assert len(song.notes) == 2 * 2 * 8 * 8 - 16  # AABB, 8 bars of eighths less the long notes
    assert song.time_signature == (4, 4)
    assert song.tempo_bpm == pytest.approx(112, abs=0.01)
    assert {n.track for n in song.notes} == {0}
    assert song.notes[0].program == 73 and not song.notes[0].is_drum
    assert song.duration_seconds == pytest.approx(32 * 4 * 60 / 112, abs=0.05)
    assert [n.start_beats for n in song.notes] == sorted(n.start_beats for n in song.notes)


def test_multi_track_file() -> None:
    song = read_song(songs.chorale_in_c())
    assert {n.track for n in song.notes} == {1, 2, 3, 4}  # track 0 holds tempo and metre
    assert song.tempo_bpm == pytest.approx(80)
    soprano = [n for n in song.notes if n.track == 1]
    bass = [n for n in song.notes if n.track == 4]
    assert len(soprano) == len(bass) == 54
    assert min(s.pitch for s in soprano) > max(b.pitch for b in bass)
    assert {n.program for n in soprano} == {52}


def test_drums_are_marked_and_kept() -> None:
    song = read_song(songs.band_in_e_minor())
    drums = [n for n in song.notes if n.is_drum]
    assert drums and {n.pitch for n in drums} == {36, 38, 42}
    assert len(song.pitched) == len(song.notes) - len(drums)


def test_six_eight_and_first_tempo() -> None:
    song = read_song(songs.jig_in_d())
    assert song.time_signature == (6, 8)
    assert song.tempo_bpm == pytest.approx(174)  # dotted quarter 116 = quarter 174
    assert song.notes[0].duration_beats == pytest.approx(0.5 - 10 / 480)


def test_unterminated_note_ends_with_its_track() -> None:
    track = mido.MidiTrack(
        [mido.Message("note_on", note=60, velocity=80, time=0), mido.MetaMessage("end_of_track", time=960)]
    )
    song = read_song(songs.to_bytes(mido.MidiFile(type=0, ticks_per_beat=480, tracks=[track])))
    assert [(n.start_beats, n.duration_beats, n.pitch) for n in song.notes] == [(0.0, 2.0, 60)]
    assert song.tempo_bpm == 120 and song.time_signature == (4, 4)


def test_rmid_wrapper_is_unwrapped() -> None:
    smf = songs.reel_in_g()
    rmid = b"RIFF" + (len(smf) + 12).to_bytes(4, "little") + b"RMIDdata" + len(smf).to_bytes(4, "little") + smf
    assert len(read_song(rmid).notes) == len(read_song(smf).notes)


@pytest.mark.parametrize("tonic", range(12))
@pytest.mark.parametrize("mode", ["major", "minor"])
def test_key_of_crafted_scales(tonic: int, mode: str) -> None:
    assert estimate_key(read_song(songs.scale_song(tonic, mode))) == (tonic, mode)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (songs.jig_in_d, "D major"),
        (songs.reel_in_g, "G major"),
        (songs.waltz_in_a_minor, "A minor"),
        (songs.chorale_in_c, "C major"),
        (songs.band_in_e_minor, "E minor"),
    ],
)
def test_key_of_the_test_songs(make: object, key: str) -> None:
    assert key_name(*estimate_key(read_song(make()))) == key  # type: ignore[operator]


def test_summary_for_the_song_record() -> None:
    summary = song_summary(read_song(songs.waltz_in_a_minor()))
    assert summary == {
        "key": "A minor",
        "tempoBpm": 132.0,
        "timeSignature": "3/4",
        "durationSeconds": pytest.approx(43.6, abs=0.1),
    }
    assert key_name(10, "major") == "Bb major" and key_name(1, "minor") == "C# minor"
