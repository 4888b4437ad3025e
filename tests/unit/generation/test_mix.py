"""The mix: levels by role, bass and drums centred, no chorus (FluidSynth's is anti-phase), and every genre's
render survives being summed to mono. The render checks use the real fluidsynth, lame and FluidR3 SoundFont."""

from __future__ import annotations

import itertools
import math
import wave
from io import BytesIO
from pathlib import Path

import mido
import numpy as np
import pytest

from soundcanvas.generation.composition import compose, mix
from soundcanvas.generation.genres import GENRES
from soundcanvas.generation.music import ImageFeatures, MusicParams
from soundcanvas.generation.render import find_soundfont, render
from tests.unit.generation import music_inputs

DANCE_AND_BEAT_GENRES = ("house", "techno", "hiphop", "rock", "pop")
MIN_CORRELATION = 0.3
MAX_MONO_LOSS_DB = 3.0
RENDER_SECONDS = 10


def features(rising: bool) -> ImageFeatures:
    """A calm flat picture, or a busy one whose energy and brightness rise (and skyline falls) left to right."""
    strips = 24
    ramp = [0.1 + 0.8 * i / (strips - 1) for i in range(strips)]
    if rising:
        return music_inputs.features(height=ramp[::-1], energy=ramp, brightness=ramp, strips=strips)
    return music_inputs.features(height=0.5, energy=0.3, brightness=0.5, strips=strips)


def params(genre: str, choice: int, seconds: int = 30, seed: int = 77) -> MusicParams:
    """The genre's `choice`-th program for every part (the last one if it has fewer)."""
    g = GENRES[genre]

    def pick(options: tuple[int, ...]) -> int:
        return options[min(choice, len(options) - 1)]

    return MusicParams(
        genre=genre,
        tempoBpm=sum(g.tempo_range) // 2,
        key="E",
        scale=g.scales[0],
        mood="bright",
        energy=0.6,
        density=0.6,
        instruments={"bass": pick(g.bass_programs), "chords": pick(g.chord_programs), "lead": pick(g.lead_programs)},
        durationSeconds=seconds,
        mode="heuristic",
        seed=seed,
    )


def setup_controls(midi: bytes) -> dict[str, dict[int, list[int]]]:
    """Per track name: controller -> the values it is set to, in order."""
    out: dict[str, dict[int, list[int]]] = {}
    for track in mido.MidiFile(file=BytesIO(midi)).tracks:
        for msg in track:
            if msg.type == "control_change":
                out.setdefault(track.name, {}).setdefault(msg.control, []).append(msg.value)
    return out


# --- the role table ----------------------------------------------------------------------------


@pytest.mark.parametrize("genre", GENRES)
def test_every_genre_has_a_role_for_every_part_and_the_lead_sits_over_the_chords(genre: str) -> None:
    roles = mix.ROLE_LEVELS[genre]
    assert set(roles) == set(mix.PARTS)
    assert roles["lead"] >= roles["chords"] + 2


@pytest.mark.parametrize("genre", DANCE_AND_BEAT_GENRES)
def test_drums_and_bass_carry_the_beat_genres(genre: str) -> None:
    roles = mix.ROLE_LEVELS[genre]
    assert roles["drums"] >= roles["lead"] - 6
    assert roles["bass"] >= roles["lead"] - 6


@pytest.mark.parametrize("genre", GENRES)
def test_every_program_a_genre_can_pick_has_a_measured_stem_level(genre: str) -> None:
    g = GENRES[genre]
    measured = mix.STEM_LEVELS[genre]
    for part, programs in (("bass", g.bass_programs), ("chords", g.chord_programs), ("lead", g.lead_programs)):
        for program in programs:
            assert (part, program) in measured, f"{genre} {part} program {program}: run tools/calibrate_mix.py"


@pytest.mark.parametrize("genre", GENRES)
def test_volumes_move_every_measured_part_to_its_role_level(genre: str) -> None:
    g = GENRES[genre]
    measured = mix.STEM_LEVELS[genre]
    roles = mix.ROLE_LEVELS[genre]
    for bass, chords, lead in itertools.product(g.bass_programs, g.chord_programs, g.lead_programs):
        programs = {"lead": lead, "chords": chords, "bass": bass, "drums": None}
        volumes = mix.volumes(genre, programs)
        assert max(volumes.values()) == mix.FULL_SCALE_CC
        assert all(1 <= v <= mix.FULL_SCALE_CC for v in volumes.values())
        heard = {
            part: measured[(part, mix.DRUM_PROGRAM if program is None else program)] + mix.cc7_gain_db(volumes[part])
            for part, program in programs.items()
            if (part, mix.DRUM_PROGRAM if program is None else program) in measured
        }
        for part, level in heard.items():
            # CC7 steps are at most ~0.35 dB apart near the levels used
            assert level - heard["lead"] == pytest.approx(roles[part] - roles["lead"], abs=0.5), (part, programs)


def test_gm_volume_curve_round_trips() -> None:
    assert mix.cc7_gain_db(127) == 0
    assert mix.cc7_gain_db(64) == pytest.approx(-11.9, abs=0.05)
    for value in range(1, 128):
        assert mix.cc7_for_gain(mix.cc7_gain_db(value)) == value


# --- the composed file ---------------------------------------------------------------------------


@pytest.mark.parametrize("genre", GENRES)
def test_bass_and_drums_are_centred_and_no_channel_sends_to_the_chorus(genre: str) -> None:
    controls = setup_controls(compose(params(genre, 0), features(True)))
    assert controls["Bass"][mix.PAN] == [mix.CENTRE]
    if "Drums" in controls:
        assert controls["Drums"][mix.PAN] == [mix.CENTRE]
    for name, ccs in controls.items():
        assert ccs[mix.NRPN_MSB] == [mix.SF2_NRPN], name
        assert ccs[mix.NRPN_LSB] == [mix.CHORUS_SEND_GENERATOR], name
        value = (ccs[mix.DATA_MSB][0] << 7) | ccs[mix.DATA_LSB][0]
        assert value - 8192 <= -1000, name  # chorus send offset of -100 % or lower


def test_stereo_sampled_presets_are_panned_further_out_and_the_rhythm_section_never() -> None:
    for part in ("lead", "chords"):
        assert abs(mix.pan(part, 0) - mix.CENTRE) > abs(mix.pan(part, 81) - mix.CENTRE)  # piano vs Saw Lead
    assert mix.pan("lead", 0) > mix.CENTRE > mix.pan("chords", 0)
    for program in (*mix.WIDE_PROGRAMS, 33, None):
        assert mix.pan("bass", program) == mix.pan("drums", program) == mix.CENTRE


def test_the_composed_volumes_are_the_role_tables() -> None:
    p = params("house", 1)
    controls = setup_controls(compose(p, features(False)))
    programs = {**p.instruments, "drums": None}
    expected = mix.volumes("house", programs)
    for part, name in (("lead", "Lead"), ("chords", "Chords"), ("bass", "Bass"), ("drums", "Drums")):
        assert controls[name][mix.VOLUME] == [expected[part]]


# --- real renders --------------------------------------------------------------------------------


def stereo_figures(wav_path: Path) -> tuple[float, float]:
    """(L/R correlation, dB lost when L and R are summed to mono) of a 16-bit stereo WAV."""
    with wave.open(str(wav_path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float64)
    left, right = frames[:, 0], frames[:, 1]
    correlation = float((left * right).sum() / math.sqrt((left * left).sum() * (right * right).sum()))
    stereo = float(((left * left + right * right) / 2).mean())
    mono = float((((left + right) / 2) ** 2).mean())
    return correlation, 10 * math.log10(mono / stereo)


@pytest.mark.fluidsynth
@pytest.mark.parametrize("choice", [0, 1])
@pytest.mark.parametrize("genre", GENRES)
def test_every_genre_survives_mono(genre: str, choice: int, tmp_path: Path) -> None:
    """Choice 0 and 1 between them play every program the catalogue offers."""
    midi = tmp_path / "piece.mid"
    midi.write_bytes(compose(params(genre, choice, seconds=RENDER_SECONDS), features(choice == 1)))
    wav = tmp_path / "piece.wav"
    render(midi, wav, tmp_path / "piece.mp3", duration_seconds=RENDER_SECONDS, soundfont=find_soundfont())
    correlation, loss = stereo_figures(wav)
    assert correlation >= MIN_CORRELATION
    assert loss >= -MAX_MONO_LOSS_DB
