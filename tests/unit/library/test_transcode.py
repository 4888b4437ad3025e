"""soundcanvas.library.transcode and the TranscodeTrack handler with the real ffmpeg (no mocks of it).

Inputs are a few seconds of a chord, written by libsndfile (FLAC, WAV, AIFF, OGG) or by ffmpeg
(M4A/AAC). The product needs ffmpeg: without it these tests fail, they are not skipped.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode
from mutagen.ogg import OggPage

from soundcanvas.core import storage
from soundcanvas.core.errors import TrackNotFound, TranscodeFailed
from soundcanvas.library import transcode
from soundcanvas.library.transcode import TranscodeResult, bare_transcode, require_tools, tools_missing, transcode_to_mp3
from tests.audiogen import lying_wav
from tests.conftest import FakeContext, load_function

SECONDS = 3.0
DURATION_TOLERANCE_S = 0.06
LEVEL_TOLERANCE_DB = 1.5
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
    "010100c9fe92ef0000000049454e44ae426082"
)


# --- inputs ------------------------------------------------------------------------------------


def chord(seconds: float, rate: int, channels: int) -> np.ndarray:
    """A C major chord with a little noise, each channel a different mix (real stereo), peak < 0.5."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(3)
    columns = []
    for c in range(channels):
        tones = sum(np.sin(2 * np.pi * f * t + c) * (0.15 if i == c % 3 else 0.08)
                    for i, f in enumerate((261.63, 329.63, 392.0)))
        columns.append(tones + 0.01 * rng.standard_normal(t.size))
    return np.stack(columns, axis=1).astype(np.float32)


def write_audio(path: Path, *, rate: int = 44100, channels: int = 2, seconds: float = SECONDS,
                subtype: str | None = None) -> np.ndarray:
    """Write `path` in the format its suffix names; returns the samples written (float, full scale 1)."""
    data = chord(seconds, rate, channels)
    if path.suffix == ".m4a":
        wav = path.with_suffix(".src.wav")
        soundfile.write(wav, data, rate)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "192k",
                        str(path)], check=True)
        wav.unlink()
    else:
        formats = {".flac": "FLAC", ".wav": "WAV", ".aiff": "AIFF", ".ogg": "OGG"}
        soundfile.write(path, data, rate, format=formats[path.suffix], subtype=subtype)
    return data


def decode(mp3: Path, channels: int) -> np.ndarray:
    """The MP3 decoded back to float samples by ffmpeg (which trims the encoder delay and padding)."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(mp3), "-f", "f32le", "-ac", str(channels),
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, channels)


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(samples, dtype=np.float64))))


def children() -> set[str]:
    """Process ids of this process's children that still exist (zombies included)."""
    pid = os.getpid()
    return set(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


# --- transcode_to_mp3 --------------------------------------------------------------------------


def test_ffmpeg_and_ffprobe_are_installed() -> None:
    assert tools_missing() == [], "the product needs ffmpeg: apt-get install ffmpeg"
    assert require_tools().keys() == {"ffmpeg", "ffprobe"}


@pytest.mark.parametrize(
    ("suffix", "rate", "channels", "subtype", "expected_rate", "expected_channels"),
    [
        (".flac", 44100, 2, None, 44100, 2),
        (".wav", 48000, 2, None, 48000, 2),
        (".aiff", 44100, 1, None, 44100, 1),
        (".ogg", 48000, 2, None, 48000, 2),
        (".m4a", 44100, 2, None, 44100, 2),
        (".flac", 32000, 1, None, 32000, 1),
        (".wav", 22050, 2, None, 44100, 2),  # not an MPEG-1 rate: resampled to 44.1 kHz
        (".flac", 96000, 2, "PCM_24", 44100, 2),  # high resolution: resampled, 24 bits reach the encoder
        (".wav", 44100, 6, None, 44100, 2),  # 5.1: down-mixed to stereo
    ],
)
def test_original_becomes_a_320_kbps_cbr_mp3_of_the_same_length_and_level(
    tmp_path: Path, suffix: str, rate: int, channels: int, subtype: str | None, expected_rate: int,
    expected_channels: int,
) -> None:
    src, dst = tmp_path / f"original{suffix}", tmp_path / "audio.mp3"
    samples = write_audio(src, rate=rate, channels=channels, subtype=subtype)

    result = transcode_to_mp3(src, dst)

    info = MP3(dst).info
    assert info is not None
    assert (round(info.bitrate / 1000), info.bitrate_mode) == (320, BitrateMode.CBR)
    assert (info.sample_rate, info.channels) == (expected_rate, expected_channels)
    # Constant bitrate all through: 40,000 bytes a second of audio, plus the tags.
    assert abs(dst.stat().st_size - 40_000 * info.length) < 4_000
    decoded = decode(dst, expected_channels)
    heard = len(decoded) / expected_rate
    assert abs(heard - SECONDS) <= DURATION_TOLERANCE_S, heard
    # mutagen counts whole frames, the encoder's delay and padding included (gapless players trim them).
    assert 0 <= info.length - heard < 2 * 1152 / expected_rate
    assert rms_db(decoded) > -40, "the MP3 is silent"
    if channels == expected_channels:
        assert abs(rms_db(decoded) - rms_db(samples)) <= LEVEL_TOLERANCE_DB
    assert result == TranscodeResult(
        elapsed_ms=result.elapsed_ms, output_bytes=dst.stat().st_size, duration_seconds=info.length,
        sample_rate=expected_rate, channels=expected_channels, bitrate_kbps=320, source_codec=result.source_codec,
    )
    assert result.elapsed_ms > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, dst.name]), "temporary files left behind"


def test_stereo_channels_stay_distinct(tmp_path: Path) -> None:
    src, dst = tmp_path / "original.flac", tmp_path / "audio.mp3"
    write_audio(src)
    transcode_to_mp3(src, dst)
    decoded = decode(dst, 2)
    assert np.abs(decoded[:, 0] - decoded[:, 1]).mean() > 0.01, "left and right were merged"


def test_tags_are_kept_and_cover_art_is_not_encoded(tmp_path: Path) -> None:
    src, dst = tmp_path / "original.flac", tmp_path / "audio.mp3"
    write_audio(src)
    flac = FLAC(src)
    flac["title"], flac["artist"] = "Blue Hour", "Nadia K"
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", PNG_1PX
    flac.add_picture(picture)
    flac.save()

    transcode_to_mp3(src, dst)

    tags = ID3(dst)
    assert (str(tags["TIT2"]), str(tags["TPE1"])) == ("Blue Hour", "Nadia K")
    assert not tags.getall("APIC")
    assert tags.version[:2] == (2, 3)


def test_existing_destination_is_replaced_only_on_success(tmp_path: Path) -> None:
    src, dst = tmp_path / "original.wav", tmp_path / "audio.mp3"
    dst.write_bytes(b"previous")
    src.write_bytes(b"RIFF" + os.urandom(4000))
    with pytest.raises(TranscodeFailed):
        transcode_to_mp3(src, dst)
    assert dst.read_bytes() == b"previous"
    write_audio(src)
    transcode_to_mp3(src, dst)
    assert MP3(dst).info is not None


def _truncated_flac(path: Path) -> None:
    write_audio(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(5).bytes(60_000))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_text("not audio at all\n" * 200)


def _flac_without_frames(path: Path) -> None:
    """A FLAC whose header says 3 s but whose audio frames are all gone: decodes without an error, to nothing."""
    write_audio(path)
    data = path.read_bytes()
    position, last = 4, False  # after "fLaC": metadata blocks, each a 1-byte flag/type and a 3-byte length
    while not last:
        last = bool(data[position] & 0x80)
        position += 4 + int.from_bytes(data[position + 1 : position + 4], "big")
    path.write_bytes(data[:position])


@pytest.mark.parametrize("make", [_truncated_flac, _random_bytes, _empty, _text, _flac_without_frames])
def test_corrupt_input_fails_with_a_readable_message_and_leaves_nothing(tmp_path: Path, make: Any) -> None:
    src, dst = tmp_path / "original.flac", tmp_path / "audio.mp3"
    make(src)
    before = children()

    with pytest.raises(TranscodeFailed) as failure:
        transcode_to_mp3(src, dst)

    message = str(failure.value)
    assert message.startswith("could not decode the audio: "), message
    assert len(message) < 400 and "\n" not in message
    assert " @ 0x" not in message and str(tmp_path) not in message, message
    assert [p.name for p in tmp_path.iterdir()] == [src.name], "a partial file was left behind"
    assert children() <= before


def test_truncated_flac_names_the_decoding_problem(tmp_path: Path) -> None:
    src = tmp_path / "original.flac"
    _truncated_flac(src)
    with pytest.raises(TranscodeFailed, match=r"could not decode the audio: .*(flac|invalid|truncated)"):
        transcode_to_mp3(src, tmp_path / "audio.mp3")


def test_a_transcode_past_its_deadline_is_stopped_and_leaves_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "original.wav", tmp_path / "audio.mp3"
    write_audio(src, seconds=120.0)  # about 1.5 s of encoding
    before = children()
    started = time.monotonic()
    with pytest.raises(TranscodeFailed, match=r"took longer than 0\.4 s"):
        transcode_to_mp3(src, dst, timeout_seconds=0.4)
    assert time.monotonic() - started < 1.2
    assert children() <= before, "ffmpeg outlived the call"
    assert [p.name for p in tmp_path.iterdir()] == [src.name]


def test_missing_tools_are_named_with_their_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "original.flac"
    write_audio(src)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert tools_missing() == ["ffmpeg", "ffprobe"]
    with pytest.raises(TranscodeFailed, match=r"ffmpeg and ffprobe not installed \(apt-get install ffmpeg\)"):
        transcode_to_mp3(src, tmp_path / "audio.mp3")


def test_only_mpeg1_bitrates_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="300 kbps"):
        transcode_to_mp3(tmp_path / "original.flac", tmp_path / "audio.mp3", bitrate_kbps=300)


def test_bare_transcode_writes_an_mp3(tmp_path: Path) -> None:
    src, dst = tmp_path / "original.flac", tmp_path / "bare.mp3"
    write_audio(src)
    assert bare_transcode(src, dst) > 0
    info = MP3(dst).info
    assert info is not None and round(info.bitrate / 1000) == 320


# --- the TranscodeTrack handler (moto) ----------------------------------------------------------


USER, TRACK, VERSION = "user-1", "track-1", "e9b0b122a9070e16"


@pytest.fixture
def lambda_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The handler's /tmp: a directory of its own, so the test can see that nothing stays in it."""
    directory = tmp_path / "lambda-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _event(aws: dict[str, Any], ext: str = "flac") -> dict[str, Any]:
    return {
        "userId": USER,
        "trackId": TRACK,
        "bucket": aws["bucket"],
        "originalKey": storage.original_key(USER, TRACK, ext),
        "version": VERSION,
        "format": ext,
    }


def _keys(aws: dict[str, Any]) -> list[str]:
    listing = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=storage.track_prefix(USER, TRACK))
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_handler_uploads_the_mp3_and_returns_its_own_result(
    aws: dict[str, Any], tmp_path: Path, lambda_tmp: Path
) -> None:
    fn = load_function("transcode_track")
    src = tmp_path / "upload.flac"
    write_audio(src)
    event = _event(aws)
    aws["s3"].upload_file(str(src), aws["bucket"], event["originalKey"])

    out = fn.lambda_handler(event, FakeContext())

    mp3_key = storage.track_mp3_key(USER, TRACK, VERSION)
    assert set(out) == {"mp3Key", "mp3Bytes", "transcodeMs"}
    assert out["mp3Key"] == mp3_key == f"library/{USER}/{TRACK}/audio.{VERSION}.mp3"
    head = aws["s3"].head_object(Bucket=aws["bucket"], Key=mp3_key)
    assert head["ContentType"] == "audio/mpeg"
    assert head["ContentLength"] == out["mp3Bytes"] > 0
    assert isinstance(out["transcodeMs"], int) and out["transcodeMs"] > 0
    downloaded = tmp_path / "downloaded.mp3"
    aws["s3"].download_file(aws["bucket"], mp3_key, str(downloaded))
    info = MP3(downloaded).info
    assert info is not None and (round(info.bitrate / 1000), info.sample_rate, info.channels) == (320, 44100, 2)
    assert _keys(aws) == sorted([event["originalKey"], mp3_key])
    assert list(lambda_tmp.iterdir()) == [], "temporary files left in /tmp"


def test_handler_fails_on_a_corrupt_original_and_writes_nothing(
    aws: dict[str, Any], tmp_path: Path, lambda_tmp: Path
) -> None:
    fn = load_function("transcode_track")
    event = _event(aws)
    aws["s3"].put_object(Bucket=aws["bucket"], Key=event["originalKey"], Body=np.random.default_rng(9).bytes(50_000))

    with pytest.raises(TranscodeFailed, match="could not decode the audio"):
        fn.lambda_handler(event, FakeContext())

    assert _keys(aws) == [event["originalKey"]]
    assert list(lambda_tmp.iterdir()) == []


def test_handler_reports_an_original_that_is_gone(aws: dict[str, Any], lambda_tmp: Path) -> None:
    fn = load_function("transcode_track")
    with pytest.raises(TrackNotFound, match=r"original\.flac is no longer in the library"):
        fn.lambda_handler(_event(aws), FakeContext())
    assert _keys(aws) == []
    assert list(lambda_tmp.iterdir()) == []


def test_handler_refuses_a_key_of_another_track(aws: dict[str, Any]) -> None:
    fn = load_function("transcode_track")
    event = {**_event(aws), "originalKey": storage.original_key("someone-else", TRACK, "flac")}
    with pytest.raises(ValueError, match="is not the original of track"):
        fn.lambda_handler(event, FakeContext())



# --- decoder failures in words a person can act on -------------------------------------------------


def _ogg_with_an_empty_chained_stream(path: Path, pages: int = 200_000) -> None:
    """A real Vorbis stream followed by a second logical stream of `pages` empty Ogg pages."""
    write_audio(path, seconds=1.0)
    with path.open("rb") as fh:
        real = []
        while True:
            try:
                real.append(OggPage(fh))
            except EOFError:
                break
    empty = []
    for sequence in range(pages):
        page = OggPage()
        page.serial, page.sequence, page.position, page.packets, page.complete = 4242, sequence, -1, [], True
        empty.append(page)
    empty[0].first = True
    path.write_bytes(b"".join(page.write() for page in real + empty))


def test_an_ogg_of_empty_pages_is_explained_in_words(tmp_path: Path) -> None:
    src = tmp_path / "original.ogg"
    _ogg_with_an_empty_chained_stream(src)
    with pytest.raises(TranscodeFailed) as failure:
        transcode_to_mp3(src, tmp_path / "audio.mp3")
    message = str(failure.value)
    assert message.startswith("could not decode the audio: the Ogg file "), message
    plain = message.split(" (ffmpeg: ")[0]  # ffmpeg's own words follow in brackets, for whoever helps
    assert "no audio" in plain and "export" in plain, message
    assert "ogg:" not in plain and "exited with code" not in message, message


def test_a_wav_shorter_than_its_header_is_explained_as_truncated(tmp_path: Path) -> None:
    src = tmp_path / "original.wav"
    lying_wav(src, actual_seconds=1.0, header_minutes=29)
    with pytest.raises(TranscodeFailed) as failure:
        transcode_to_mp3(src, tmp_path / "audio.mp3")
    message = str(failure.value)
    assert message.startswith("could not decode the audio: the file is truncated or damaged"), message
    assert "export it again" in message and "corrupt input packet" not in message.split(" (ffmpeg: ")[0]


def test_a_decoder_that_fails_without_a_word_still_gets_a_sentence() -> None:
    message = transcode.explain_failure(b"", "ffmpeg", 1)
    assert message.startswith("the decoder stopped without naming a problem; the file is probably damaged")
    assert "export" in message, message
