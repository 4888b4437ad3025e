"""The music report's figures (bench/music_figures.py) on tiny synthetic notes and signals."""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from bench import music_figures as fig

TPB = 480
BAR = 4 * TPB
STEP = TPB // 4


def tone(seconds: float, rate: int = 1000, freq: float = 5.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.sin(2 * np.pi * freq * t)


def test_correlation_and_mono_loss_follow_the_stereo_image() -> None:
    x = tone(2.0)
    same = np.stack([x, x], axis=1)
    opposite = np.stack([x, -x], axis=1)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(20000, 2))
    assert fig.stereo_correlation(same) == pytest.approx(1.0)
    assert fig.stereo_correlation(opposite) == pytest.approx(-1.0)
    assert fig.mono_loss_db(same) == pytest.approx(0.0, abs=1e-9)
    assert fig.mono_loss_db(wide) == pytest.approx(3.0, abs=0.2)  # uncorrelated channels lose half the power
    assert fig.mono_loss_db(opposite) > 60
    partly = np.stack([x, -0.5 * x], axis=1)
    assert fig.stereo_correlation(partly) == pytest.approx(-1.0)
    assert 0 < fig.mono_loss_db(partly) < fig.mono_loss_db(opposite)


def test_gated_loudness_ignores_rests_and_follows_the_level() -> None:
    rate = 22050
    t = np.arange(2 * rate) / rate
    tone = np.repeat((0.25 * np.sin(2 * np.pi * 440 * t))[:, None], 2, axis=1)
    with_rests = np.concatenate([tone, np.zeros((2 * rate, 2)), tone])
    alone = fig.gated_loudness_db(tone, rate)
    assert fig.gated_loudness_db(with_rests, rate) == pytest.approx(alone, abs=0.1)  # the rest is gated out
    assert fig.gated_loudness_db(2 * tone, rate) - alone == pytest.approx(6.02, abs=0.05)
    # K-weighting: a 50 Hz tone of the same amplitude counts for less than a 2 kHz one.
    low = np.repeat((0.25 * np.sin(2 * np.pi * 50 * t))[:, None], 2, axis=1)
    high = np.repeat((0.25 * np.sin(2 * np.pi * 2000 * t))[:, None], 2, axis=1)
    assert fig.gated_loudness_db(low, rate) < alone < fig.gated_loudness_db(high, rate)
    assert fig.gated_loudness_db(np.zeros((rate, 2)), rate) == -np.inf


def test_rest_drop_compares_a_rest_with_its_neighbours() -> None:
    rate, window = 100, 1.0
    signal = np.full((1000, 2), 0.5)
    signal[400:600] *= 0.1  # 20 dB quieter from 4 s to 6 s
    levels = fig.window_levels_db(signal, rate, window, 0.5)
    lead = [(0.0, 4.0), (6.0, 10.0)]
    assert fig.largest_rest_drop_db(levels, window, lead) == pytest.approx(20.0, abs=0.01)
    assert fig.largest_rest_drop_db(levels, window, lead, excluded=[(4.0, 6.0)]) is None
    assert fig.largest_rest_drop_db(levels, window, [(0.0, 10.0)]) is None  # the lead never rests
    assert fig.largest_rest_drop_db(levels, window, []) is None


def test_phrase_ends_and_multiples_of_four() -> None:
    sections = [("intro", 0, 2), ("A", 2, 8), ("B", 10, 5)]
    assert fig.phrase_ends(sections) == [1, 5, 9, 13, 14]
    assert fig.multiple_of_four_share([2, 8, 5, 4]) == 0.5


def test_repeated_bars_need_identical_content() -> None:
    motif = [(0, STEP * 2, 60, 90), (STEP * 4, STEP * 6, 64, 90)]
    notes = [(b * BAR + s, b * BAR + e, p, v) for b in (0, 2) for s, e, p, v in motif]
    notes += [(BAR + 0, BAR + STEP, 62, 90), (3 * BAR, 3 * BAR + STEP, 62, 90), (3 * BAR + STEP, 3 * BAR + 2 * STEP, 65, 90)]
    assert fig.repeated_bar_share(notes, BAR) == 0.5  # bars 0 and 2 match; 1 and 3 differ
    nudged = [*notes[:2], (2 * BAR + 7, 2 * BAR + STEP * 2 + 7, 60, 90), *notes[3:]]
    assert fig.repeated_bar_share(nudged, BAR) == 0.0  # a 7-tick nudge breaks exact repetition...
    assert fig.repeated_bar_share(nudged, BAR, unit=TPB // 8) == 0.5  # ...but not at a 32nd's resolution
    assert fig.repeated_bar_share([], BAR) is None
    assert fig.pitch_range(notes) == 5


def groove(bar: int, extra: list[tuple[int, int]] = ()) -> list[fig.Note]:
    hits = [(0, 36), (4, 38), (8, 36), (12, 38), *extra]
    return [(bar * BAR + pos * STEP, bar * BAR + pos * STEP + 60, key, 100) for pos, key in hits]


def test_fills_are_busier_phrase_ends() -> None:
    notes = [n for bar in range(8) for n in groove(bar, [(13, 45), (14, 43), (15, 41)] if bar == 3 else [])]
    patterns = fig.drum_bars(notes, BAR, STEP)
    assert len(set(patterns.values())) == 2
    assert fig.fill_share(patterns, [3, 7]) == 0.5  # a fill at bar 3, the plain groove at bar 7
    sparser = {**patterns, 7: frozenset({(0, 36)})}
    assert fig.fill_share(sparser, [7]) == 0.0  # different, but fewer snare/tom hits: not a fill
    assert fig.fill_share({}, [3]) is None


def test_micro_timing_does_not_make_a_new_drum_bar() -> None:
    straight = groove(0)
    late = [(s + 9, e + 9, k, v - 20) for s, e, k, v in groove(1)]
    patterns = fig.drum_bars(straight + late, BAR, STEP)
    assert patterns[0] == patterns[1]


def test_grid_shares_tell_a_fixed_swing_from_micro_timing() -> None:
    straight = [i * STEP for i in range(64)]
    assert fig.grid_shares(straight, TPB) == (1.0, 1.0)
    swung = [i * TPB // 2 + (60 if i % 2 else 0) for i in range(64)]
    exact, mechanical = fig.grid_shares(swung, TPB)
    assert exact == 0.5 and mechanical == 1.0
    rng = np.random.default_rng(3)
    humanised = [i * STEP + int(rng.integers(-15, 16)) for i in range(64)]
    exact, mechanical = fig.grid_shares(humanised, TPB)
    assert mechanical < 0.5
    assert fig.grid_shares([], TPB) is None


def chord(start: int, end: int, pitches: list[int]) -> list[fig.Note]:
    return [(start, end, p, 80) for p in pitches]


def test_chord_roots_and_cadences() -> None:
    g7_c = chord(0, BAR, [43, 59, 62, 65]) + chord(BAR, 2 * BAR, [36, 60, 64, 67])  # G7 then C, in C
    roots = fig.chord_roots(g7_c, BAR // 2, 2 * BAR)
    assert roots == [7, 0]
    assert fig.cadence(roots, 0, fig.allowed_cadences("jazz")) == "V-I"
    f_c = chord(0, BAR, [41, 60, 65, 69]) + chord(BAR, 2 * BAR, [36, 60, 64, 67])
    assert fig.cadence(fig.chord_roots(f_c, BAR // 2, 2 * BAR), 0, fig.allowed_cadences("pop")) == "IV-I"
    assert fig.cadence(fig.chord_roots(f_c, BAR // 2, 2 * BAR), 0, fig.allowed_cadences("jazz")) is None
    assert fig.cadence(roots, 2, (7,)) is None  # ends off the tonic
    am_c = chord(0, BAR, [45, 60, 64, 69])  # A minor, bass on A: the bass decides against C major
    assert fig.chord_roots(am_c, BAR, BAR) == [9]


def test_scale_shares() -> None:
    c_major = [60, 62, 64, 65, 67, 69, 71]
    assert fig.scale_share(c_major, 0, fig.DIATONIC) == 1.0
    assert fig.scale_share([*c_major, 61], 0, fig.DIATONIC) == pytest.approx(7 / 8)
    assert fig.best_diatonic_share([p + 3 for p in c_major]) == 1.0  # any key
    assert fig.best_diatonic_share([]) is None


def test_read_song_pairs_note_offs_and_names_roles() -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    conductor = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4),
                                mido.MetaMessage("set_tempo", tempo=600_000)])
    lead = mido.MidiTrack([mido.MetaMessage("track_name", name="Lead"), mido.Message("note_on", note=60, velocity=90),
                           mido.Message("note_on", note=60, velocity=0, time=240),
                           mido.Message("note_on", note=62, velocity=90, time=240),
                           mido.Message("note_off", note=62, time=480)])
    drums = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100),
                            mido.Message("note_off", channel=9, note=36, time=60)])
    midi.tracks += [conductor, lead, drums]
    out = io.BytesIO()
    midi.save(file=out)
    song = fig.read_song(out.getvalue())
    assert song.bar_ticks == 3 * TPB and song.tempo_us == 600_000
    assert song.tracks[0].notes == ((0, 240, 60, 90), (480, 960, 62, 90))
    assert [fig.role(t) for t in song.tracks] == ["lead", "drums"]
    assert song.seconds(TPB) == pytest.approx(0.6)


def test_summaries() -> None:
    assert fig.summary([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert fig.summary([]) is None
    low, high = fig.percentile_spread([i / 10 for i in range(11)])
    assert (low, high) == pytest.approx((0.1, 0.9))
