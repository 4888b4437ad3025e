"""bench.listen.corpus: the ground truth Listen is scored against must be exact and reproducible.

Pieces are built once per module (about a second for all 48); one short piece is rendered with
the real fluidsynth binary and the small TimGM6mb SoundFont.
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections import defaultdict
from pathlib import Path

import mido
import mir_eval
import numpy as np
import pytest
import soundfile

from bench.listen import corpus
from bench.listen.corpus import Piece

SIX_EIGHT_BEAT_QUARTERS = 1.5


@pytest.fixture(scope="module")
def all_pieces() -> list[Piece]:
    return corpus.pieces()


def midi_notes(midi: mido.MidiFile) -> list[tuple[float, float, int, int]]:
    """(start, end, pitch, velocity) of every pitched note, read back from the file's bytes."""
    reread = mido.MidiFile(file=io.BytesIO(corpus.midi_bytes(midi)))
    now = 0.0
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
    notes = []
    for message in reread:  # merged tracks, delta times in seconds
        now += message.time
        if message.type not in ("note_on", "note_off") or message.channel == corpus.DRUM_CHANNEL:
            continue
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            sounding[key].append((now, message.velocity))
        else:
            start, velocity = sounding[key].pop(0)
            notes.append((start, now, message.note, velocity))
    assert not any(sounding.values()), "a note_on without its note_off"
    return sorted(notes)


def quarter_seconds(midi: mido.MidiFile) -> float:
    tempos = [message.tempo for track in midi.tracks for message in track if message.type == "set_tempo"]
    assert len(tempos) == 1
    return tempos[0] / 1e6


def test_corpus_is_deterministic_and_seeded(all_pieces: list[Piece]) -> None:
    again = corpus.pieces()
    assert [p.name for p in again] == [p.name for p in all_pieces]
    for first, second in zip(all_pieces, again, strict=True):
        assert corpus.midi_bytes(first.midi) == corpus.midi_bytes(second.midi)
        assert first.notes == second.notes
        assert first.chords == second.chords
        assert first.key == second.key
    other_seed = corpus.pieces(count=6, seed=8)
    assert [corpus.midi_bytes(p.midi) for p in other_seed] != [corpus.midi_bytes(p.midi) for p in all_pieces[:6]]


def test_both_splits_cover_every_kind_meter_and_mode(all_pieces: list[Piece]) -> None:
    assert [p.split for p in all_pieces] == ["tune", "report"] * (len(all_pieces) // 2)
    for split in corpus.SPLITS:
        chosen = [p for p in all_pieces if p.split == split]
        assert {p.kind for p in chosen} == set(corpus.KINDS)
        assert {p.time_signature for p in chosen} == set(corpus.METERS)
        assert {p.mode for p in chosen} == set(corpus.MODES)
        assert {(p.kind, p.time_signature) for p in chosen} == {(k, m) for k in corpus.KINDS for m in corpus.METERS}


def test_ground_truth_notes_are_the_midi_files_notes(all_pieces: list[Piece]) -> None:
    for piece in all_pieces:
        written = midi_notes(piece.midi)
        truth = sorted((n.start_seconds, n.end_seconds, n.pitch, n.velocity) for n in piece.notes)
        assert len(written) == len(truth), piece.name
        np.testing.assert_allclose(np.array(written), np.array(truth), atol=1e-6, err_msg=piece.name)


def test_no_two_notes_of_one_pitch_overlap(all_pieces: list[Piece]) -> None:
    for piece in all_pieces:
        by_pitch: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for note in piece.notes:
            assert note.end_seconds > note.start_seconds
            by_pitch[note.pitch].append((note.start_seconds, note.end_seconds))
        for spans in by_pitch.values():
            spans.sort()
            assert all(later[0] >= earlier[1] - 1e-9 for earlier, later in itertools.pairwise(spans)), piece.name


def test_beats_follow_the_tempo_and_the_meter(all_pieces: list[Piece]) -> None:
    for piece in all_pieces:
        quarter = quarter_seconds(piece.midi)
        beat = quarter * (SIX_EIGHT_BEAT_QUARTERS if piece.time_signature == "6/8" else 1.0)
        assert piece.tempo_bpm == pytest.approx(60.0 / beat, rel=1e-9)
        assert 60 - 1e-3 <= piece.tempo_bpm <= 180 + 1e-3
        np.testing.assert_allclose(np.diff(piece.beats_seconds), 60.0 / piece.tempo_bpm, rtol=1e-9)
        beats_per_bar = {"4/4": 4, "3/4": 3, "6/8": 2}[piece.time_signature]
        np.testing.assert_allclose(piece.downbeats_seconds, piece.beats_seconds[::beats_per_bar])
        assert piece.beats_seconds[0] == 0.0
        end = piece.music_end_seconds
        assert piece.beats_seconds[-1] < end <= piece.beats_seconds[-1] + beat + 1e-9
        signature = next(m for t in piece.midi.tracks for m in t if m.type == "time_signature")
        assert f"{signature.numerator}/{signature.denominator}" == piece.time_signature


def test_keys_chords_and_lengths_are_valid_and_musical(all_pieces: list[Piece]) -> None:
    for piece in all_pieces:
        mir_eval.key.validate_key(piece.key)
        mir_eval.key.validate_key(piece.parent_key)
        intervals = np.array([c[:2] for c in piece.chords])
        labels = [c[2] for c in piece.chords]
        mir_eval.chord.validate(labels, labels)
        assert intervals[0, 0] == 0.0
        np.testing.assert_allclose(intervals[1:, 0], intervals[:-1, 1])
        assert all(a != b for a, b in itertools.pairwise(labels)), "repeated chords are merged"
        tonic = piece.key.split()[0]
        assert labels[-1] == (tonic if piece.key.endswith("major") else f"{tonic}:min"), piece.name
        assert corpus.MIN_MUSIC_SECONDS <= piece.music_end_seconds <= corpus.MAX_MUSIC_SECONDS
        assert piece.duration_seconds == pytest.approx(piece.music_end_seconds + corpus.TAIL_SECONDS, abs=1e-3)
        assert piece.midi.length == pytest.approx(piece.duration_seconds, abs=1e-6)
        assert max(n.end_seconds for n in piece.notes) <= piece.music_end_seconds + 1e-9
        assert len({n.velocity for n in piece.notes}) > 3
    d_dorian = corpus.key_label(2, "dorian"), corpus.tonic_key_label(2, "dorian")
    g_mixolydian = corpus.key_label(7, "mixolydian"), corpus.tonic_key_label(7, "mixolydian")
    assert (d_dorian, g_mixolydian) == (("C major", "D minor"), ("C major", "G major"))
    dorian = next(p for p in all_pieces if p.mode == "dorian")
    assert dorian.key.endswith("minor") and dorian.parent_key.endswith("major")


def test_guitar_pieces_fit_standard_tuning_one_note_per_string(all_pieces: list[Piece]) -> None:
    guitar = [p for p in all_pieces if p.kind == "guitar"]
    assert guitar and all(set(p.programs) <= set(corpus.GUITAR_PROGRAMS) for p in guitar)
    for piece in guitar:
        assert all(corpus.GUITAR_LOWEST_PITCH <= n.pitch <= corpus.GUITAR_HIGHEST_PITCH for n in piece.notes)
        for note in piece.notes:
            ringing = [o for o in piece.notes if o.start_seconds <= note.start_seconds < o.end_seconds]
            assert len(ringing) <= 6, piece.name


def test_drums_only_in_band_pieces_on_channel_ten(all_pieces: list[Piece]) -> None:
    for piece in all_pieces:
        channels = {m.channel for t in piece.midi.tracks for m in t if m.type == "note_on"}
        assert (corpus.DRUM_CHANNEL in channels) == (piece.kind == "band"), piece.name


@pytest.mark.parametrize("color", ["white", "pink"])
def test_add_noise_hits_the_snr(color: str) -> None:
    t = np.arange(22050 * 2) / 22050
    clean = (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)).astype(np.float32)
    noisy = corpus.add_noise(clean, 30.0, seed=1, color=color)
    assert corpus.snr_db(clean, noisy) == pytest.approx(30.0, abs=0.1)
    assert np.array_equal(noisy, corpus.add_noise(clean, 30.0, seed=1, color=color))


@pytest.mark.fluidsynth
@pytest.mark.skipif(shutil.which("fluidsynth") is None or not corpus.TIMGM.exists(), reason="needs fluidsynth + TimGM6mb")
def test_render_length_and_noise_level(all_pieces: list[Piece], tmp_path: Path) -> None:
    piece = min(all_pieces, key=lambda p: p.duration_seconds)
    clean_path = corpus.render(piece, corpus.TIMGM, tmp_path / "clean.wav")
    noisy_path = corpus.render(piece, corpus.TIMGM, tmp_path / "noisy.wav", noise_snr_db=30.0)
    clean, clean_rate = soundfile.read(clean_path, dtype="float32")
    noisy, noisy_rate = soundfile.read(noisy_path, dtype="float32")
    assert clean_rate == noisy_rate == corpus.SAMPLE_RATE_HZ
    assert clean.ndim == 1
    assert clean.size == noisy.size == round(piece.duration_seconds * corpus.SAMPLE_RATE_HZ)
    first_onset = round(piece.notes[0].start_seconds * corpus.SAMPLE_RATE_HZ)
    music = clean[first_onset: round(piece.music_end_seconds * corpus.SAMPLE_RATE_HZ)]
    assert np.sqrt(np.mean(np.square(music))) > 0.01, "the render is silent"
    assert corpus.snr_db(clean, noisy) == pytest.approx(30.0, abs=0.5)
