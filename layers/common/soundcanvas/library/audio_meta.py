"""What a track is: tags and stream facts read with mutagen, for the track library.

`read_audio_info` sniffs the real format from the file (never the name), reads title, artist,
album, duration, bitrate, sample rate, channels and any embedded cover art, and guesses name
and artist from the file name when the tags are missing. Anything that is not audio, is
corrupt, runs longer than the limit, carries more tags and pictures than MAX_METADATA_BYTES
(counted from block headers before mutagen reads a byte of them, see tag_sizes) or holds less
audio than its WAV/AIFF header declares raises AudioRejected with a message for the uploader.
`read_cover` returns the embedded picture as the file has it: callers re-encode it (covers).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from soundcanvas.core.errors import AudioRejected
from soundcanvas.library import tag_sizes

MAX_DURATION_SECONDS = 30 * 60
MAX_METADATA_BYTES = 16 * 1024 * 1024  # tags and pictures together, as mutagen would load them
# A WAV/AIFF may hold less audio than its header declares by this much (seconds, or the share).
TRUNCATION_TOLERANCE_SECONDS = 0.5
TRUNCATION_TOLERANCE_SHARE = 0.01
# mutagen class name -> the format we report, and whether it is transcoded to MP3
FORMATS: dict[str, tuple[str, bool]] = {
    "MP3": ("mp3", False),
    "EasyMP3": ("mp3", False),
    "FLAC": ("flac", True),
    "WAVE": ("wav", True),
    "AIFF": ("aiff", True),
    "OggVorbis": ("ogg", True),
    "OggOpus": ("ogg", True),
    "MP4": ("m4a", True),
    "EasyMP4": ("m4a", True),
}
_SEPARATORS = re.compile(r"\s+[-\u2013\u2014]\s+")
_TRACK_NUMBER = re.compile(r"^\s*\d{1,3}[\s.\-_)]+")


__all__ = ["AudioInfo", "AudioRejected", "check_metadata_size", "guess_from_filename", "read_audio_info", "read_cover"]


@dataclass
class AudioInfo:
    format: str  # mp3, flac, wav, aiff, ogg, m4a
    needs_transcode: bool
    duration_seconds: float
    bitrate_kbps: int | None
    sample_rate: int | None
    channels: int | None
    title: str
    artist: str | None
    album: str | None
    tagged: bool  # False when title/artist came from the file name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def guess_from_filename(file_name: str) -> tuple[str | None, str]:
    """(artist, title) from names like "03 - Artist - Title.flac" (a hyphen or a dash between them)."""
    stem = Path(file_name).stem.replace("_", " ").strip()
    stem = _TRACK_NUMBER.sub("", stem) or stem
    parts = [p.strip() for p in _SEPARATORS.split(stem) if p.strip()]
    if len(parts) >= 2:
        return parts[0], " - ".join(parts[1:])
    return None, stem or file_name


def _first(tags: Any, *keys: str) -> str | None:
    if not tags:
        return None
    for key in keys:
        try:
            value = tags.get(key)
        except (KeyError, ValueError):
            value = None
        if value:
            text = value[0] if isinstance(value, list) else getattr(value, "text", [value])[0]
            text = str(text).strip()
            if text:
                return text
    return None


def read_cover(path: Path) -> tuple[bytes, str] | None:
    """Embedded cover art as (bytes, the MIME type the file claims), if the file has any."""
    check_metadata_size(path)
    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError:
        return None
    if isinstance(audio, FLAC) and audio.pictures:
        return audio.pictures[0].data, audio.pictures[0].mime or "image/jpeg"
    tags = getattr(audio, "tags", None)
    if isinstance(tags, ID3):
        for frame in tags.getall("APIC"):
            return frame.data, frame.mime or "image/jpeg"
    if isinstance(audio, MP4) and audio.tags and audio.tags.get("covr"):
        cover = audio.tags["covr"][0]
        return bytes(cover), "image/png" if cover.imageformat == cover.FORMAT_PNG else "image/jpeg"
    return None


def _looks_like_audio(head: bytes) -> bool:
    """Whether the first bytes carry the signature of an audio container we accept."""
    return (
        head.startswith((b"fLaC", b"ID3", b"OggS", b"RIFF", b"FORM"))
        or head[4:8] == b"ftyp"
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # an MPEG audio frame
    )


def _megabytes(size: int, limit: int) -> str:
    """Megabytes with the fewest decimals (up to 2) that still show `size` is above `limit`."""
    digits = 0
    while digits < 2 and round(size / 1048576, digits) <= limit / 1048576:
        digits += 1
    return f"{size / 1048576:.{digits}f}"


def check_metadata_size(path: Path, *, limit_bytes: int = MAX_METADATA_BYTES) -> None:
    """AudioRejected when the file's tags and pictures exceed the limit; reads block headers only."""
    size = tag_sizes.embedded_bytes(path)
    if size > limit_bytes:
        raise AudioRejected(
            f"the file's embedded tags and pictures take {_megabytes(size, limit_bytes)} MB; the limit is "
            f"{limit_bytes // 1048576} MB: remove the embedded cover art (or embed a smaller picture) "
            "and upload the file again"
        )


def _duration_text(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.1f} s"


def _check_pcm_length(path: Path, info: Any, declared_seconds: float) -> None:
    """AudioRejected when an uncompressed WAV/AIFF holds less audio than its header declares."""
    bits = getattr(info, "bits_per_sample", 0) or 0
    rate, channels = getattr(info, "sample_rate", 0) or 0, getattr(info, "channels", 0) or 0
    bytes_per_second = rate * channels * bits / 8
    if bytes_per_second <= 0:
        return
    held_seconds = path.stat().st_size / bytes_per_second  # the header's few bytes count as audio: a bound
    tolerance = max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_SHARE * declared_seconds)
    if held_seconds < declared_seconds - tolerance:
        raise AudioRejected(
            f"the file is truncated: its header says {_duration_text(declared_seconds)} of audio, the file holds "
            f"{_duration_text(held_seconds)}; export it again and upload the whole file"
        )


def read_audio_info(path: Path, file_name: str, *, max_seconds: int = MAX_DURATION_SECONDS) -> AudioInfo:
    """Facts about the audio file at `path`; `file_name` (the uploader's name) only seeds the guesses."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if not head:
        raise AudioRejected("the file is empty")
    if not _looks_like_audio(head):
        raise AudioRejected("not a supported audio file: got unrecognised data; use MP3, FLAC, WAV, AIFF, OGG or M4A")
    check_metadata_size(path)
    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise AudioRejected("the audio file is corrupt or truncated") from exc
    if audio is None or type(audio).__name__ not in FORMATS:
        kind = type(audio).__name__ if audio is not None else "unrecognised data"
        raise AudioRejected(f"not a supported audio file: got {kind}; use MP3, FLAC, WAV, AIFF, OGG or M4A")
    fmt, needs_transcode = FORMATS[type(audio).__name__]
    info = audio.info
    duration = float(getattr(info, "length", 0.0) or 0.0)
    if duration <= 0:
        raise AudioRejected("the audio file has no playable audio (zero length)")
    if fmt in ("wav", "aiff"):
        _check_pcm_length(path, info, duration)
    if duration > max_seconds:
        raise AudioRejected(f"the track is {duration / 60:.1f} minutes long; the limit is {max_seconds // 60} minutes")
    tags = audio.tags
    title = _first(tags, "TIT2", "title", "\xa9nam", "TITLE")
    artist = _first(tags, "TPE1", "artist", "\xa9ART", "ARTIST")
    album = _first(tags, "TALB", "album", "\xa9alb", "ALBUM")
    guessed_artist, guessed_title = guess_from_filename(file_name)
    bitrate = getattr(info, "bitrate", None)
    return AudioInfo(
        format=fmt,
        needs_transcode=needs_transcode,
        duration_seconds=round(duration, 3),
        bitrate_kbps=round(bitrate / 1000) if bitrate else None,
        sample_rate=getattr(info, "sample_rate", None),
        channels=getattr(info, "channels", None),
        title=title or guessed_title,
        artist=artist or guessed_artist,
        album=album,
        tagged=bool(title or artist),
    )
