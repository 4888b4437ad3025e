"""soundcanvas.generation.render with the real fluidsynth and lame binaries and a General MIDI SoundFont.

The MIDI files are built here with mido. Nothing is timed.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import threading
import wave
from collections.abc import Sequence
from pathlib import Path

import mido
import numpy as np
import pytest

from soundcanvas.core.errors import RenderFailed
from soundcanvas.generation import render as render_module
from soundcanvas.generation.render import (
    CEILING_INT16,
    INT16_FULL_SCALE,
    TARGET_RMS_DBFS,
    RenderResult,
    bare_render_then_encode,
    find_soundfont,
    render,
)

pytestmark = pytest.mark.fluidsynth

SAMPLE_RATE = 44100
LOUDNESS_TOLERANCE_DB = 3.0  # what render() guarantees between dense and sparse pieces
NEAR_SILENCE = 10 ** (-40 / 20) * INT16_FULL_SCALE  # -40 dBFS


# --- MIDI files ------------------------------------------------------------------------------


def _track(program: int, channel: int, notes: Sequence[tuple[float, float, int, int]], tempo_bpm: float) -> mido.MidiTrack:
    """A track from (start_beat, length_beats, note, velocity) tuples."""
    ticks = 480
    events: list[tuple[int, int, mido.Message]] = []
    for start, length, note, velocity in notes:
        on, off = round(start * ticks), round((start + length) * ticks)
        events.append((on, 1, mido.Message("note_on", channel=channel, note=note, velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    if channel != 9:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def _save(path: Path, tracks: list[mido.MidiTrack]) -> Path:
    midi = mido.MidiFile(ticks_per_beat=480, type=1)
    midi.tracks.extend(tracks)
    midi.save(path)
    return path


def dense_piece(path: Path, seconds: float, bpm: float = 128) -> Path:
    """Bass, pad chords, a busy lead and drums (channel 9), loud."""
    rnd = random.Random(7)
    beats = int(seconds * bpm / 60)
    bass = [(b / 2, 0.45, 36 + rnd.choice((0, 3, 7, 12)), 110) for b in range(beats * 2)]
    pads = [(b, 3.8, n, 95) for b in range(0, beats, 4) for n in (60, 63, 67, 70)]
    lead = [(b / 4, 0.2, 72 + rnd.choice((0, 2, 3, 5, 7, 10, 12)), 110) for b in range(beats * 4)]
    drums = [(b / 4, 0.1, 42, 100) for b in range(beats * 4)]
    drums += [(b, 0.1, 36, 120) for b in range(beats)] + [(b + 1, 0.1, 38, 115) for b in range(0, beats - 1, 2)]
    return _save(
        path,
        [
            _track(38, 0, bass, bpm),
            _track(89, 1, pads, bpm),
            _track(81, 2, lead, bpm),
            _track(30, 3, [(b, 0.9, 52, 100) for b in range(beats)], bpm),
            _track(0, 9, drums, bpm),
        ],
    )


def sparse_piece(path: Path, seconds: float, bpm: float = 70) -> Path:
    """A single soft piano line with rests: ~40 dB quieter than the dense piece as FluidSynth plays it."""
    rnd = random.Random(3)
    beats = int(seconds * bpm / 60)
    notes = [(b, 1.5, 60 + rnd.choice((0, 2, 4, 7, 9)), 40) for b in range(0, beats, 2)]
    return _save(path, [_track(0, 0, notes, bpm)])


def held_note_piece(path: Path, seconds: float) -> Path:
    """One string chord held for `seconds` (longer than what is rendered)."""
    bpm = 60
    return _save(path, [_track(48, 0, [(0, seconds, n, 100) for n in (48, 55, 64)], bpm)])


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def soundfont() -> Path:
    return find_soundfont()


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        frames = np.frombuffer(wav.readframes(params.nframes), dtype="<i2").reshape(-1, params.nchannels)
    return params, frames


def rms_dbfs(samples: np.ndarray) -> float:
    return 20 * math.log10(math.sqrt(float(np.square(samples, dtype=np.float64).mean())) / INT16_FULL_SCALE)


def leftovers(directory: Path) -> list[str]:
    """Files render() may have left behind in a directory (finished or temporary)."""
    return sorted(p.name for p in directory.iterdir() if p.suffix in {".wav", ".mp3", ".part"})


def pipe_threads() -> list[str]:
    """render()'s pipe threads still alive."""
    return [t.name for t in threading.enumerate() if t.name in {"synth-reader", "encoder-feed"}]


def own_tool_processes() -> list[str]:
    """fluidsynth/lame processes (running or zombie) whose parent is this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and name in {"fluidsynth", "lame"}:
            found.append(f"{name} ({fields[0]})")
    return found


def render_piece(midi: Path, out: Path, soundfont: Path, seconds: float, fade_seconds: float = 1.5) -> RenderResult:
    return render(
        midi,
        out / "output.wav",
        out / "preview.mp3",
        duration_seconds=seconds,
        soundfont=soundfont,
        fade_seconds=fade_seconds,
    )


# --- output format, length, level, fade ----------------------------------------------------


Rendered = tuple[RenderResult, Path, float]  # result, output folder, requested duration


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory, soundfont: Path) -> Rendered:
    """30 s: longer than the leveler's analysis (10 s here), so most of it streams through."""
    out = tmp_path_factory.mktemp("dense")
    return render_piece(dense_piece(out / "dense.mid", 32), out, soundfont, 30.0), out, 30.0


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory, soundfont: Path) -> Rendered:
    """10 s: shorter than the analysis, so the whole piece is measured before it is written."""
    out = tmp_path_factory.mktemp("sparse")
    return render_piece(sparse_piece(out / "sparse.mid", 12), out, soundfont, 10.0), out, 10.0


@pytest.mark.parametrize("piece", ["dense", "sparse"])
def test_output_is_16_bit_stereo_wav_of_exact_length(piece: str, request: pytest.FixtureRequest) -> None:
    result, out, seconds = request.getfixturevalue(piece)
    params, frames = read_wav(out / "output.wav")
    assert (params.framerate, params.nchannels, params.sampwidth) == (SAMPLE_RATE, 2, 2)
    assert abs(params.nframes - seconds * SAMPLE_RATE) <= 1
    assert len(frames) == params.nframes
    assert result.duration_seconds == pytest.approx(seconds, abs=1 / SAMPLE_RATE)
    assert result.wav_bytes == (out / "output.wav").stat().st_size == 44 + params.nframes * 4
    assert result.preview_bytes == (out / "preview.mp3").stat().st_size > 0
    assert leftovers(out) == ["output.wav", "preview.mp3"]


@pytest.mark.parametrize("piece", ["dense", "sparse"])
def test_output_is_loud_enough_and_peaks_stay_under_the_ceiling(piece: str, request: pytest.FixtureRequest) -> None:
    result, out, _ = request.getfixturevalue(piece)
    _, frames = read_wav(out / "output.wav")
    peak = int(np.abs(frames.astype(np.int32)).max())
    assert peak <= 10 ** (-1 / 20) * 32767
    assert peak <= CEILING_INT16
    assert rms_dbfs(frames) > -30.0
    assert result.peak_dbfs <= -1.0
    assert result.peak_dbfs == pytest.approx(20 * math.log10(peak / INT16_FULL_SCALE), abs=0.01)
    assert result.rms_dbfs == pytest.approx(rms_dbfs(frames), abs=0.01)


def test_dense_and_sparse_pieces_land_at_similar_loudness(dense: Rendered, sparse: Rendered) -> None:
    dense_rms, sparse_rms = dense[0].rms_dbfs, sparse[0].rms_dbfs
    assert abs(dense_rms - sparse_rms) <= LOUDNESS_TOLERANCE_DB
    for level in (dense_rms, sparse_rms):
        assert abs(level - TARGET_RMS_DBFS) <= LOUDNESS_TOLERANCE_DB


@pytest.mark.parametrize("piece", ["dense", "sparse"])
def test_piece_fades_to_silence_at_the_end(piece: str, request: pytest.FixtureRequest) -> None:
    _, out, _ = request.getfixturevalue(piece)
    _, frames = read_wav(out / "output.wav")
    last_50ms = frames[-SAMPLE_RATE // 20 :]
    assert np.abs(last_50ms.astype(np.int32)).max() < NEAR_SILENCE
    assert frames[-1].tolist() == [0, 0]


@pytest.mark.parametrize("piece", ["dense", "sparse"])
def test_preview_decodes_to_the_same_duration(piece: str, request: pytest.FixtureRequest) -> None:
    _, out, seconds = request.getfixturevalue(piece)
    decoded = out / "decoded.wav"
    subprocess.run(["lame", "--silent", "--decode", str(out / "preview.mp3"), str(decoded)], check=True)
    with wave.open(str(decoded), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == SAMPLE_RATE
        assert wav.getnframes() / SAMPLE_RATE == pytest.approx(seconds, abs=0.2)
    decoded.unlink()


# --- trimming and padding ------------------------------------------------------------------


def test_note_held_past_the_end_is_cut_at_the_duration_with_a_fade(tmp_path: Path, soundfont: Path) -> None:
    midi = held_note_piece(tmp_path / "held.mid", 20.0)
    render_piece(midi, tmp_path, soundfont, 3.0, fade_seconds=1.0)
    _, frames = read_wav(tmp_path / "output.wav")
    assert abs(len(frames) - 3 * SAMPLE_RATE) <= 1
    assert rms_dbfs(frames[SAMPLE_RATE : 2 * SAMPLE_RATE]) > -30.0  # still sounding before the fade
    assert np.abs(frames[-SAMPLE_RATE // 20 :].astype(np.int32)).max() < NEAR_SILENCE


def test_piece_shorter_than_the_duration_is_padded_with_silence(tmp_path: Path, soundfont: Path) -> None:
    midi = _save(tmp_path / "short.mid", [_track(0, 0, [(0, 0.5, 60, 100), (1, 0.5, 64, 100)], 120)])
    result = render_piece(midi, tmp_path, soundfont, 6.0)
    _, frames = read_wav(tmp_path / "output.wav")
    assert abs(len(frames) - 6 * SAMPLE_RATE) <= 1
    assert result.duration_seconds == pytest.approx(6.0)
    assert rms_dbfs(frames[: SAMPLE_RATE // 2]) > -40.0
    assert np.abs(frames[-2 * SAMPLE_RATE :].astype(np.int32)).max() < NEAR_SILENCE


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a MIDI file" * 20, id="not-midi"),
        pytest.param(
            b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00" + b"\xf4\xf5garbage" * 30, id="bad-events"
        ),
        pytest.param(None, id="truncated"),
    ],
)
def test_corrupt_midi_fails_and_leaves_no_files(tmp_path: Path, soundfont: Path, content: bytes | None) -> None:
    midi = tmp_path / "broken.mid"
    if content is None:
        whole = dense_piece(tmp_path / "whole.mid", 10).read_bytes()
        content = whole[: len(whole) // 3]
    midi.write_bytes(content)
    with pytest.raises(RenderFailed):
        render_piece(midi, tmp_path, soundfont, 5.0)
    assert leftovers(tmp_path) == []
    assert own_tool_processes() == []
    assert pipe_threads() == []


def test_midi_without_notes_is_a_failure_not_a_silent_file(tmp_path: Path, soundfont: Path) -> None:
    midi = _save(tmp_path / "empty.mid", [_track(0, 0, [], 120)])
    with pytest.raises(RenderFailed, match="silence"):
        render_piece(midi, tmp_path, soundfont, 3.0)
    assert leftovers(tmp_path) == []


def test_encoder_failure_leaves_no_wav_behind(tmp_path: Path, soundfont: Path) -> None:
    midi = sparse_piece(tmp_path / "sparse.mid", 4)
    with pytest.raises(RenderFailed, match="lame"):
        render(
            midi, tmp_path / "output.wav", tmp_path / "missing" / "preview.mp3", duration_seconds=4.0, soundfont=soundfont
        )
    assert leftovers(tmp_path) == []
    assert own_tool_processes() == []
    assert pipe_threads() == []


def test_missing_soundfont_fails_with_an_actionable_message(tmp_path: Path) -> None:
    midi = sparse_piece(tmp_path / "sparse.mid", 4)
    with pytest.raises(RenderFailed, match="fluid-soundfont-gm"):
        render_piece(midi, tmp_path, tmp_path / "missing.sf2", 3.0)
    assert leftovers(tmp_path) == []
    with pytest.raises(RenderFailed, match="not a SoundFont"):
        render_piece(midi, tmp_path, midi, 3.0)


def test_find_soundfont_prefers_explicit_then_environment_then_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, soundfont: Path
) -> None:
    monkeypatch.setenv("SOUNDFONT_PATH", str(soundfont))
    assert find_soundfont() == soundfont
    assert find_soundfont(str(soundfont)) == soundfont
    with pytest.raises(RenderFailed, match=r"apt-get install fluid-soundfont-gm"):
        find_soundfont(str(tmp_path / "nope.sf2"))
    monkeypatch.setenv("SOUNDFONT_PATH", str(tmp_path / "nope.sf2"))
    with pytest.raises(RenderFailed, match="SOUNDFONT_PATH"):
        find_soundfont()
    monkeypatch.delenv("SOUNDFONT_PATH")
    monkeypatch.setattr(render_module, "SOUNDFONT_DIRS", (tmp_path,))
    with pytest.raises(RenderFailed, match=r"no General MIDI SoundFont found .*apt-get install fluid-soundfont-gm"):
        find_soundfont()
    (tmp_path / "TimGM6mb.sf2").write_bytes(b"RIFF")
    (tmp_path / "FluidR3_GM.sf2").write_bytes(b"RIFF")
    assert find_soundfont() == tmp_path / "FluidR3_GM.sf2"


@pytest.mark.parametrize("tool, package", [("fluidsynth", "fluidsynth"), ("lame", "lame")])
def test_missing_tool_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, soundfont: Path, tool: str, package: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for other in {"fluidsynth", "lame"} - {tool}:
        (bin_dir / other).symlink_to(subprocess.check_output(["which", other], text=True).strip())
    monkeypatch.setenv("PATH", str(bin_dir))
    midi = sparse_piece(tmp_path / "sparse.mid", 4)
    with pytest.raises(RenderFailed, match=f"apt-get install {package}"):
        render_piece(midi, tmp_path, soundfont, 3.0)
    assert leftovers(tmp_path) == []


# --- the limiter on its own ----------------------------------------------------------------


def test_limiter_holds_the_ceiling_and_leaves_quiet_audio_untouched() -> None:
    rng = np.random.default_rng(1)
    limiter = render_module._Limiter(SAMPLE_RATE, 0.5)
    quiet = (rng.uniform(-0.3, 0.3, (40000, 2))).astype(np.float32)
    loud = quiet.copy()
    loud[5000:5100] *= 10.0  # a burst 16 dB over the ceiling
    loud[12345] = [4.0, -4.0]  # a single-sample spike
    blocks = [loud[i : i + 4096] for i in range(0, len(loud), 4096)] + [np.zeros((limiter.delay, 2), np.float32)]
    out = np.concatenate([limiter.process(b) for b in blocks])
    assert out.shape == loud.shape
    assert np.abs(out).max() <= 0.5 * (1 + 1e-6)
    assert np.array_equal(out[:4000], loud[:4000])  # nothing to limit yet: bit-identical
    # 18 dB over the ceiling releases at LIMITER_RELEASE_DB_PER_S (0.45 s at 40 dB/s): untouched again after that
    assert np.array_equal(out[-4000:], loud[-4000:])
    assert np.abs(out[5000:5100]).max() > 0.45  # the burst is limited, not muted

    untouched = render_module._Limiter(SAMPLE_RATE, 0.5)
    passed = np.concatenate(
        [untouched.process(b) for b in [quiet[:7000], quiet[7000:], np.zeros((untouched.delay, 2), np.float32)]]
    )
    assert np.array_equal(passed, quiet)


# --- the benchmark baseline ----------------------------------------------------------------


def test_bare_render_then_encode_writes_both_files(tmp_path: Path, soundfont: Path) -> None:
    midi = sparse_piece(tmp_path / "sparse.mid", 3)
    seconds = bare_render_then_encode(midi, tmp_path / "bare.wav", tmp_path / "bare.mp3", soundfont=soundfont)
    assert seconds > 0
    with wave.open(str(tmp_path / "bare.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (SAMPLE_RATE, 2)
    assert (tmp_path / "bare.mp3").stat().st_size > 0
