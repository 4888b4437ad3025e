"""Chromaprint fingerprints as numpy arrays: make them, store them, align and compare them.

A fingerprint is Chromaprint's raw output: one uint32 "item" per 1365 samples at 11,025 Hz
(`ITEM_SECONDS`, about 0.124 s). Each item is 16 two-bit (Gray-coded) classifier outputs over a
chroma image, so two recordings of the same music give items that differ in a few bits, and the
bit error rate (BER) at the best time offset is the distance used everywhere in Maps:

- identical audio data (the same file, a lossless copy):            BER exactly 0
- the whole file through a lossy encoder (MP3 128k, AAC 128k, OGG): BER 0.001-0.010
- a 5-30 s snippet of the same recording (MP3, -10 dB, 10 dB SNR):  BER p50 0.04, max 0.10
- unrelated music:                                                  BER 0.30-0.50, except that
  near-silence looks alike in every song (see `informative`), the best of a 1,000-song index scores
  down to 0.14 against a 5 s snippet (0.33 at 10 s), and two songs that end on the same groove or
  chord score 0.04-0.10 over their last 5 s (`fpindex.accepted` asks for a margin over the runner-up)
(measured on 300 rendered songs, docs/maps-fingerprint-bench.md)

Chromaprint needs about 20 items (2.5 s) of context before its first item, so a 10 s snippet yields
~59 items where the whole song has ~80 for the same 10 s. `fingerprint_samples` feeds Chromaprint at
the caller's rate (Chromaprint resamples to 11,025 Hz itself, as `fpcalc` does), so every caller gets
the same items whatever rate it decoded at.

Everything here is a pure function over arrays; `soundcanvas.maps.fpindex` keeps them in DynamoDB.
The thresholds are measured by `python -m bench.maps fingerprints` (docs/maps-fingerprint-bench.md).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import chromaprint
import numpy as np

SAMPLE_RATE_HZ = 11025  # Chromaprint's internal rate
ITEM_HOP_SAMPLES = 1365  # Chromaprint's frame hop at SAMPLE_RATE_HZ (frame 4096, overlap 4096 - 4096 // 3)
ITEM_SECONDS = ITEM_HOP_SAMPLES / SAMPLE_RATE_HZ  # ~0.1238 s of audio per item
ITEM_BITS = 32
ALGORITHM = chromaprint.Fingerprinter.ALGORITHM_DEFAULT  # TEST2, AcoustID's algorithm
MIN_ITEMS = 12  # ~1.5 s of items (4 s of audio): fewer cannot tell songs apart (BER noise ~0.05)
WARM_UP_ITEMS = 21  # audio Chromaprint consumes before its first item: items = seconds / ITEM_SECONDS - 21
MIN_ACTIVITY_BITS = 2.5  # see `informative`
SPEED_STEP = 0.005  # the speed search's step: items lose BER ~0.10 at 0.25 % off the right speed, 0.13-0.20 at 0.5 %
MAX_SPEED_CHANGE = 0.04  # ... and its reach: +-4 %, about two thirds of a semitone
SILENCE_RMS = 10 ** (-60 / 20)  # -60 dBFS: below this the audio is digital silence or hiss
_FEED_SAMPLES = 1 << 16  # feed Chromaprint in slices so a long file never makes one huge bytes copy

# BER thresholds for duplicate_kind. Chromaprint is deterministic, so the same decoded audio (a byte copy,
# WAV <-> FLAC) gives identical items: BER exactly 0. Lossy re-encodes of a whole file stay remarkably
# close at the file's own alignment (measured on 100 songs: MP3 128k max 0.002, AAC 128k max 0.004, OGG q4 max 0.010;
# docs/maps-fingerprint-bench.md), so any differing bit means "different-encoding".
SAME_RECORDING_MAX_BER = 0.0
DUPLICATE_MAX_BER = 0.20  # above this two whole tracks are not the same recording at all


class FingerprintError(ValueError):
    """The audio cannot be fingerprinted (too short, silent, or not mono samples); the message says what to do."""


@dataclass(frozen=True)
class Alignment:
    """The best way to lay `query` over `reference`.

    bit_error_rate: share of differing bits over the overlap (0 = identical, ~0.5 = unrelated).
    offset_items: index in `reference` where query item 0 falls (negative: the query starts earlier).
    overlap_items: how many items were compared.
    """

    bit_error_rate: float
    offset_items: int
    overlap_items: int

    @property
    def offset_seconds(self) -> float:
        return self.offset_items * ITEM_SECONDS


def fingerprint_samples(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Chromaprint items (uint32) of mono float samples in [-1, 1] (int16 is accepted as is).

    Raises FingerprintError when the audio is too short (under ~4 s) or silent: both give items that
    match everything or nothing, so it is better to refuse them with a message a person can act on.
    """
    audio = np.asarray(samples)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1:
        raise FingerprintError(f"expected mono samples (one dimension), got shape {audio.shape}; "
                               "mix the channels down first")
    if audio.dtype == np.int16:
        pcm = audio
    else:
        floats = np.nan_to_num(audio.astype(np.float32, copy=False))
        pcm = (np.clip(floats, -1.0, 1.0) * 32767.0).astype(np.int16)
    items, _ = fingerprint_pcm16([pcm], sample_rate_hz)
    return items


def fingerprint_pcm16(chunks: Iterable[np.ndarray], sample_rate_hz: int) -> tuple[np.ndarray, float]:
    """(Chromaprint items, seconds) of mono int16 samples given a chunk at a time, in order: memory bounded by a
    chunk, for recordings of hours (soundcanvas.core.audio.pcm16_chunks). The refusals of `fingerprint_samples`."""
    if sample_rate_hz < 1000:
        raise FingerprintError(f"sample rate {sample_rate_hz} Hz is not an audio rate; decode the audio at 11025 Hz or more")
    printer = chromaprint.Fingerprinter(ALGORITHM)
    printer.start(int(sample_rate_hz), 1)
    count, energy = 0, 0.0  # samples seen, and the sum of their squares (full scale 1)
    for chunk in chunks:
        pcm = np.asarray(chunk, dtype=np.int16)
        for start in range(0, pcm.size, _FEED_SAMPLES):
            part = pcm[start:start + _FEED_SAMPLES]
            printer.feed(part.tobytes())
            energy += float(np.square(part, dtype=np.float64).sum()) / 32768.0**2
        count += pcm.size
    seconds = count / sample_rate_hz
    min_seconds = min_audio_seconds()
    if seconds < min_seconds:
        raise FingerprintError(f"the audio is {seconds:.1f} s long; at least {min_seconds:.1f} s is needed to recognise it")
    if math.sqrt(energy / count) < SILENCE_RMS:
        raise FingerprintError("the audio is silent (below -60 dBFS); record or upload a part where the music plays")
    raw, _ = chromaprint.decode_fingerprint(printer.finish())
    items = np.asarray(raw, dtype=np.uint32)
    if items.size < MIN_ITEMS:
        raise FingerprintError(f"the audio gives only {items.size} fingerprint items; send at least "
                               f"{min_seconds:.1f} s of music")
    if np.unique(items).size <= max(2, items.size // 20):
        raise FingerprintError("the audio does not change (a steady tone or near silence); "
                               "send a part where the music plays")
    return items, seconds


def speeds() -> tuple[float, ...]:
    """The speeds the speed search tries, nearest to 1 first: 1 +- SPEED_STEP up to MAX_SPEED_CHANGE."""
    steps = round(MAX_SPEED_CHANGE / SPEED_STEP)
    return tuple(round(1 + sign * k * SPEED_STEP, 6) for k in range(1, steps + 1) for sign in (-1, 1))


def speed_variants(samples: np.ndarray, sample_rate_hz: int) -> list[tuple[float, np.ndarray]]:
    """(speed, items) for each of `speeds()`: the items the audio would give had it been played at 1 / speed of
    the speed it has, so a recording that plays 2 % fast (pitch and tempo up, as a resampled or sped-up copy
    does) gives at speed 1.02 about the items of the original. Chromaprint is simply told a sample rate of
    rate / speed (to the hertz): its own resampling to SAMPLE_RATE_HZ then undoes the change (a 3 % change: BER
    0.02-0.05 against the original's items at the right speed, measured). A speed at which the audio cannot be
    fingerprinted (too short once slowed down, or too still) is left out rather than refused: the plain
    fingerprint has already passed."""
    variants = []
    for speed in speeds():
        try:
            variants.append((speed, fingerprint_samples(samples, round(sample_rate_hz / speed))))
        except FingerprintError:
            continue
    return variants


def min_audio_seconds() -> float:
    """Seconds of audio that give MIN_ITEMS items (Chromaprint spends ~2.5 s warming up)."""
    return math.ceil((MIN_ITEMS + WARM_UP_ITEMS + 1) * ITEM_SECONDS * 10) / 10


def to_bytes(items: np.ndarray) -> bytes:
    """The stored fingerprint file: Chromaprint's own compressed encoding (about 1.5 bytes an item, raw
    base64-free bytes), readable by any Chromaprint (`chromaprint_decode_fingerprint`)."""
    values = np.asarray(items, dtype=np.uint32).astype(np.int32)  # the C API takes int32
    return bytes(chromaprint.encode_fingerprint(values.tolist(), ALGORITHM, base64=False))


def from_bytes(data: bytes) -> np.ndarray:
    """Items back from `to_bytes` (also accepts the base64 text form `fpcalc` prints)."""
    if not data:
        raise FingerprintError("the stored fingerprint is empty")
    text_form = all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in data[:64])
    try:
        raw, _ = chromaprint.decode_fingerprint(bytes(data), base64=text_form)
    except chromaprint.FingerprintError as exc:
        raise FingerprintError("the stored fingerprint is not Chromaprint's encoding") from exc
    return np.asarray(raw, dtype=np.uint32)


def to_text(items: np.ndarray) -> str:
    """The URL-safe base64 text form (what `fpcalc` prints and AcoustID accepts)."""
    return base64.urlsafe_b64encode(to_bytes(items)).rstrip(b"=").decode("ascii")


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint32 (numpy's bitwise_count: one instruction per item)."""
    return np.bitwise_count(values)


def informative(items: np.ndarray, *, min_activity_bits: float = MIN_ACTIVITY_BITS, window_items: int = 8) -> np.ndarray:
    """Mask of the items that carry music rather than near-silence.

    In a silent stretch (a song's reverb tail, a pause, dither) Chromaprint's items barely change from one
    to the next, and they look alike in every song: measured, unrelated songs' silent tails score BER
    0.01 against each other, so a snippet that is mostly silence would "match" any song that ends in
    silence. Music flips ~4-5 bits between neighbouring items (1st percentile ~3); silence 0-2. An item is
    informative when the mean flip count over the `window_items` around it reaches `min_activity_bits`.
    """
    values = np.asarray(items, dtype=np.uint32)
    if values.size < 2:
        return np.zeros(values.size, bool)
    flips = popcount(values[1:] ^ values[:-1]).astype(np.float64)
    flips = np.concatenate([flips, flips[-1:]])
    activity = np.convolve(flips, np.ones(window_items) / window_items, mode="same")
    return activity >= min_activity_bits


def best_alignment(query: np.ndarray, reference: np.ndarray, *, max_offset_items: int | None = None,
                   center_offset_items: int = 0, min_overlap_items: int | None = None,
                   query_mask: np.ndarray | None = None) -> Alignment:
    """The offset of `reference` where `query` fits best, and the BER there, over all offsets at once.

    Offsets range over every placement that overlaps at least `min_overlap_items` items (default: half
    of the shorter fingerprint, so a short edge overlap cannot win by luck); `max_offset_items` keeps
    only offsets within that many items of `center_offset_items` (the rescoring after a vote knows the
    offset to a few items, which makes it ~100x cheaper). The work is one XOR + popcount per item pair
    over a sliding-window view: a 30 s query against a 3-minute song in about a millisecond.
    `query_mask` (bool per query item) leaves items out of the count (see `informative`); overlaps then
    count the kept items only.
    """
    q = np.ascontiguousarray(query, dtype=np.uint32)
    r = np.ascontiguousarray(reference, dtype=np.uint32)
    nq, nr = q.size, r.size
    if nq == 0 or nr == 0:
        return Alignment(0.5, 0, 0)
    shortest = min(nq, nr)
    min_overlap = max(1, min(shortest, shortest // 2 if min_overlap_items is None else min_overlap_items))
    low, high = min_overlap - nq, nr - min_overlap  # offsets with at least min_overlap items in common
    if max_offset_items is not None:
        low = max(low, center_offset_items - max_offset_items)
        high = min(high, center_offset_items + max_offset_items)
    if low > high:
        return Alignment(0.5, center_offset_items, 0)
    # Pad the reference so every offset in [low, high] reads a full window of nq items; padded
    # positions are masked out of both the error count and the overlap.
    pad_left, pad_right = max(0, -low), max(0, high + nq - nr)
    padded = np.concatenate([np.zeros(pad_left, np.uint32), r, np.zeros(pad_right, np.uint32)])
    valid = np.concatenate([np.zeros(pad_left, np.uint8), np.ones(nr, np.uint8), np.zeros(pad_right, np.uint8)])
    start = low + pad_left
    count = high - low + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, nq)[start:start + count]
    errors = popcount(windows ^ q)
    if query_mask is not None:
        keep = np.asarray(query_mask, dtype=np.uint8)
        mask = np.lib.stride_tricks.sliding_window_view(valid, nq)[start:start + count] * keep
        bit_errors = (errors * mask).sum(axis=1, dtype=np.int64)
        overlaps = mask.sum(axis=1, dtype=np.int64)
    elif pad_left or pad_right:
        mask = np.lib.stride_tricks.sliding_window_view(valid, nq)[start:start + count]
        bit_errors = (errors * mask).sum(axis=1, dtype=np.int64)
        overlaps = mask.sum(axis=1, dtype=np.int64)
    else:
        bit_errors = errors.sum(axis=1, dtype=np.int64)
        overlaps = np.full(count, nq, dtype=np.int64)
    rates = bit_errors / (ITEM_BITS * np.maximum(overlaps, 1))
    best = int(np.argmin(rates))
    return Alignment(float(rates[best]), low + best, int(overlaps[best]))


def duplicate_kind(bit_error_rate: float) -> Literal["same-recording", "different-encoding"]:
    """Whether two whole tracks found to be duplicates hold the same audio data ("same-recording":
    a byte copy, a lossless conversion, a resample) or the same recording re-encoded lossily
    ("different-encoding": MP3/AAC/OGG of the same master, a resample). Only meaningful for BER <=
    DUPLICATE_MAX_BER. The split is at zero: lossless copies decode to the same samples and Chromaprint is
    deterministic, while even MP3 128k flips a few bits in ten thousand."""
    return "same-recording" if bit_error_rate <= SAME_RECORDING_MAX_BER else "different-encoding"


def similarity(bit_error_rate: float) -> float:
    """Score in 0..1 from a BER: 1 identical, 0 at BER >= 0.5 (what unrelated audio scores)."""
    return float(min(1.0, max(0.0, 1.0 - 2.0 * bit_error_rate)))


def track_similarity(a: np.ndarray, b: np.ndarray, *, max_offset_items: int = 80) -> float:
    """Whole-track similarity in 0..1: the BER at the best offset within +-10 s (start trimming, encoder
    delay), counted over the longer track so a track that only contains the other one scores lower."""
    alignment = best_alignment(a, b, max_offset_items=max_offset_items)
    if alignment.overlap_items == 0:
        return 0.0
    coverage = alignment.overlap_items / max(np.asarray(a).size, np.asarray(b).size)
    return similarity(alignment.bit_error_rate) * coverage
