"""Track metadata with mutagen: real files in every accepted format, tags, covers, rejections."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TIT2, TPE1

from soundcanvas.library.audio_meta import AudioRejected, _megabytes, guess_from_filename, read_audio_info, read_cover

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003"
    "010100c9fe92ef0000000049454e44ae426082"
)


def tone(seconds: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono, mono], axis=1)


def write(path: Path, seconds: float = 2.0, fmt: str | None = None, subtype: str | None = None) -> Path:
    soundfile.write(path, tone(seconds), 44100, format=fmt, subtype=subtype)
    return path


def test_tagged_flac_with_cover(tmp_path: Path) -> None:
    path = write(tmp_path / "x.flac")
    flac = FLAC(path)
    flac["title"], flac["artist"], flac["album"] = "Blue Hour", "Nadia K", "Evenings"
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", PNG_1PX
    flac.add_picture(picture)
    flac.save()
    info = read_audio_info(path, "whatever.flac")
    assert (info.format, info.needs_transcode, info.tagged) == ("flac", True, True)
    assert (info.title, info.artist, info.album) == ("Blue Hour", "Nadia K", "Evenings")
    assert info.duration_seconds == pytest.approx(2.0, abs=0.01)
    assert (info.sample_rate, info.channels) == (44100, 2)
    assert read_cover(path) == (PNG_1PX, "image/png")


@pytest.mark.parametrize(("suffix", "fmt", "subtype", "expected"), [
    (".wav", "WAV", "PCM_16", "wav"),
    (".aiff", "AIFF", "PCM_16", "aiff"),
    (".ogg", "OGG", "VORBIS", "ogg"),
])
def test_untagged_formats_guess_from_the_file_name(tmp_path: Path, suffix: str, fmt: str, subtype: str,
                                                   expected: str) -> None:
    path = write(tmp_path / f"a{suffix}", fmt=fmt, subtype=subtype)
    info = read_audio_info(path, f"07 - Massive Attack - Teardrop{suffix}")
    assert info.format == expected and info.needs_transcode
    assert (info.artist, info.title, info.tagged) == ("Massive Attack", "Teardrop", False)
    assert read_cover(path) is None


@pytest.mark.fluidsynth  # needs the lame encoder that `make setup` installs with FluidSynth
def test_mp3_is_not_transcoded_and_id3_tags_are_read(tmp_path: Path) -> None:
    wav = write(tmp_path / "in.wav", fmt="WAV", subtype="PCM_16")
    mp3 = tmp_path / "out.mp3"
    subprocess.run(["lame", "--silent", "-b", "192", str(wav), str(mp3)], check=True)
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Windowlicker"))
    tags.add(TPE1(encoding=3, text="Aphex Twin"))
    tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=PNG_1PX))
    tags.save(mp3)
    info = read_audio_info(mp3, "x.mp3")
    assert (info.format, info.needs_transcode, info.bitrate_kbps) == ("mp3", False, 192)
    assert (info.title, info.artist) == ("Windowlicker", "Aphex Twin")
    assert info.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert read_cover(mp3) == (PNG_1PX, "image/png")


def test_rejections_say_what_is_wrong(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AudioRejected, match="the file is empty"):
        read_audio_info(empty, "empty.mp3")
    text = tmp_path / "notes.flac"
    text.write_text("these are my notes, not a song\n" * 50)
    with pytest.raises(AudioRejected, match="not a supported audio file"):
        read_audio_info(text, "notes.flac")
    long = write(tmp_path / "long.flac", seconds=3.0)
    with pytest.raises(AudioRejected, match="the limit is 0 minutes"):
        read_audio_info(long, "long.flac", max_seconds=2)
    truncated = tmp_path / "cut.flac"
    truncated.write_bytes(write(tmp_path / "whole.flac").read_bytes()[:60])
    with pytest.raises(AudioRejected):
        read_audio_info(truncated, "cut.flac")


@pytest.mark.parametrize(("name", "expected"), [
    ("Artist - Title.mp3", ("Artist", "Title")),
    ("03 - Artist - Title - Live.flac", ("Artist", "Title - Live")),
    ("Artist \u2013 Title.m4a", ("Artist", "Title")),
    ("just_a_title.wav", (None, "just a title")),
])
def test_guess_from_filename(name: str, expected: tuple[str | None, str]) -> None:
    assert guess_from_filename(name) == expected


# --- tags and pictures over the limit are refused from their block headers ---------------------


def _m4a(path: Path) -> Path:
    wav = write(path.with_suffix(".wav"))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", str(path)],
                   check=True)
    return path


def _ogg_with_comment(path: Path, size: int) -> Path:
    from mutagen.oggvorbis import OggVorbis

    write(path, fmt="OGG", subtype="VORBIS")
    ogg = OggVorbis(path)
    ogg["comment"] = "x" * size
    ogg.save()
    return path


def _wav_with_apic(path: Path, size: int) -> Path:
    from mutagen.wave import WAVE

    write(path, fmt="WAV", subtype="PCM_16")
    wav = WAVE(path)
    wav.add_tags()
    wav.tags.add(APIC(encoding=3, mime="image/png", type=3, desc="", data=bytes(size)))
    wav.save()
    return path


def _m4a_with_cover(path: Path, size: int) -> Path:
    from mutagen.mp4 import MP4, MP4Cover

    m4a = MP4(_m4a(path))
    m4a["covr"] = [MP4Cover(b"\x89PNG\r\n\x1a\n" + bytes(size), imageformat=MP4Cover.FORMAT_PNG)]
    m4a.save()
    return path


@pytest.mark.parametrize("make", [_ogg_with_comment, _wav_with_apic, _m4a_with_cover], ids=["ogg", "wav", "m4a"])
def test_every_container_is_measured_before_mutagen_reads_it(tmp_path: Path, make: Any) -> None:
    big = make(tmp_path / f"big.{make.__name__.split('_')[1]}", 17 * 1024 * 1024)
    with pytest.raises(AudioRejected, match=r"embedded tags and pictures take 17(\.\d+)? MB; the limit is 16 MB"):
        read_audio_info(big, big.name)
    small = make(tmp_path / f"small.{make.__name__.split('_')[1]}", 64 * 1024)
    assert read_audio_info(small, small.name).duration_seconds == pytest.approx(2.0, abs=0.1)


def test_just_over_the_limit_says_so() -> None:
    assert _megabytes(16 * 1024 * 1024 + 20_000, 16 * 1024 * 1024) == "16.02"
    assert _megabytes(190 * 1024 * 1024, 16 * 1024 * 1024) == "190"
