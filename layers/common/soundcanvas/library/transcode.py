"""Transcode a track's original (FLAC, WAV, AIFF, OGG, M4A) to a constant 320 kbps MP3 with ffmpeg.

    ffprobe original   -> codec, sample rate, channels, declared duration      (about 0.06 s)
    ffmpeg -xerror -i original -map 0:a:0 -c:a libmp3lame -b:a 320k -ar R -ac C -> .part file -> dst

One ffmpeg process does both the decoding and the encoding. The alternative, ffmpeg decoding to
raw PCM on a pipe into `lame -r` (two processes on two cores), was measured on the 2-core
development machine (ffmpeg 5.1.9, LAME 3.100) with bench/transcode.py's 5-minute 44.1 kHz stereo
16-bit FLAC of plucked chords, bass and noise (33.5 MB); the variants took turns, 9 runs each,
wall seconds, median (min-max):

    ffmpeg -i src ... -c:a libmp3lame -b:a 320k (one process, our flags)  4.18 (4.02-4.43)
    ffmpeg -i src -f s16le - | lame -r -b 320 --cbr -q 3 (two processes)  4.12 (3.99-4.36)
    transcode_to_mp3: the one-process command + ffprobe + output checks   4.18 (4.09-4.34)
    ffprobe alone                                                          0.06
    ffmpeg decoding only (FLAC to PCM)                                     0.35-0.58
    bare `lame -b 320 src.flac` (lame reads FLAC through libsndfile)       4.93 (4.57-5.76, 3 runs)

bench/transcode.py against the bare `ffmpeg -i src -codec:a libmp3lame -b:a 320k`, medians of 3:
4.10 s ours, 4.09 s bare, ratio 1.00 (target <= 1.1).

The work is the MP3 encoder, which is single-threaded (about 3.7 s of the 4.1); decoding FLAC, AAC
or Vorbis is a tenth of that, so a second process can hide at most that tenth, and the pipe costs
part of it back: the pipeline came out 0.06 s (1.4 %) ahead in the median, well inside the
run-to-run spread of 0.4 s. Both write bit-identical audio frames (the lame CLI's default -q 3 is
what ffmpeg's libmp3lame uses as well). So the single process is used: it needs one core, not two
(on Lambda, 1769 MB buys a full vCPU, a second one costs 3008 MB or more), it is one process to
time out and kill with one stderr to read, there is no raw PCM format to agree on (24-bit sources
reach the encoder without a 16-bit step) and no `lame` binary in the image. A real 2x would need
the file split and the halves encoded in parallel, which breaks the MP3 bit reservoir at the joint;
a faster lame quality (-compression_level 5: 3.2 s instead of 4.0) encodes worse than the plain command,
so neither is done.

Sample rate and channels: MPEG-1 Layer III, the only MP3 that has 320 kbps, allows 32, 44.1 and
48 kHz; those are kept, anything else (22.05, 88.2, 96 kHz ...) is resampled to 44.1 kHz. Mono
stays mono, stereo stays (joint) stereo, more channels are down-mixed to stereo. Tags are copied;
embedded cover art and other non-audio streams are not (the library stores the cover itself).

Strictness: ffmpeg runs with -xerror, so a decoding error anywhere fails the transcode instead of
leaving a gap, and the MP3 must last as long as the source says it does (a FLAC cut at a frame
boundary decodes without an error, just short). Failures raise TranscodeFailed with a sentence for
the uploader: what ffmpeg's words mean (a truncated or damaged file, an Ogg stream without audio,
not the format it claims), what to do about it, and ffmpeg's own words in brackets, cleaned of
addresses and temporary paths (`explain_failure`); nothing is left at `dst` and no process
outlives the call (subprocess.run kills the child on a timeout or any other exception).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen.mp3 import MP3

from soundcanvas.core.errors import TranscodeFailed, TransientError

FFMPEG_BIN = "ffmpeg"
FFPROBE_BIN = "ffprobe"
# Debian package that provides each tool, named in the error when one is missing.
PACKAGES = {FFMPEG_BIN: "ffmpeg", FFPROBE_BIN: "ffmpeg"}

MPEG1_SAMPLE_RATES = (32000, 44100, 48000)
FALLBACK_SAMPLE_RATE = 44100
MPEG1_BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MAX_CHANNELS = 2

DEFAULT_TIMEOUT_SECONDS = 600.0
# The probe reads headers only; a file that keeps ffprobe busy this long is not one we can use.
PROBE_TIMEOUT_SECONDS = 60.0
# The MP3 may not end earlier than the source declares by more than this (seconds, or the share of
# the duration when that is larger): containers round their durations, truncated files fall far short.
TRUNCATION_TOLERANCE_SECONDS = 0.5
TRUNCATION_TOLERANCE_SHARE = 0.01
MESSAGE_LINES = 3
MESSAGE_CHARS = 300

EXPORT_AGAIN = "export it again from the original recording and upload that file"
# What ffmpeg's words mean for the person who uploaded the file; the first phrase found wins.
PLAIN_FAILURES: tuple[tuple[str, str], ...] = (
    ("corrupt input packet", "the file is truncated or damaged: part of its audio data is missing"),
    ("Cannot identify new stream", "the Ogg file carries a stream with no audio in it (empty or unknown pages)"),
    ("failed to create or replace stream", "the Ogg file carries a stream with no audio in it (empty or unknown pages)"),
    ("Invalid data found when processing input", "the file is damaged or is not the format its name says"),
    ("End of file", "the file ends before any audio could be read"),
)
SILENT_FAILURE = "the decoder stopped without naming a problem; the file is probably damaged"

# No reading of stdin (ffmpeg would take keystrokes from it), errors only on stderr.
_QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")


@dataclass(frozen=True)
class SourceInfo:
    """What ffprobe says about the first audio stream of a file."""

    codec: str
    sample_rate: int
    channels: int
    duration_seconds: float | None  # None when the container does not say


@dataclass(frozen=True)
class TranscodeResult:
    """What transcode_to_mp3() wrote.

    `duration_seconds` is the MP3's length as players compute it from its frame count: the
    encoder's delay and padding (under 60 ms) included, which gapless players trim again.
    """

    elapsed_ms: int
    output_bytes: int
    duration_seconds: float
    sample_rate: int
    channels: int
    bitrate_kbps: int
    source_codec: str


def tools_missing() -> list[str]:
    """The tools this module needs that are not on PATH (empty when transcoding can work)."""
    return [name for name in (FFMPEG_BIN, FFPROBE_BIN) if shutil.which(name) is None]


def require_tools() -> dict[str, str]:
    """Path of each tool; raises TranscodeFailed naming the package when one is missing."""
    missing = tools_missing()
    if missing:
        packages = " ".join(sorted({PACKAGES[name] for name in missing}))
        raise TranscodeFailed(f"{' and '.join(missing)} not installed (apt-get install {packages})")
    return {name: str(shutil.which(name)) for name in (FFMPEG_BIN, FFPROBE_BIN)}


def target_format(source: SourceInfo) -> tuple[int, int]:
    """(sample rate, channels) of the MP3 made from `source`: MPEG-1 rates kept, others to 44.1 kHz."""
    rate = source.sample_rate if source.sample_rate in MPEG1_SAMPLE_RATES else FALLBACK_SAMPLE_RATE
    return rate, min(source.channels, MAX_CHANNELS)


def probe(src: Path, *, timeout_seconds: float = PROBE_TIMEOUT_SECONDS) -> SourceInfo:
    """Codec, sample rate, channels and declared duration of the first audio stream of `src`."""
    ffprobe = require_tools()[FFPROBE_BIN]
    try:
        return _probe(ffprobe, Path(src), time.monotonic() + timeout_seconds, timeout_seconds)
    except OSError as exc:
        raise _os_failure(exc) from exc


def transcode_to_mp3(
    src: Path,
    dst: Path,
    *,
    bitrate_kbps: int = 320,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> TranscodeResult:
    """Encode the first audio stream of `src` to a CBR MP3 at `dst`; see the module docstring.

    `dst` appears only when everything succeeded (an existing file there is replaced then, and
    left alone otherwise). Raises TranscodeFailed when the input cannot be decoded, is truncated
    or takes longer than `timeout_seconds` in all; TransientError when the machine ran out of
    processes, memory or disk.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_seconds
    if bitrate_kbps not in MPEG1_BITRATES_KBPS:
        raise ValueError(f"{bitrate_kbps} kbps is not an MPEG-1 Layer III bitrate")
    src, dst = Path(src), Path(dst)
    tools = require_tools()
    part = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:12]}.part")
    done = False
    try:
        probe_limit = min(timeout_seconds, PROBE_TIMEOUT_SECONDS)
        source = _probe(tools[FFPROBE_BIN], src, min(deadline, time.monotonic() + probe_limit), probe_limit)
        rate, channels = target_format(source)
        command = [
            tools[FFMPEG_BIN], *_QUIET, "-xerror", "-i", str(src),
            "-map", "0:a:0", "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-ar", str(rate), "-ac", str(channels),
            "-id3v2_version", "3",  # ID3v2.3: the tag version every player reads
            "-f", "mp3", "-y", str(part),
        ]
        _run(command, deadline, timeout_seconds, src, part)
        length = _check_output(part, source, rate, channels, bitrate_kbps)
        output_bytes = part.stat().st_size
        os.replace(part, dst)
        done = True
    except OSError as exc:
        raise _os_failure(exc) from exc
    finally:
        if not done:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
    return TranscodeResult(
        elapsed_ms=round((time.perf_counter() - started) * 1000),
        output_bytes=output_bytes,
        duration_seconds=length,
        sample_rate=rate,
        channels=channels,
        bitrate_kbps=bitrate_kbps,
        source_codec=source.codec,
    )


def bare_transcode(src: Path, dst: Path) -> float:
    """The plain `ffmpeg -i src -codec:a libmp3lame -b:a 320k dst`; returns wall seconds.

    No probe, no stream selection, no checks: the reference transcode_to_mp3() is measured
    against (bench/transcode.py). Only the log level is lowered and overwriting allowed, which
    change nothing in the work done.
    """
    ffmpeg = require_tools()[FFMPEG_BIN]
    started = time.perf_counter()
    command = [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-codec:a", "libmp3lame", "-b:a", "320k",
               str(dst)]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    if done.returncode != 0:
        raise TranscodeFailed(f"ffmpeg failed with exit code {done.returncode}: {_summary(done.stderr, Path(src))}")
    return time.perf_counter() - started


# --- internals -------------------------------------------------------------------------------


def _probe(ffprobe: str, src: Path, deadline: float, limit_seconds: float) -> SourceInfo:
    command = [
        ffprobe, "-v", "error", "-select_streams", "a:0",
        "-show_entries", "stream=codec_name,sample_rate,channels,duration:format=duration", "-of", "json", str(src),
    ]
    stdout, stderr = _run(command, deadline, limit_seconds, src)
    try:
        found = json.loads(stdout or b"{}")
    except ValueError:
        found = {}
    streams = found.get("streams") or []
    stream = streams[0] if streams else {}
    rate, channels = _int(stream.get("sample_rate")), _int(stream.get("channels"))
    if rate <= 0 or channels <= 0:
        # ffprobe guesses the format from the file name when the content matches none, and then
        # reports a stream without a sample rate, often saying nothing: explain it ourselves.
        empty = src.stat().st_size == 0
        if not stderr.strip():
            reason = "the file is empty" if empty else "no audio stream found (damaged, or not audio)"
        else:
            reason = explain_failure(stderr, FFPROBE_BIN, 1, src=src)
        raise TranscodeFailed(f"could not decode the audio: {reason}")
    duration = _float(stream.get("duration")) or _float((found.get("format") or {}).get("duration"))
    return SourceInfo(codec=str(stream.get("codec_name") or "unknown"), sample_rate=rate, channels=channels,
                      duration_seconds=duration)


def _run(
    command: list[str], deadline: float, limit_seconds: float, src: Path, part: Path | None = None
) -> tuple[bytes, bytes]:
    """Run a tool to the end before the deadline; TranscodeFailed with its cleaned stderr if it fails.

    subprocess.run kills and reaps the child on a timeout and on any exception (KeyboardInterrupt
    included) before re-raising, so no tool outlives a failed call.
    """
    too_long = f"transcoding took longer than {limit_seconds:g} s and was stopped"
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TranscodeFailed(too_long)
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=remaining, check=False)
    except subprocess.TimeoutExpired:
        raise TranscodeFailed(too_long) from None
    if done.returncode != 0:
        text = done.stderr.decode(errors="replace")
        if "No space left on device" in text:
            raise TransientError("transcoding ran out of temporary disk space; try again")
        if "Cannot allocate memory" in text:
            raise TransientError("transcoding ran out of memory; try again")
        reason = explain_failure(done.stderr, Path(command[0]).name, done.returncode, src=src, part=part)
        raise TranscodeFailed(f"could not decode the audio: {reason}")
    return done.stdout, done.stderr


def _check_output(part: Path, source: SourceInfo, rate: int, channels: int, bitrate_kbps: int) -> float:
    """The MP3's length; raises TranscodeFailed unless it is the MP3 promised and as long as the source."""
    try:
        info = MP3(part).info
    except mutagen.MutagenError as exc:
        raise TranscodeFailed("could not decode the audio: the encoder wrote no playable MP3") from exc
    if info is None:
        raise TranscodeFailed("could not decode the audio: the encoder wrote no playable MP3")
    # mutagen derives the bitrate from the Xing header's byte and frame counts, which the frames of
    # tags and padding move a little: 319 kbps on a short tagged file is a 320 kbps CBR file.
    kbps = round(info.bitrate / 1000)
    if (info.sample_rate, info.channels) != (rate, channels) or abs(kbps - bitrate_kbps) > bitrate_kbps // 100:
        raise TranscodeFailed(
            f"the encoder wrote {kbps} kbps at {info.sample_rate} Hz with {info.channels} channels "
            f"instead of {bitrate_kbps} kbps at {rate} Hz with {channels}"
        )
    declared = source.duration_seconds
    if declared is not None:
        tolerance = max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_SHARE * declared)
        if info.length < declared - tolerance:
            raise TranscodeFailed(
                f"could not decode the audio: only {info.length:.1f} s of the {declared:.1f} s the file declares "
                "could be read; the file is probably truncated"
            )
    return float(info.length)


_ADDRESS = re.compile(r"^\[([^\]@]+?) @ 0x[0-9a-fA-F]+\]\s*")
# Lines ffmpeg adds after the real cause of a failure: they tell the reader nothing more.
_NOISE = ("Conversion failed!", "Error marking filters as finished", "Error closing file", "Exiting normally")


def explain_failure(
    stderr: bytes, tool: str, returncode: int, *, src: Path | None = None, part: Path | None = None
) -> str:
    """Why a tool failed, for the uploader: the meaning of ffmpeg's words and what to do, then its words.

    Words we have no meaning for are passed on as they are; a tool that said nothing at all
    still gets a sentence (never only an exit code).
    """
    said = _summary(stderr, src, part)
    plain = next((meaning for phrase, meaning in PLAIN_FAILURES if phrase in said), None)
    if plain is not None:
        return f"{plain}; {EXPORT_AGAIN} ({tool}: {said})"
    if said:
        return said
    return f"{SILENT_FAILURE} ({tool} stopped with code {returncode} and no message): {EXPORT_AGAIN}"


def _summary(stderr: bytes, src: Path | None, part: Path | None = None) -> str:
    """The first distinct lines of a tool's stderr, without object addresses or temporary paths."""
    lines: list[str] = []
    for raw in stderr.decode(errors="replace").splitlines():
        line = _ADDRESS.sub(lambda m: f"{m[1].split(',')[0]}: ", raw.strip())
        if src is not None:
            line = line.replace(f"{src}: ", "").replace(str(src), src.name)
        if part is not None:
            line = line.replace(f"{part}: ", "").replace(str(part), "the MP3")
        if line and line not in lines and not any(noise in line for noise in _NOISE):
            lines.append(line)
    text = "; ".join(lines[:MESSAGE_LINES])
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.ENOSPC, errno.EMFILE, errno.ENFILE}


def _os_failure(exc: OSError) -> Exception:
    if exc.errno in _TRANSIENT_ERRNOS:
        return TransientError(f"transcoding ran out of resources ({exc.strerror}); try again")
    return TranscodeFailed(f"transcoding failed: {exc.strerror or exc}")


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number > 0 and number != float("inf") else None
