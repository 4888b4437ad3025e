"""soundcanvas.maps.fingerprints on real audio: random band MIDIs rendered by FluidSynth (also used by test_fpindex)."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from soundcanvas.maps.fingerprints import (
    ITEM_SECONDS,
    WARM_UP_ITEMS,
    Alignment,
    FingerprintError,
    best_alignment,
    duplicate_kind,
    fingerprint_pcm16,
    fingerprint_samples,
    from_bytes,
    min_audio_seconds,
    speed_variants,
    speeds,
    to_bytes,
    to_text,
    track_similarity,
)

pytestmark = pytest.mark.fluidsynth


SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE_HZ = 22050
SONG_PLAN = {"a": (101, 48.0), "b": (202, 46.0), "c": (303, 50.0), "unknown": (404, 47.0), "short": (505, 30.0)}


@dataclass(frozen=True)
class Rendered:
    name: str
    samples: np.ndarray  # mono float32 at RATE_HZ
    path: Path  # the mono WAV


def random_song_midi(seed: int, seconds: float) -> mido.MidiFile:
    """Random chords, a random melody, a bass line and a drum groove: different for every seed.

    Random on purpose: folk tunes repeat their parts note for note, so a snippet would match two offsets
    equally well and an offset check could not tell right from wrong."""
    rng = np.random.default_rng(seed)
    tpb = 480
    bpm = int(rng.integers(90, 150))
    beats = int(seconds * bpm / 60) + 2
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)]))

    def track(channel: int, program: int, notes: list[tuple[int, int, int, int]]) -> mido.MidiTrack:
        events = []
        for start, length, pitch, velocity in notes:
            events.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            events.append((start + length, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        out = mido.MidiTrack([mido.Message("program_change", channel=channel, program=program, time=0)])
        now = 0
        for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            out.append(msg.copy(time=t - now))
            now = t
        return out

    root = int(rng.integers(48, 60))
    chords, melody, bass, drums = [], [], [], []
    for bar in range(beats // 4 + 1):
        chord_root = root + int(rng.choice([0, 2, 4, 5, 7, 9]))
        for step in (0, 3, 7):
            chords.append((bar * 4 * tpb, 4 * tpb - 10, chord_root + step, 60))
        bass.append((bar * 4 * tpb, 2 * tpb, chord_root - 12, 80))
        bass.append((bar * 4 * tpb + 2 * tpb, 2 * tpb, chord_root - 12 + int(rng.choice([0, 7, 12])), 80))
    t = 0
    while t < beats * tpb:
        length = int(rng.choice([tpb // 2, tpb, tpb // 4, 3 * tpb // 2]))
        melody.append((t, length - 5, root + 12 + int(rng.integers(0, 15)), int(rng.integers(70, 110))))
        t += length
    for beat in range(beats):
        drums.append((beat * tpb, tpb // 4, 36 if beat % 2 == 0 else 38, 100))
        for sub in (0, tpb // 2):
            drums.append((beat * tpb + sub, tpb // 4, 42, int(rng.integers(50, 80))))
    programs = rng.choice([0, 4, 19, 24, 48, 56, 65, 73, 80], size=2, replace=False)
    midi.tracks.append(track(0, int(programs[0]), chords))
    midi.tracks.append(track(1, int(programs[1]), melody))
    midi.tracks.append(track(2, int(rng.choice([32, 33, 34, 38])), bass))
    midi.tracks.append(track(9, 0, drums))
    return midi


def render(midi: mido.MidiFile, directory: Path, name: str) -> Rendered:
    mid, wav = directory / f"{name}.mid", directory / f"{name}.stereo.wav"
    midi.save(mid)
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-F", str(wav), "-r", str(RATE_HZ), str(SOUNDFONT),
                    str(mid)], check=True, capture_output=True)
    stereo, _ = sf.read(wav, dtype="float32")
    mono = stereo.mean(axis=1).astype(np.float32)
    mono = (mono / max(1e-6, float(np.abs(mono).max())) * 0.9).astype(np.float32)
    path = directory / f"{name}.wav"
    sf.write(path, mono, RATE_HZ, subtype="PCM_16")
    mono, _ = sf.read(path, dtype="float32")  # what a decoder of the stored file gives
    return Rendered(name, mono, path)


def transcode(path: Path, suffix: str, codec: list[str]) -> np.ndarray:
    """The file through a lossy encoder and back, decoded by ffmpeg to mono float32 at RATE_HZ."""
    target = path.with_suffix(suffix)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), *codec, str(target)], check=True, capture_output=True)
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(target), "-ac", "1", "-ar", str(RATE_HZ), "-f", "f32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(pcm, dtype=np.float32).copy()


@functools.cache
def rendered_songs() -> dict[str, Rendered]:
    """Four 45-50 s random songs ("a", "b", "c" get indexed by the tests, "unknown" never does) and a 30 s
    one, rendered once per process (about 3 s) and shared by test_fpindex.py."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists() or shutil.which("ffmpeg") is None:
        pytest.skip("needs fluidsynth, FluidR3_GM.sf2 and ffmpeg")
    directory = Path(tempfile.mkdtemp(prefix="maps-fp-audio-"))
    return {name: render(random_song_midi(seed, seconds), directory, name) for name, (seed, seconds) in SONG_PLAN.items()}


@functools.cache
def rendered_mp3() -> dict[str, np.ndarray]:
    """Each song's whole file through MP3 128k and back."""
    return {name: transcode(song.path, ".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"])
            for name, song in rendered_songs().items()}


@pytest.fixture(scope="module")
def songs() -> dict[str, Rendered]:
    return rendered_songs()


@pytest.fixture(scope="module")
def song_mp3() -> dict[str, np.ndarray]:
    return rendered_mp3()


def snippet(samples: np.ndarray, start_seconds: float, seconds: float) -> np.ndarray:
    return samples[int(start_seconds * RATE_HZ):int((start_seconds + seconds) * RATE_HZ)]


def degrade(audio: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    if how == "quieter-10dB":
        return (audio * 10 ** (-10 / 20)).astype(np.float32)
    if how == "noise-10dB-SNR":
        power = float(np.mean(audio.astype(np.float64) ** 2))
        return (audio + rng.normal(0, np.sqrt(power / 10), audio.size)).astype(np.float32)
    return audio


def test_items_follow_chromaprint_hop(songs: dict[str, Rendered]) -> None:
    song = songs["a"]
    items = fingerprint_samples(song.samples, RATE_HZ)
    expected = song.samples.size / RATE_HZ / ITEM_SECONDS - WARM_UP_ITEMS
    assert items.dtype == np.uint32
    assert abs(items.size - expected) <= 2


def test_chunks_of_any_size_give_the_whole_recordings_items(songs: dict[str, Rendered]) -> None:
    """The Fingerprint function feeds a long recording a chunk at a time (fingerprint_pcm16): the items, the length
    and the refusals are those of the whole array."""
    pcm = (np.clip(songs["a"].samples, -1, 1) * 32767).astype(np.int16)
    whole = fingerprint_samples(pcm, RATE_HZ)
    for chunk in (1_000, 70_001):  # smaller and larger than the slices Chromaprint is fed, and not aligned to them
        items, seconds = fingerprint_pcm16((pcm[i:i + chunk] for i in range(0, pcm.size, chunk)), RATE_HZ)
        assert np.array_equal(items, whole) and seconds == pcm.size / RATE_HZ
    with pytest.raises(FingerprintError, match="silent"):
        fingerprint_pcm16([np.zeros(10 * RATE_HZ, np.int16)] * 3, RATE_HZ)
    with pytest.raises(FingerprintError, match="at least"):
        fingerprint_pcm16([pcm[:RATE_HZ], pcm[RATE_HZ:2 * RATE_HZ]], RATE_HZ)


def test_sample_rate_does_not_change_the_fingerprint(songs: dict[str, Rendered]) -> None:
    """Callers may decode at any rate: Chromaprint resamples to 11,025 Hz itself."""
    song = songs["b"].samples
    at_22k = fingerprint_samples(song, RATE_HZ)
    at_44k = fingerprint_samples(resample_poly(song, 2, 1).astype(np.float32), 2 * RATE_HZ)
    alignment = best_alignment(at_44k, at_22k)
    assert alignment.offset_items == 0
    assert alignment.bit_error_rate < 0.03


@pytest.mark.parametrize("how", ["clean", "mp3-128k", "quieter-10dB", "noise-10dB-SNR"])
@pytest.mark.parametrize("seconds", [5, 10])
def test_snippet_aligns_with_its_song(songs: dict[str, Rendered], song_mp3: dict[str, np.ndarray], how: str,
                                      seconds: int) -> None:
    rng = np.random.default_rng(seconds)
    start = float(rng.uniform(2, 30))
    source = song_mp3["c"] if how == "mp3-128k" else songs["c"].samples
    query = fingerprint_samples(degrade(snippet(source, start, seconds), how, rng), RATE_HZ)
    full = fingerprint_samples(songs["c"].samples, RATE_HZ)
    found = best_alignment(query, full, min_overlap_items=query.size)
    assert abs(found.offset_seconds - start) <= 0.5
    assert found.bit_error_rate < 0.2
    others = [best_alignment(query, fingerprint_samples(songs[name].samples, RATE_HZ), min_overlap_items=query.size)
              for name in ("a", "unknown")]
    assert min(o.bit_error_rate for o in others) > found.bit_error_rate + 0.1


def played_at(audio: np.ndarray, speed: float) -> np.ndarray:
    """`audio` as a copy playing `speed` times as fast (pitch and tempo: resampled), at the same rate."""
    return resample_poly(audio, 1000, round(1000 * speed)).astype(np.float32)


def test_speeds_reach_four_percent_both_ways_nearest_first() -> None:
    found = speeds()
    assert len(found) == 16 and len(set(found)) == 16 and 1.0 not in found
    assert sorted(found) == pytest.approx(sorted(2 - s for s in found))  # as many slower as faster
    assert [round(abs(s - 1), 6) for s in found] == sorted(round(abs(s - 1), 6) for s in found)
    assert min(found) == pytest.approx(0.96) and max(found) == pytest.approx(1.04)


@pytest.mark.parametrize("speed", [0.97, 1.03])
def test_speed_variants_undo_a_speed_change(songs: dict[str, Rendered], speed: float) -> None:
    """A 10 s snippet played 3 % slow or fast: its plain items are far from the song's, the variant at its speed
    as close as a snippet's (BER < 0.1), and it says where in the song the snippet starts (+-0.5 s)."""
    start = 12.0
    part = snippet(songs["a"].samples, start, 10 * speed)
    full = fingerprint_samples(songs["a"].samples, RATE_HZ)
    changed = played_at(part, speed)
    plain = best_alignment(fingerprint_samples(changed, RATE_HZ), full, min_overlap_items=40)
    by_speed = {s: best_alignment(items, full, min_overlap_items=40) for s, items in speed_variants(changed, RATE_HZ)}
    found = by_speed[speed]
    assert plain.bit_error_rate > 0.25
    assert found.bit_error_rate < 0.1
    assert abs(found.offset_seconds - start) <= 0.5
    assert min(by_speed, key=lambda s: by_speed[s].bit_error_rate) == speed


def test_speed_variants_leave_out_the_speeds_the_audio_is_too_short_for(songs: dict[str, Rendered]) -> None:
    """Just over the shortest audio Chromaprint can use: slowed down (told a higher rate) it is too short, and those
    speeds are left out instead of failing the search."""
    part = snippet(songs["a"].samples, 10.0, min_audio_seconds() + 0.1)
    fingerprint_samples(part, RATE_HZ)  # the plain fingerprint passes
    kept = [speed for speed, _ in speed_variants(part, RATE_HZ)]
    assert kept and set(kept) < set(speeds())
    assert all(speed >= 0.98 for speed in kept) and 1.04 in kept


def test_best_alignment_equals_brute_force() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 2**32, 300, dtype=np.uint32)
    query = reference[120:180].copy()
    query ^= (rng.random(query.size) < 0.3).astype(np.uint32) << rng.integers(0, 32, query.size).astype(np.uint32)

    def naive(q: np.ndarray, r: np.ndarray, low: int, high: int, min_overlap: int) -> Alignment:
        best = Alignment(1.0, 0, 0)
        for offset in range(low, high + 1):
            pairs = [(q[i], r[offset + i]) for i in range(q.size) if 0 <= offset + i < r.size]
            if len(pairs) < min_overlap:
                continue
            errors = sum(bin(int(a) ^ int(b)).count("1") for a, b in pairs)
            rate = errors / (32 * len(pairs))
            if rate < best.bit_error_rate:
                best = Alignment(rate, offset, len(pairs))
        return best

    full = best_alignment(query, reference, min_overlap_items=20)
    assert full == naive(query, reference, -query.size, reference.size, 20)
    assert full.offset_items == 120
    near = best_alignment(query, reference, max_offset_items=5, center_offset_items=-30, min_overlap_items=20)
    assert near == naive(query, reference, -35, -25, 20)
    assert near.offset_items != 120  # the window excludes the true offset, so something worse is found


def test_bytes_round_trip_is_exact_and_compact(songs: dict[str, Rendered]) -> None:
    items = fingerprint_samples(songs["a"].samples, RATE_HZ)
    data = to_bytes(items)
    assert np.array_equal(from_bytes(data), items)
    assert len(data) < 4 * items.size  # Chromaprint's encoding is smaller than raw uint32
    assert np.array_equal(from_bytes(to_text(items).encode()), items)
    with pytest.raises(FingerprintError):
        from_bytes(b"")


def test_refuses_short_and_silent_audio() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(FingerprintError, match="at least") as short:
        fingerprint_samples(rng.normal(0, 0.1, 2 * RATE_HZ).astype(np.float32), RATE_HZ)
    assert isinstance(short.value, ValueError)
    with pytest.raises(FingerprintError, match="silent"):
        fingerprint_samples(np.zeros(20 * RATE_HZ, np.float32), RATE_HZ)
    with pytest.raises(FingerprintError, match="mono"):
        fingerprint_samples(np.zeros((20 * RATE_HZ, 2), np.float32), RATE_HZ)


def test_duplicate_kind_and_similarity(songs: dict[str, Rendered], song_mp3: dict[str, np.ndarray], tmp_path: Path) -> None:
    song = songs["b"]
    original = fingerprint_samples(song.samples, RATE_HZ)
    flac = tmp_path / "copy.flac"
    sf.write(flac, song.samples, RATE_HZ)
    lossless = fingerprint_samples(sf.read(flac, dtype="float32")[0], RATE_HZ)
    mp3 = fingerprint_samples(song_mp3["b"], RATE_HZ)
    ogg = fingerprint_samples(transcode(song.path, ".ogg", ["-c:a", "libvorbis", "-q:a", "4"]), RATE_HZ)
    for copy, kind in ((lossless, "same-recording"), (mp3, "different-encoding"), (ogg, "different-encoding")):
        alignment = best_alignment(copy, original, max_offset_items=80)
        assert duplicate_kind(alignment.bit_error_rate) == kind, alignment
    assert track_similarity(mp3, original) > 0.8
    assert track_similarity(fingerprint_samples(songs["a"].samples, RATE_HZ), original) < 0.5
