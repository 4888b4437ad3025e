"""Render a composition to a 44.1 kHz stereo 16-bit WAV and an MP3 preview in one streaming pass.

    fluidsynth (raw float32 on stdout) -> leveler -> look-ahead peak limiter -> fade -> int16
        -> WAV file (wave module)
        -> lame (stdin)  -> MP3 preview

FluidSynth and lame run as two processes; one thread drains FluidSynth's stdout, one feeds
lame's stdin, and the calling thread processes the blocks in between, so neither tool ever
waits on the other and synthesis and encoding overlap on two cores. The output is exactly
`duration_seconds` long:
FluidSynth's release tail is cut off (the process is stopped once enough frames arrived) and
a piece that ends early is padded with silence. Only numpy is needed besides the two tools.

Loudness: before anything is written, the leveler measures the RMS (ignoring silence) of the
first third of the piece (8 to 60 s of sound), starts at the gain that brings it to
TARGET_RMS_DBFS, then follows the integrated level of everything heard so far, slowly (at most
LEVELER_SLEW_DB_PER_S), so a piece's own build-up and quiet passages survive. The limiter keeps
every 16-bit sample at or below CEILING_DBFS.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import math
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from soundcanvas.core.errors import RenderFailed, TransientError

SOUNDFONT_ENV = "SOUNDFONT_PATH"
SOUNDFONT_DIRS: tuple[Path, ...] = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
SOUNDFONT_NAMES: tuple[str, ...] = ("FluidR3_GM.sf2", "default-GM.sf2", "TimGM6mb.sf2")
SOUNDFONT_PACKAGE = "fluid-soundfont-gm"

FLUIDSYNTH_BIN = "fluidsynth"
LAME_BIN = "lame"
# Debian package that provides each tool, named in the error when one is missing.
PACKAGES = {FLUIDSYNTH_BIN: "fluidsynth", LAME_BIN: "lame"}

# FluidSynth's own master gain. Its float output is not clipped, so level is set afterwards;
# 0.2 is FluidSynth's default and keeps dense pieces near full scale before the leveler.
FLUIDSYNTH_GAIN = 0.2
# Reverb and chorus stay on: reverb is ~-20 dB of the signal (clearly audible) and costs ~10 %
# of the synthesis time; chorus costs nothing measurable when no preset sends to it.
FLUIDSYNTH_EFFECT_ARGS: tuple[str, ...] = ()

# Encoder quality flags, shared by the streaming render and the benchmark baseline.
# -q 3 is lame's default quality for CBR; ReplayGain analysis is skipped (we level ourselves).
LAME_ARGS: tuple[str, ...] = ("-q", "3", "--noreplaygain")

CHANNELS = 2
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
INT16_FULL_SCALE = 32767
CEILING_DBFS = -1.0
# The largest 16-bit magnitude allowed: floor(10^(-1/20) * 32767) = 29204.
CEILING_INT16 = math.floor(10 ** (CEILING_DBFS / 20) * INT16_FULL_SCALE)

TARGET_RMS_DBFS = -18.0
LEVELER_MIN_GAIN_DB = -12.0
LEVELER_MAX_GAIN_DB = 48.0
# Blocks (BLOCK_FRAMES long) that do not count as sound: quieter than LEVELER_GATE_DBFS before
# gain, or more than LEVELER_RELATIVE_GATE_DB below the level of the blocks that do.
LEVELER_GATE_DBFS = -90.0
LEVELER_RELATIVE_GATE_DB = 20.0
LEVELER_SLEW_DB_PER_S = 0.5
# Before the first block is written, the leveler measures this share of the piece's sound
# (composed pieces build up: their first seconds are 4-8 dB quieter than the body), at least
# ANALYSIS_MIN_SECONDS and at most ANALYSIS_MAX_SECONDS of it; it stops waiting for sound
# after ANALYSIS_SILENCE_SECONDS more of silence. Synthesis runs meanwhile; encoding waits.
ANALYSIS_FRACTION = 1 / 3
ANALYSIS_MIN_SECONDS = 8.0
ANALYSIS_MAX_SECONDS = 60.0
ANALYSIS_SILENCE_SECONDS = 30.0

LIMITER_LOOKAHEAD_S = 0.005
LIMITER_RELEASE_DB_PER_S = 40.0

SILENCE_DBFS = -60.0  # a render whose loudest sample is below this has failed
BLOCK_FRAMES = 8192
PIPE_BYTES = 1 << 20
READ_WAIT_S = 0.004
STDERR_TAIL_CHARS = 600
PROCESS_EXIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RenderResult:
    """What render() wrote: levels of the 16-bit WAV (dBFS re 32767), sizes in bytes, wall time."""

    duration_seconds: float
    peak_dbfs: float
    rms_dbfs: float
    wav_bytes: int
    preview_bytes: int
    render_seconds: float


def find_soundfont(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The SoundFont to use: `explicit`, else $SOUNDFONT_PATH, else the first General MIDI font installed."""
    chosen = explicit or os.environ.get(SOUNDFONT_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise RenderFailed(
                f"SoundFont {path} does not exist; point {SOUNDFONT_ENV} at an .sf2 file "
                f"or install one (apt-get install {SOUNDFONT_PACKAGE})"
            )
        return path
    for directory in SOUNDFONT_DIRS:
        for name in SOUNDFONT_NAMES:
            path = directory / name
            if path.is_file():
                return path
    looked = ", ".join(str(d) for d in SOUNDFONT_DIRS)
    raise RenderFailed(
        f"no General MIDI SoundFont found in {looked}; install one (apt-get install {SOUNDFONT_PACKAGE}) "
        f"or set {SOUNDFONT_ENV} to an .sf2 file"
    )


def render(
    midi_path: Path,
    wav_path: Path,
    preview_path: Path,
    *,
    duration_seconds: float,
    soundfont: Path,
    sample_rate: int = 44100,
    fade_seconds: float = 1.5,
    preview_bitrate_kbps: int = 128,
) -> RenderResult:
    """Synthesize `midi_path` to `wav_path` (16-bit stereo) and `preview_path` (MP3) in one pass.

    Both files appear only when everything succeeded. Raises RenderFailed with the tool's
    own words when FluidSynth or lame fails, TransientError when the machine ran out of
    processes, memory or disk.
    """
    started = time.perf_counter()
    if not (math.isfinite(duration_seconds) and duration_seconds > 0):
        raise RenderFailed(f"cannot render a piece of {duration_seconds} seconds")
    fluidsynth, lame = _tool(FLUIDSYNTH_BIN), _tool(LAME_BIN)
    _check_soundfont(Path(soundfont))
    _check_midi(Path(midi_path))
    total_frames = round(duration_seconds * sample_rate)
    fade_frames = min(total_frames, max(0, round(fade_seconds * sample_rate)))
    wav_tmp, preview_tmp = _temp_name(Path(wav_path)), _temp_name(Path(preview_path))
    procs: list[subprocess.Popen[bytes]] = []
    workers: list[_Worker] = []
    placed = done = False
    try:
        with tempfile.TemporaryFile() as synth_err, tempfile.TemporaryFile() as lame_err:
            synth = subprocess.Popen(
                [fluidsynth, *_fluidsynth_raw_args(sample_rate), str(soundfont), str(midi_path)],
                stdout=subprocess.PIPE,
                stderr=synth_err,
                bufsize=0,
            )
            procs.append(synth)
            encoder = subprocess.Popen(
                [lame, *_lame_raw_args(sample_rate, preview_bitrate_kbps), "-", str(preview_tmp)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=lame_err,
            )
            procs.append(encoder)
            assert synth.stdout is not None and encoder.stdin is not None
            _grow_pipe(synth.stdout)
            _grow_pipe(encoder.stdin)
            reader = _BlockReader(
                synth.stdout,
                total_frames + _Limiter.delay_frames(sample_rate),
                # FluidSynth stopped before the end: fail now if it stopped on an error.
                on_end=lambda: _check_synth(_wait(synth), synth_err, reader.real_frames),
            )
            feed = _PipeFeed(encoder.stdin)
            workers += [reader, feed]
            try:
                stats = _stream(reader, feed, wav_tmp, total_frames, fade_frames, sample_rate)
                feed.close()
            except BrokenPipeError:
                _finish_encoder(encoder, lame_err)  # raises with lame's own words
                raise RenderFailed("the MP3 encoder (lame) stopped reading") from None
            # Enough audio: stop FluidSynth before its release tail (a no-op if it has already ended).
            synth_code = synth.poll()
            if synth_code is None:
                synth.terminate()
            _wait(synth)
            _check_synth(synth_code, synth_err, reader.real_frames)
            _finish_encoder(encoder, lame_err)
            if stats.peak_dbfs < SILENCE_DBFS:
                raise RenderFailed(f"FluidSynth rendered silence: {_tail(synth_err) or 'no notes were played'}")
        os.replace(preview_tmp, preview_path)
        placed = True
        os.replace(wav_tmp, wav_path)
        done = True
    except OSError as exc:
        raise _os_failure(exc) from exc
    finally:
        _shut_down(procs, workers)
        if not done:
            for path in (wav_tmp, preview_tmp, *((Path(preview_path),) if placed else ())):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    return RenderResult(
        duration_seconds=total_frames / sample_rate,
        peak_dbfs=stats.peak_dbfs,
        rms_dbfs=stats.rms_dbfs,
        wav_bytes=Path(wav_path).stat().st_size,
        preview_bytes=Path(preview_path).stat().st_size,
        render_seconds=time.perf_counter() - started,
    )


def bare_render_then_encode(
    midi_path: Path,
    wav_path: Path,
    preview_path: Path,
    *,
    soundfont: Path,
    sample_rate: int = 44100,
    preview_bitrate_kbps: int = 128,
) -> float:
    """The plain sequence `fluidsynth -ni -F out.wav` then `lame` with LAME_ARGS; returns wall seconds.

    No leveling, limiting, trimming or fade: the reference that render() is measured against.
    """
    fluidsynth, lame = _tool(FLUIDSYNTH_BIN), _tool(LAME_BIN)
    started = time.perf_counter()
    steps = (
        [fluidsynth, "-ni", "-F", str(wav_path), "-r", str(sample_rate), str(soundfont), str(midi_path)],
        [lame, "--silent", "-b", str(preview_bitrate_kbps), *LAME_ARGS, str(wav_path), str(preview_path)],
    )
    for command in steps:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace")[-STDERR_TAIL_CHARS:].strip()
            raise RenderFailed(f"{Path(command[0]).name} exited with {done.returncode}: {tail}")
    return time.perf_counter() - started


# --- command lines -------------------------------------------------------------------------


def _fluidsynth_raw_args(sample_rate: int) -> list[str]:
    """`fluidsynth` flags: no shell, no MIDI input, raw native-endian float32 stereo on stdout."""
    return [
        "-ni",
        "-q",
        "-T",
        "raw",
        "-O",
        "float",
        "-F",
        "-",
        "-r",
        str(sample_rate),
        "-g",
        str(FLUIDSYNTH_GAIN),
        *FLUIDSYNTH_EFFECT_ARGS,
    ]


def _lame_raw_args(sample_rate: int, bitrate_kbps: int) -> list[str]:
    """`lame` flags for raw signed 16-bit little-endian stereo on stdin, constant bitrate."""
    return [
        "-r",
        "-s",
        f"{sample_rate / 1000:g}",
        "--bitwidth",
        "16",
        "--signed",
        "--little-endian",
        "-m",
        "j",
        "--silent",
        "-b",
        str(bitrate_kbps),
        *LAME_ARGS,
    ]


# --- the streaming pass --------------------------------------------------------------------


@dataclass
class _Stats:
    peak: int = 0
    sum_squares: float = 0.0
    samples: int = 0

    def add(self, pcm: np.ndarray) -> None:
        if pcm.size:
            self.peak = max(self.peak, int(pcm.max()), -int(pcm.min()))
            self.sum_squares += _sum_squares(pcm)
            self.samples += pcm.size

    @property
    def peak_dbfs(self) -> float:
        return _dbfs(self.peak / INT16_FULL_SCALE)

    @property
    def rms_dbfs(self) -> float:
        return _dbfs(math.sqrt(self.sum_squares / max(1, self.samples)) / INT16_FULL_SCALE)


def _stream(
    reader: _BlockReader,
    feed: _PipeFeed,
    wav_tmp: Path,
    total_frames: int,
    fade_frames: int,
    sample_rate: int,
) -> _Stats:
    """Move the synthesized blocks through the chain into the WAV file and the encoder feed."""
    leveler = _Leveler(sample_rate)
    limiter = _Limiter(sample_rate, CEILING_INT16 / INT16_FULL_SCALE)
    fade = _FadeOut(total_frames, fade_frames)
    stats = _Stats()
    pending: list[np.ndarray] = []
    held_frames = 0
    analysis_seconds = min(ANALYSIS_MAX_SECONDS, max(ANALYSIS_MIN_SECONDS, ANALYSIS_FRACTION * total_frames / sample_rate))
    analysis_frames = round(analysis_seconds * sample_rate)
    max_pending = analysis_frames + round(ANALYSIS_SILENCE_SECONDS * sample_rate)
    with wave.open(str(wav_tmp), "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.setnframes(total_frames)

        def emit(block: np.ndarray) -> None:
            pcm = _to_pcm16(fade.apply(limiter.process(leveler.apply(block))))
            stats.add(pcm)
            data = pcm.tobytes()
            wav.writeframesraw(data)
            feed.write(data)

        for block in reader:
            leveler.measure(block)
            if leveler.settled:
                emit(block)
                continue
            pending.append(block)
            held_frames += len(block)
            if leveler.gated_frames >= analysis_frames or held_frames >= max_pending:
                leveler.settle()
                for held in pending:
                    emit(held)
                pending.clear()
        leveler.settle()
        for held in pending:
            emit(held)
    return stats


class _Worker:
    """A daemon thread around one pipe; `stop()` asks it to end, `join()` waits for it."""

    def __init__(self, name: str) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping.set()

    def join(self) -> None:
        self._thread.join()


class _BlockReader(_Worker):
    """Reads raw float32 stereo from FluidSynth on a thread (so it never waits for us) and yields
    blocks, exactly `frames` in all: padded with silence if the stream ends early."""

    def __init__(self, source: IO[bytes], frames: int, on_end: Callable[[], None] | None = None) -> None:
        super().__init__("synth-reader")
        self.source = source
        self.frames = frames
        self.on_end = on_end  # called (on the consumer's thread) once the stream has ended early
        self.real_frames = 0  # frames that came from the stream rather than padding
        self.ended = False
        self.complete = False
        self.error: OSError | None = None
        self._queue: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._thread.start()

    def _run(self) -> None:
        try:
            frame_bytes = 4 * CHANNELS
            remaining = self.frames
            while remaining > 0 and not self._stopping.is_set():
                want = min(BLOCK_FRAMES, remaining)
                buf = bytearray(want * frame_bytes)
                got = 0 if self.ended else _read_full(self.source, memoryview(buf))
                self.ended = self.ended or got < len(buf)
                got -= got % frame_bytes
                self.real_frames += got // frame_bytes
                block = np.frombuffer(buf, dtype=np.float32).reshape(want, CHANNELS)
                if got < len(buf):
                    block = block.copy()
                    block[got // frame_bytes :] = 0.0
                remaining -= want
                self._queue.put(block)
            self.complete = remaining == 0
        except OSError as exc:
            self.error = exc
        finally:
            self._queue.put(None)

    def __iter__(self) -> Iterator[np.ndarray]:
        on_end = self.on_end
        while (block := self._queue.get()) is not None:
            yield block
            if on_end is not None and self.ended:
                callback, on_end = on_end, None
                callback()
        if self.error is not None:
            raise self.error
        if not self.complete:
            raise RenderFailed("reading FluidSynth's output stopped unexpectedly")


class _PipeFeed(_Worker):
    """Writes to the encoder's stdin on a thread, so a busy encoder never holds up synthesis."""

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__("encoder-feed")
        self.sink = sink
        self.error: OSError | None = None
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread.start()

    def _run(self) -> None:
        try:
            while (data := self._queue.get()) is not None and not self._stopping.is_set():
                self.sink.write(data)
            self.sink.close()
        except OSError as exc:
            self.error = exc

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(data)

    def close(self) -> None:
        """Write out everything queued, close the pipe (end of input for the encoder)."""
        self._queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        super().stop()
        self._queue.put(None)


def _read_full(source: IO[bytes], view: memoryview) -> int:
    """Fill `view` from `source`; fewer bytes only at end of stream.

    FluidSynth writes 64 frames (512 bytes) at a time: after a short read, let the pipe fill for
    a few milliseconds instead of waking up for every write (measured: that doubled the wall time).
    """
    filled = 0
    while filled < len(view):
        count = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
        if filled < len(view):
            time.sleep(READ_WAIT_S)
    return filled


class _Leveler:
    """Gain toward TARGET_RMS_DBFS from the integrated RMS of the blocks of sound seen so far."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.gain_db = 0.0
        self.settled = False
        self._levels = np.empty(64)  # mean square of every block above the absolute gate
        self._sizes = np.empty(64)  # and its length in frames
        self._count = 0
        self._gate = 10 ** (LEVELER_GATE_DBFS / 10)
        self._relative = 10 ** (-LEVELER_RELATIVE_GATE_DB / 10)
        self._mean_square = 0.0
        self.gated_frames = 0  # frames of sound counted in the level

    def measure(self, block: np.ndarray) -> None:
        mean_square = _sum_squares(block) / max(1, block.size)
        if mean_square < self._gate:
            return
        if self._count == len(self._levels):
            self._levels = np.resize(self._levels, 2 * self._count)
            self._sizes = np.resize(self._sizes, 2 * self._count)
        self._levels[self._count], self._sizes[self._count] = mean_square, len(block)
        self._count += 1
        levels, sizes = self._levels[: self._count], self._sizes[: self._count]
        energy = levels * sizes  # no BLAS: see _sum_squares
        loud = levels >= self._relative * float(energy.sum()) / float(sizes.sum())
        self.gated_frames = int(sizes[loud].sum())
        self._mean_square = float(energy[loud].sum()) / self.gated_frames

    def target_db(self) -> float:
        if not self.gated_frames:
            return self.gain_db
        level = 10 * math.log10(self._mean_square)
        return min(LEVELER_MAX_GAIN_DB, max(LEVELER_MIN_GAIN_DB, TARGET_RMS_DBFS - level))

    def settle(self) -> None:
        """End the analysis: start at the measured gain (no ramp)."""
        if not self.settled:
            self.gain_db = self.target_db()
            self.settled = True

    def apply(self, block: np.ndarray) -> np.ndarray:
        """The block times the gain, ramping (in dB, slew-limited) toward the current target."""
        start = self.gain_db
        step = LEVELER_SLEW_DB_PER_S * len(block) / self.sample_rate
        self.gain_db = min(start + step, max(start - step, self.target_db()))
        if self.gain_db == start:
            return block * np.float32(10 ** (start / 20))
        # At most LEVELER_SLEW_DB_PER_S * block length (< 0.1 dB): a linear ramp in amplitude is smooth.
        ramp = np.linspace(10 ** (start / 20), 10 ** (self.gain_db / 20), len(block) + 1, dtype=np.float32)[1:]
        return block * ramp[:, None]


class _Limiter:
    """Look-ahead peak limiter: output delayed by `delay` frames, |sample| <= ceiling guaranteed.

    Per frame it needs d = max(0, dB over the ceiling). A release ramp (max-plus running max,
    LIMITER_RELEASE_DB_PER_S), a forward window maximum over L frames, then an L-frame moving
    average give a smooth gain reduction that is >= d at every frame: each averaged value's
    window contains that frame. L = LIMITER_LOOKAHEAD_S.
    """

    @staticmethod
    def delay_frames(sample_rate: int) -> int:
        return max(2, round(LIMITER_LOOKAHEAD_S * sample_rate)) - 1

    def __init__(self, sample_rate: int, ceiling: float) -> None:
        self.delay = self.delay_frames(sample_rate)
        self.window = self.delay + 1
        self.ceiling = ceiling
        self.release = LIMITER_RELEASE_DB_PER_S / sample_rate
        self._audio = np.zeros((self.delay, CHANNELS), dtype=np.float32)
        self._reduction = np.zeros(self.delay, dtype=np.float64)
        self._last = 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        if self._last > 0.0 or max(float(block.max()), -float(block.min())) > self.ceiling:
            peak = np.maximum(np.abs(block[:, 0]), np.abs(block[:, 1])).astype(np.float64)
            need = 20 * np.log10(np.maximum(peak / self.ceiling, 1.0))
            ramp = self.release * np.arange(1, len(block) + 1)
            held = np.maximum.accumulate(np.maximum(need + ramp, self._last)) - ramp
            self._last = max(0.0, float(held[-1]))
        else:
            held = np.zeros(len(block))
        audio = np.concatenate((self._audio, block))
        reduction = np.concatenate((self._reduction, held))
        w = self.window
        count = len(audio) - 2 * w + 2
        if count <= 0:
            self._audio, self._reduction = audio, reduction
            return audio[:0]
        out = audio[w - 1 : w - 1 + count]
        if reduction.any():
            windowed = _sliding_max(reduction, w)
            sums = np.concatenate(([0.0], np.cumsum(windowed)))
            smooth = (sums[w:] - sums[:-w]) / w
            out = out * (10 ** (-smooth / 20)).astype(np.float32)[:, None]
        keep = 2 * w - 2
        self._audio, self._reduction = audio[-keep:], reduction[-keep:]
        return out


def _sliding_max(values: np.ndarray, width: int) -> np.ndarray:
    """max(values[j : j + width]) for every full window (van Herk / Gil-Werman, vectorized)."""
    n = len(values)
    padded = np.concatenate((values, np.full(-n % width, -np.inf))).reshape(-1, width)
    prefix = np.maximum.accumulate(padded, axis=1).ravel()
    suffix = np.maximum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    count = n - width + 1
    return np.maximum(suffix[:count], prefix[width - 1 : width - 1 + count])


class _FadeOut:
    """Raised-cosine fade over the last `frames` of `total` frames; the last frame is exactly zero."""

    def __init__(self, total: int, frames: int) -> None:
        self.start = total - frames
        self.frames = frames
        self.position = 0

    def apply(self, block: np.ndarray) -> np.ndarray:
        first, self.position = self.position, self.position + len(block)
        if self.position <= self.start or not self.frames:
            return block
        index = np.arange(max(first, self.start), self.position)
        progress = (index - self.start + 1) / self.frames
        block = block.copy()
        block[index - first] *= (0.5 + 0.5 * np.cos(np.pi * progress)).astype(np.float32)[:, None]
        return block


def _to_pcm16(block: np.ndarray) -> np.ndarray:
    """Float (full scale 1.0) to little-endian int16, never beyond CEILING_INT16."""
    scaled = np.rint(block * np.float32(INT16_FULL_SCALE))
    return np.clip(scaled, -CEILING_INT16, CEILING_INT16).astype("<i2")


# --- processes and files -------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RenderFailed(f"{name} is not installed (apt-get install {PACKAGES[name]})")
    return path


def _check_soundfont(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise RenderFailed(
            f"SoundFont {path} cannot be read ({exc.strerror}); install one (apt-get install {SOUNDFONT_PACKAGE}) "
            f"or set {SOUNDFONT_ENV}"
        ) from exc
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderFailed(f"{path} is not a SoundFont (.sf2) file")


def _check_midi(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise RenderFailed(f"the composition's MIDI file cannot be read ({exc.strerror})") from exc
    if head != b"MThd":
        raise RenderFailed("the composition is not a MIDI file")


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")


def _grow_pipe(pipe: IO[bytes]) -> None:
    """Give a pipe a larger buffer (Linux) so short stalls on either side do not stop the other."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), set_size, PIPE_BYTES)


def _finish_encoder(encoder: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    assert encoder.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        encoder.stdin.close()
    code = _wait(encoder)
    if code != 0:
        raise RenderFailed(f"the MP3 encoder (lame) failed with exit code {code}: {_tail(stderr)}")


def _check_synth(code: int | None, stderr: IO[bytes], frames: int) -> None:
    """FluidSynth exits 0 on many errors (an unreadable MIDI file, a bad SoundFont): read its stderr too."""
    text = _tail(stderr)
    if code is not None and code != 0:
        raise RenderFailed(f"FluidSynth failed with exit code {code}: {text}")
    if "error:" in text.lower():
        raise RenderFailed(f"FluidSynth could not play the composition: {text}")
    if frames == 0:
        raise RenderFailed(f"FluidSynth produced no audio: {text or 'no output'}")


def _wait(proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait(timeout=PROCESS_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _shut_down(procs: list[subprocess.Popen[bytes]], workers: list[_Worker]) -> None:
    """Kill what still runs, let the pipe threads end, close the pipes, collect the processes (no zombies)."""
    for worker in workers:
        worker.stop()
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for worker in workers:
        worker.join()  # each ends once its process is gone (end of file, or a broken pipe)
    for proc in procs:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


# Lines Debian's lame always prints for raw input through libsndfile: noise in an error message.
_STDERR_NOISE = ("libsndfile may ignore -r", "Compile without libsndfile")


def _tail(stream: IO[bytes]) -> str:
    """The end of a tool's captured stderr, without known noise."""
    stream.flush()
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - 4 * STDERR_TAIL_CHARS))
    lines = stream.read().decode(errors="replace").splitlines()
    text = "\n".join(line for line in lines if not any(noise in line for noise in _STDERR_NOISE))
    return text[-STDERR_TAIL_CHARS:].strip()


_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.ENOSPC, errno.EMFILE, errno.ENFILE}


def _os_failure(exc: OSError) -> Exception:
    if exc.errno in _TRANSIENT_ERRNOS:
        return TransientError(f"rendering ran out of resources ({exc.strerror}); try again")
    return RenderFailed(f"rendering failed: {exc}")


def _sum_squares(values: np.ndarray) -> float:
    """Sum of squares in float64 without BLAS (whose worker threads would compete with the tools)."""
    return float(np.square(values, dtype=np.float64).sum())


def _dbfs(ratio: float) -> float:
    return 20 * math.log10(ratio) if ratio > 0 else -math.inf
