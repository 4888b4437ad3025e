"""A recording in, the samples analysis reads out: mono float32 at the caller's rate, decoded by ffmpeg.

    sniff(first bytes)       -> the format, from the bytes (never the file name), or AudioRejected
    ffprobe                  -> the declared duration, checked against the limit before any decoding
    ffmpeg ... -f f32le -    -> raw samples on a pipe, read into one numpy array (`decode`), or int16
                                a chunk at a time for a reader of hours of audio (`pcm16_chunks`)

Each product decodes straight to the rate its analysis needs (Listen 22050 Hz, basic-pitch's rate;
Maps its drum rate), so nothing downstream resamples again.
Resampling and the down-mix happen in one ffmpeg filter: `aresample` with libsoxr at its default
(HQ) precision, the resampler librosa.load uses by default (soxr_hq), and `rematrix_maxval=1`,
which makes the stereo-to-mono matrix the plain mean of the channels as librosa's to_mono is
(ffmpeg's own `-ac 1` sums them at -3 dB each, a +3 dB gain on centred sources). The model
normalises its spectrogram per window, so the gain is cosmetic; the soxr resampler was also the
faster one. Measured on the 2-core development machine (ffmpeg 5.1.9), a 3-minute 44.1 kHz stereo
piano piece: MP3 (192 kbps) 0.48 s, FLAC 0.33 s for the ffmpeg process (ffmpeg's default
resampler: 0.52 s and 0.35 s); decode() adds about 0.05 s (ffprobe and the copy out of the pipe).

Strictness, as the library's transcoder (soundcanvas.library.transcode) has it: ffmpeg runs with
-xerror, so a decoding error anywhere rejects the file instead of leaving a gap in the notes, and
the samples must last about as long as the file declares (a file cut at a frame boundary decodes
without an error, only short). The declared duration is checked before decoding, and decoding
is capped (`-t`) a little past the limit as well, so a header that understates the length cannot
make ffmpeg decode an hour of audio. Every process runs under a timeout (subprocess.run kills and
reaps the child on a timeout or any other exception), with stdin closed.
"""

from __future__ import annotations

import errno
import json
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import numpy as np

from soundcanvas.core.errors import AudioRejected, ToolFailed, TransientError

MAX_DURATION_SECONDS = 600
MIN_DURATION_SECONDS = 0.5
ACCEPTED_FORMATS = ("mp3", "flac", "wav", "aiff", "ogg", "m4a")
HEAD_BYTES = 512  # what sniff() needs: container signatures, and enough to call something text

FFMPEG_BIN = "ffmpeg"
FFPROBE_BIN = "ffprobe"
# ffprobe reads headers only; a file that keeps it busy this long is not one we can use.
PROBE_TIMEOUT_SECONDS = 20.0
# Decoding 10 minutes of MP3 takes under 2 s on one core; 60 s means a pathological file.
DECODE_TIMEOUT_SECONDS = 60.0
# Decoding stops this far past the limit: long enough to tell "too long" from "just at the limit".
DECODE_CAP_MARGIN_SECONDS = 1.0
# The samples may fall short of the declared duration by this much (seconds, or the share of the
# duration when that is larger): containers round their durations, truncated files fall far short.
TRUNCATION_TOLERANCE_SECONDS = 0.5
TRUNCATION_TOLERANCE_SHARE = 0.01
REASON_CHARS = 200
# What ffmpeg's words mean for the person who uploaded the file; the first phrase found wins.
_DAMAGED = "the file is truncated or damaged; export it again and upload the whole file"
PLAIN_FAILURES: tuple[tuple[str, str], ...] = (
    ("corrupt input packet", _DAMAGED),
    ("decode_frame() failed", _DAMAGED),
    ("Packet corrupt", _DAMAGED),
    ("Error while decoding", _DAMAGED),
    ("Header missing", _DAMAGED),
    ("Invalid data found when processing input", "the file is damaged or is not the format it claims to be"),
    ("Failed to read frame size", "the file is damaged or is not the format it claims to be"),
    ("End of file", "the file ends before any audio could be read"),
)

_USE_INSTEAD = "upload MP3, FLAC, WAV, AIFF, OGG or M4A"
# No reading of stdin (ffmpeg would take keystrokes from it), errors only on stderr.
_QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")
_ADDRESS = re.compile(r"^\[[^\]]*? @ 0x[0-9a-fA-F]+\]\s*")
# Lines ffmpeg adds after the real cause of a failure: they tell the reader nothing more.
_NOISE = ("Conversion failed!", "Error marking filters as finished", "Error closing file", "Exiting normally",
          "Terminating thread", "Error while filtering")
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.ENOSPC, errno.EMFILE, errno.ENFILE}
# ISO base media brands that are pictures, not sound (HEIF/HEIC photos, AVIF).
_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")


def sniff(head: bytes) -> str:
    """The accepted format the first bytes of a file carry, or AudioRejected naming what they are.

    Only signatures are read: whether the rest decodes is ffmpeg's business. An MPEG frame header
    counts as MP3 only for layers I-III; layer bits 00 are AAC in an ADTS stream, which is
    rejected with a hint (raw AAC has no container to say how long it is). Any ISO media file
    that is not a picture counts as M4A (MP4 and MOV videos carry their sound the same way, and
    ffmpeg takes the first audio stream); a video without sound then fails in ffprobe.
    """
    if not head:
        raise AudioRejected("the file is empty")
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        return "m4a"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        if head[1] & 0x06:
            return "mp3"
        raise AudioRejected("not an audio file we can read: got raw AAC (ADTS) data; save it as M4A and upload that")
    raise AudioRejected(f"not an audio file: got {_what_it_is(head)}")


def probe_duration_seconds(path: Path, *, timeout_seconds: float = PROBE_TIMEOUT_SECONDS) -> float:
    """The duration the file declares for its first audio stream (ffprobe, headers only).

    0.0 when the container does not say (rare: ffprobe estimates MP3 and Ogg lengths from the
    bitrate or the last page); decode() caps decoding at the limit in any case. AudioRejected
    when ffprobe cannot read the file or finds no audio stream in it.
    """
    path = Path(path).absolute()  # "-x.mp3" is no option and "concat:a|b" no protocol once it starts with "/"
    command = [FFPROBE_BIN, "-v", "error", "-select_streams", "a:0",
               "-show_entries", "stream=duration:format=duration", "-of", "json", str(path)]
    stdout, _ = _run(command, timeout_seconds, path)
    try:
        found = json.loads(stdout or b"{}")
    except ValueError:
        found = {}
    streams = found.get("streams") or []
    if not streams:
        raise AudioRejected("the audio could not be decoded: the file holds no audio stream")
    declared = _positive(streams[0].get("duration")) or _positive((found.get("format") or {}).get("duration"))
    return declared or 0.0


def decode(path: Path, *, sample_rate_hz: int, max_duration_seconds: float = MAX_DURATION_SECONDS,
           timeout_seconds: float = DECODE_TIMEOUT_SECONDS) -> np.ndarray:
    """The recording at `path` as mono float32 samples at `sample_rate_hz` (a writable 1-D array).

    Raises AudioRejected, with a sentence for the person who uploaded it, when the file is not
    audio, is empty, corrupt or truncated, lasts longer than `max_duration_seconds` or shorter
    than MIN_DURATION_SECONDS; TransientError when the machine is out of processes, memory or
    disk; ToolFailed when ffmpeg is missing.
    """
    path = Path(path).absolute()
    declared_seconds, command = _decoding(path, sample_rate_hz, max_duration_seconds, "f32le")
    stdout, _ = _run(command, timeout_seconds, path)
    samples = np.frombuffer(stdout, dtype="<f4", count=len(stdout) // 4).astype(np.float32)  # a writable copy
    check_length(samples.size / sample_rate_hz, declared_seconds, max_duration_seconds)
    return samples


def pcm16_chunks(path: Path, *, sample_rate_hz: int, max_duration_seconds: float = MAX_DURATION_SECONDS,
                 timeout_seconds: float = DECODE_TIMEOUT_SECONDS, chunk_samples: int = 1 << 20) -> Iterator[np.ndarray]:
    """The recording at `path` as mono int16 samples at `sample_rate_hz`, `chunk_samples` at a time (read-only
    arrays): what `decode` gives, in memory bounded by one chunk whatever the recording's length. For analysis that
    reads the samples once in order (a fingerprint of a recording of hours). The same refusals as `decode`; the
    length checks come after the last chunk, so a consumer learns a truncated file only at the end."""
    path = Path(path).absolute()
    declared_seconds, command = _decoding(path, sample_rate_hz, max_duration_seconds, "s16le")
    decoded = 0
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: ffmpeg never blocks on what it says
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        except OSError as exc:
            raise _start_failure(command, exc) from exc
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            process.kill()

        watchdog = threading.Timer(timeout_seconds, stop)
        watchdog.daemon = True  # an abandoned reader never keeps the interpreter from exiting
        watchdog.start()
        out = cast(IO[bytes], process.stdout)
        try:
            while data := out.read(2 * chunk_samples):
                chunk = np.frombuffer(data, dtype="<i2", count=len(data) // 2)
                decoded += chunk.size
                yield chunk
            returncode = process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:  # the consumer stopped early, or raised
                process.kill()
            process.wait()
            out.close()
        if timed_out.is_set():
            raise AudioRejected(f"the audio could not be decoded: {FFMPEG_BIN} took longer than {timeout_seconds:g} s")
        if returncode != 0:
            stderr.seek(0)
            raise _exit_failure(command, stderr.read(), path)
    check_length(decoded / sample_rate_hz, declared_seconds, max_duration_seconds)


def check_length(decoded_seconds: float, declared_seconds: float, max_duration_seconds: float) -> None:
    """AudioRejected when the decoded samples are too long, too short, or well short of the declaration."""
    if decoded_seconds > max_duration_seconds:
        raise AudioRejected(too_long_message(decoded_seconds, max_duration_seconds))
    tolerance = max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_SHARE * declared_seconds)
    if decoded_seconds < declared_seconds - tolerance:
        raise AudioRejected(
            f"the audio could not be decoded: only {decoded_seconds:.1f} s of the {declared_seconds:.1f} s the file "
            "declares could be read; the file is probably truncated, export it again and upload the whole file"
        )
    if decoded_seconds < MIN_DURATION_SECONDS:
        raise AudioRejected(
            f"the recording is too short: {decoded_seconds:.2f} s of audio; at least {MIN_DURATION_SECONDS:g} s is needed"
        )


def too_long_message(seconds: float, limit_seconds: float) -> str:
    """"the recording is 14.2 minutes long; the limit is 10 minutes", in seconds below a minute.

    The length gets the fewest decimals (up to 2) that still show it above the limit, so a file
    a moment too long never reads "10.0 minutes long; the limit is 10 minutes".
    """
    unit, scale = ("minutes", 60.0) if limit_seconds >= 60 else ("s", 1.0)
    digits = 1
    while digits < 2 and round(seconds / scale, digits) <= limit_seconds / scale:
        digits += 1
    limit = f"{limit_seconds / scale:g}"
    limit_unit = "minute" if limit == "1" and unit == "minutes" else unit
    return f"the recording is {seconds / scale:.{digits}f} {unit} long; the limit is {limit} {limit_unit}"


def failure_reason(stderr: bytes, path: Path | None = None, tool: str = FFMPEG_BIN) -> str:
    """Why ffmpeg failed: what its words mean for the uploader, then its last meaningful line.

    ffmpeg names the cause first and then the consequences ("Error while decoding stream ...:
    Invalid data found when processing input"); the last line that is not pure noise (object
    addresses and paths removed) is the one kept, cut to REASON_CHARS. Its words alone
    ("decode_frame() failed", "Invalid argument") tell a person little, so a plain meaning comes
    first when a phrase of PLAIN_FAILURES is anywhere in the output.
    """
    meaningful = []
    for raw in stderr.decode(errors="replace").splitlines():
        line = _ADDRESS.sub("", raw.strip())
        if path is not None:
            line = line.replace(f"{path}: ", "").replace(str(path), "the file")
        if line and not any(noise in line for noise in _NOISE):
            meaningful.append(line)
    if not meaningful:
        return "the decoder stopped without naming a problem; the file is probably damaged"
    said = meaningful[-1] if len(meaningful[-1]) <= REASON_CHARS else meaningful[-1][: REASON_CHARS - 3] + "..."
    everything = " ".join(meaningful)
    plain = next((meaning for phrase, meaning in PLAIN_FAILURES if phrase in everything), None)
    return f"{plain} ({tool}: {said})" if plain else said


# --- internals -------------------------------------------------------------------------------


def _decoding(path: Path, sample_rate_hz: int, max_duration_seconds: float, sample_format: str) -> tuple[float, list[str]]:
    """(declared seconds, the ffmpeg command writing mono `sample_format` samples to stdout) for a file whose first
    bytes are audio and whose declared length is within the limit; AudioRejected otherwise."""
    with path.open("rb") as fh:
        sniff(fh.read(HEAD_BYTES))
    declared_seconds = probe_duration_seconds(path)
    if declared_seconds > max_duration_seconds:
        raise AudioRejected(too_long_message(declared_seconds, max_duration_seconds))
    command = [FFMPEG_BIN, *_QUIET, "-xerror", "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
               "-t", f"{max_duration_seconds + DECODE_CAP_MARGIN_SECONDS:.3f}", "-af", _resample(sample_rate_hz),
               "-f", sample_format, "-ac", "1", "-ar", str(sample_rate_hz), "-"]
    return declared_seconds, command


def _resample(sample_rate_hz: int) -> str:
    return f"aresample={sample_rate_hz}:resampler=soxr:rematrix_maxval=1.0,aformat=sample_fmts=flt:channel_layouts=mono"


def _run(command: list[str], timeout_seconds: float, path: Path) -> tuple[bytes, bytes]:
    """Run a tool to its end within the time limit; AudioRejected with its reason when it fails."""
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_seconds,
                              check=False)
    except subprocess.TimeoutExpired:
        raise AudioRejected(
            f"the audio could not be decoded: {Path(command[0]).name} took longer than {timeout_seconds:g} s"
        ) from None
    except OSError as exc:
        raise _start_failure(command, exc) from exc
    if done.returncode != 0:
        raise _exit_failure(command, done.stderr, path)
    return done.stdout, done.stderr


def _start_failure(command: list[str], exc: OSError) -> Exception:
    """What a tool that could not start means: not installed, out of resources (try again), or broken."""
    if isinstance(exc, FileNotFoundError):
        return ToolFailed(f"{command[0]} is not installed (apt-get install ffmpeg)")
    if exc.errno in _TRANSIENT_ERRNOS:
        return TransientError(f"decoding ran out of resources ({exc.strerror}); try again")
    return ToolFailed(f"decoding failed: {exc.strerror or exc}")


def _exit_failure(command: list[str], stderr: bytes, path: Path) -> Exception:
    """What a tool that exited with an error means: out of memory or disk (try again), or the file's fault."""
    text = stderr.decode(errors="replace")
    if "No space left on device" in text or "Cannot allocate memory" in text:
        return TransientError("decoding ran out of memory or disk; try again")
    return AudioRejected(f"the audio could not be decoded: {failure_reason(stderr, path, Path(command[0]).name)}")


def _what_it_is(head: bytes) -> str:
    """What a file that is not accepted audio is, in a few words: 'PNG data', 'text', ..."""
    signatures: tuple[tuple[bytes, str], ...] = (
        (b"\x89PNG\r\n\x1a\n", "PNG data"),
        (b"\xff\xd8\xff", "JPEG data"),
        (b"GIF87a", "GIF data"),
        (b"GIF89a", "GIF data"),
        (b"%PDF", "PDF data"),
        (b"PK\x03\x04", "ZIP data (an archive or an office document)"),
        (b"PK\x05\x06", "ZIP data (an archive or an office document)"),
        (b"MThd", "a MIDI file; upload a recording"),
        (b"BM", "BMP data"),
        (b"II*\x00", "TIFF data"),
        (b"MM\x00*", "TIFF data"),
        (b"\x1a\x45\xdf\xa3", "a Matroska/WebM file, which we do not read; " + _USE_INSTEAD),
    )
    for signature, name in signatures:
        if head.startswith(signature):
            return name if ";" in name else f"{name}; {_USE_INSTEAD}"
    if head[:4] == b"RIFF":
        kind = {b"WEBP": "WebP data", b"AVI ": "AVI video"}.get(head[8:12], "a RIFF file that is not WAV")
        return f"{kind}; {_USE_INSTEAD}"
    if head[4:8] == b"ftyp":
        return f"HEIF/AVIF image data; {_USE_INSTEAD}"
    text = _as_text(head)
    if text is not None:
        start = text.lstrip("\ufeff \t\r\n").lower()
        if start.startswith(("<!doctype html", "<html", "<head", "<body")):
            return f"an HTML page (a download link saved instead of the file?); {_USE_INSTEAD}"
        return f"text; {_USE_INSTEAD}"
    return f"unrecognised data; {_USE_INSTEAD}"


def _as_text(head: bytes) -> str | None:
    """The bytes as text when they are UTF-8 (a cut last character allowed) with no control codes."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ord(ch) < 32 and ch not in "\t\r\n\f" for ch in text):
        return None
    return text


def _positive(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if 0 < number < float("inf") else None
