"""soundcanvas.core.audio with the real ffmpeg and ffprobe (no mocks of them).

Inputs are a few seconds of sine tones written by libsndfile (WAV) and turned into FLAC and MP3
by ffmpeg; the rejections use real bytes of other formats. The product needs ffmpeg: without it
these tests fail, they are not skipped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from soundcanvas.core import audio
from soundcanvas.core.audio import failure_reason, sniff, too_long_message
from soundcanvas.core.errors import AudioRejected, ToolFailed

SAMPLE_RATE_HZ = 22050  # Listen's rate; Maps decodes the same way at its own


def decode(path: Path, **limits: float) -> np.ndarray:
    return audio.decode(path, sample_rate_hz=SAMPLE_RATE_HZ, **limits)

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
    "010100c9fe92ef0000000049454e44ae426082"
)
LEFT_AMPLITUDE, RIGHT_AMPLITUDE = 0.5, 0.3
TONE_HZ = 440.0


def stereo_tone(seconds: float, rate: int = 44100) -> np.ndarray:
    """A 440 Hz sine, louder on the left than on the right (the same phase on both)."""
    t = np.arange(round(seconds * rate)) / rate
    sine = np.sin(2 * np.pi * TONE_HZ * t)
    return np.stack([LEFT_AMPLITUDE * sine, RIGHT_AMPLITUDE * sine], axis=1).astype(np.float32)


def write_audio(path: Path, seconds: float = 3.0) -> Path:
    """`path` in the format its suffix names: WAV by libsndfile, the others from it by ffmpeg."""
    wav = path.with_suffix(".wav")
    soundfile.write(wav, stereo_tone(seconds), 44100, subtype="PCM_16")
    if path.suffix != ".wav":
        codec = {".flac": ["-c:a", "flac"], ".mp3": ["-c:a", "libmp3lame", "-b:a", "192k"]}[path.suffix]
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *codec, str(path)], check=True)
        wav.unlink()
    return path


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


# --- sniff -------------------------------------------------------------------------------------


@pytest.mark.parametrize("head, name", [
    (b"fLaC\x00\x00\x00\x22", "flac"),
    (b"ID3\x03\x00\x00\x00\x00", "mp3"),
    (b"\xff\xfb\x90\x64\x00\x00", "mp3"),  # an MPEG-1 Layer III frame header, no tag
    (b"OggS\x00\x02\x00\x00", "ogg"),
    (b"RIFF\x24\x08\x00\x00WAVEfmt ", "wav"),
    (b"FORM\x00\x00\x10\x00AIFFCOMM", "aiff"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a"),
])
def test_sniff_names_the_accepted_formats(head: bytes, name: str) -> None:
    assert sniff(head) == name
    assert name in audio.ACCEPTED_FORMATS


@pytest.mark.parametrize("head, said", [
    (PNG_1PX, "not an audio file: got PNG data"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "not an audio file: got JPEG data"),
    (b"GIF89a\x01\x00\x01\x00", "not an audio file: got GIF data"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "not an audio file: got PDF data"),
    (b"PK\x03\x04\x14\x00\x06\x00", "not an audio file: got ZIP data"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "not an audio file: got a MIDI file; upload a recording"),
    (b"<!DOCTYPE html>\n<html><head>", "not an audio file: got an HTML page"),
    (b"Title,Artist\nSong,Band\n", "not an audio file: got text"),
    ("caf\u00e9 au lait".encode()[:4], "not an audio file: got text"),  # a character cut at the end
    (b"\x00\x01\x02\x03\x04\x05\x06\x07", "not an audio file: got unrecognised data"),
    (b"\xff\xf1\x50\x80\x02\x1f\xfc", "raw AAC (ADTS)"),
    (b"", "the file is empty"),
])
def test_sniff_rejects_what_is_not_audio_and_says_what_it_is(head: bytes, said: str) -> None:
    with pytest.raises(AudioRejected) as caught:
        sniff(head)
    assert str(caught.value).startswith(said) or said in str(caught.value)


# --- decode: what comes out --------------------------------------------------------------------


@pytest.mark.parametrize("suffix, tolerance_seconds", [(".wav", 0.001), (".flac", 0.001), (".mp3", 0.06)])
def test_decode_gives_mono_float32_at_22050_hz_of_the_right_length(
        tmp_path: Path, suffix: str, tolerance_seconds: float) -> None:
    samples = decode(write_audio(tmp_path / f"tone{suffix}", seconds=3.0))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.flags.writeable
    assert abs(samples.size / SAMPLE_RATE_HZ - 3.0) <= tolerance_seconds  # MP3: the encoder's delay and padding
    middle = samples[SAMPLE_RATE_HZ // 2 : SAMPLE_RATE_HZ * 5 // 2]
    assert abs(dominant_hz(middle, SAMPLE_RATE_HZ) - TONE_HZ) < 1.0  # the rate is what the array claims
    # The down-mix is the mean of the channels (0.4 here), not ffmpeg's -3 dB sum (0.57).
    peak = float(np.max(np.abs(middle)))
    assert peak == pytest.approx((LEFT_AMPLITUDE + RIGHT_AMPLITUDE) / 2, abs=0.02)


# --- decode: rejections ------------------------------------------------------------------------


@pytest.mark.parametrize("content, said", [
    (PNG_1PX, "not an audio file: got PNG data"),
    (b"just some notes I wrote down\n", "not an audio file: got text"),
    (b"", "the file is empty"),
])
def test_decode_rejects_files_that_are_not_audio(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "upload.mp3"  # the name claims MP3: the bytes decide
    path.write_bytes(content)
    with pytest.raises(AudioRejected, match=said):
        decode(path)


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".wav"])
def test_decode_rejects_a_truncated_file(tmp_path: Path, suffix: str) -> None:
    whole = write_audio(tmp_path / f"whole{suffix}", seconds=6.0).read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(AudioRejected) as caught:
        decode(cut)
    message = str(caught.value)
    assert message.startswith("the audio could not be decoded: ")
    assert "truncated" in message
    assert str(tmp_path) not in message  # no temporary paths for the uploader


def test_decode_rejects_a_damaged_file_with_ffmpeg_reason(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(b"ID3" + np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioRejected, match=r"^the audio could not be decoded: .+"):
        decode(path)


def test_decode_rejects_a_recording_over_the_limit_before_decoding(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "three.flac", seconds=3.0)
    with pytest.raises(AudioRejected, match=r"^the recording is 3\.0 s long; the limit is 2 s$"):
        decode(path, max_duration_seconds=2.0)
    assert decode(path, max_duration_seconds=4.0).size > 0


def test_decode_rejects_a_recording_too_short_to_transcribe(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "blip.wav", seconds=0.3)
    with pytest.raises(AudioRejected, match=r"too short: 0\.30 s of audio; at least 0\.5 s"):
        decode(path)


def test_decode_stops_at_its_time_limit(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "tone.flac", seconds=3.0)
    with pytest.raises(AudioRejected, match="took longer than"):
        decode(path, timeout_seconds=0.001)


def test_a_missing_ffmpeg_is_our_failure_not_the_uploaders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "FFPROBE_BIN", str(tmp_path / "no-such-ffprobe"))
    with pytest.raises(ToolFailed, match="not installed"):
        decode(write_audio(tmp_path / "tone.wav", seconds=1.0))


# --- pcm16_chunks: the same samples a chunk at a time -------------------------------------------


def chunked(path: Path, **limits: float) -> list[np.ndarray]:
    return list(audio.pcm16_chunks(path, sample_rate_hz=SAMPLE_RATE_HZ, chunk_samples=10_000, **limits))


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_chunks_are_decode_as_int16_in_bounded_pieces(tmp_path: Path, suffix: str) -> None:
    path = write_audio(tmp_path / f"tone{suffix}", seconds=3.0)
    chunks = chunked(path)
    assert len(chunks) > 3 and all(c.dtype == np.int16 and c.size <= 10_000 for c in chunks)
    whole = np.concatenate(chunks)
    floats = decode(path)
    assert whole.size == floats.size
    assert np.max(np.abs(whole / 32768.0 - floats)) < 2e-4  # the same samples, quantized once


def test_chunks_refuse_what_decode_refuses(tmp_path: Path) -> None:
    text = tmp_path / "upload.mp3"
    text.write_bytes(b"just some notes I wrote down\n")
    with pytest.raises(AudioRejected, match="not an audio file: got text"):
        chunked(text)
    whole = write_audio(tmp_path / "whole.flac", seconds=6.0).read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(AudioRejected, match="truncated"):  # learnt after the last chunk
        chunked(cut)
    with pytest.raises(AudioRejected, match=r"the limit is 2 s$"):
        chunked(write_audio(tmp_path / "three.flac", seconds=3.0), max_duration_seconds=2.0)
    with pytest.raises(AudioRejected, match="took longer than"):
        chunked(write_audio(tmp_path / "tone.flac", seconds=3.0), timeout_seconds=0.001)


def test_a_reader_that_stops_early_leaves_no_decoder_running(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "tone.wav", seconds=3.0)
    reader = audio.pcm16_chunks(path, sample_rate_hz=SAMPLE_RATE_HZ, chunk_samples=1_000)
    next(reader)
    reader.close()  # the generator's finally kills and reaps ffmpeg
    children = subprocess.run(["ps", "--ppid", str(os.getpid()), "-o", "comm="], capture_output=True, text=True,
                              check=True).stdout.split()
    assert "ffmpeg" not in children


# --- messages ----------------------------------------------------------------------------------


def test_too_long_message_in_minutes_and_never_equal_to_the_limit() -> None:
    assert too_long_message(14.2 * 60, 600) == "the recording is 14.2 minutes long; the limit is 10 minutes"
    assert too_long_message(600.5, 600) == "the recording is 10.01 minutes long; the limit is 10 minutes"
    assert too_long_message(150, 60) == "the recording is 2.5 minutes long; the limit is 1 minute"


def test_failure_reason_keeps_the_last_meaningful_line_without_addresses_or_paths() -> None:
    path = Path("/tmp/job-123/upload.flac")
    stderr = (b"[flac @ 0x55d0c0a4b2c0] invalid residual\n"
              b"[flac @ 0x55d0c0a4b2c0] decode_frame() failed\n"
              b"/tmp/job-123/upload.flac: Error while decoding stream #0:0\n"
              b"Conversion failed!\n")
    reason = failure_reason(stderr, path)
    assert reason.startswith("the file is truncated or damaged")
    assert reason.endswith("(ffmpeg: Error while decoding stream #0:0)")
    assert "0x55d0" not in reason and "/tmp/job-123" not in reason
    assert failure_reason(b"Conversion failed!\n").startswith("the decoder stopped without naming a problem")
    assert failure_reason(b"something new went wrong\n") == "something new went wrong"
