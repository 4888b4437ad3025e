"""Drum transcription: mono audio -> hits (time, lane, velocity) in eight lanes.

Method: non-negative matrix factorisation against fixed drum templates. The magnitude spectrogram
(1024-sample frames, hop 256 at 22050 Hz: 11.6 ms) is pooled into semitone-wide bands (`band_spectrogram`)
and explained as V ~= W H by KL-divergence multiplicative updates, W holding a few spectral templates
per lane (fixed) plus a few free "background" columns that learn whatever is not drums (bass, piano,
noise), so a band's sustained notes do not have to be explained by a drum. A lane's activation is the sum
of its templates' rows of H; hits are the activation's local maxima that rise enough above what came
just before and clear a per-lane threshold relative to the recording's loud frames.

Why this and not onsets + band-energy rules: in a first trial the templates reached onset F1 of about
0.95 on drums alone and 0.86 in a full mix, the rules 0.71 / 0.59; the rules cannot tell a snare from
a piano chord sharing its band, while the factorisation explains the chord with the background columns.
docs/maps-drums-bench.md has the measured figures (python -m bench.maps drums).

The kick is then decided by a small logistic regression (`classified_peaks`) over candidate peaks at a quarter
of the lane's threshold, on the activations around each candidate (`candidate_features`: its attack and decay,
what the other lanes do there, its level against the song's own loud peaks). The ride keeps its threshold, and a
ride peak where the detector found a hi-hat (within PEAK_WINDOW_FRAMES) is dropped (`rides_apart_from_hats`): one
cymbal hit, not two notes.

The snare, the hi-hats, the toms and the crash come from an onset detector instead (`detected_hits`): small MLPs (one hidden
layer of 64 ReLU units), averaged, read every frame of the log band spectrogram relative to the song's loud
level, with the frames 35 ms before to 140 ms after it (`detector_inputs`), and give per drum the probability
that it starts there; hits are the probability's peaks over a cut. Three answer for the snare, toms and crash,
three more, trained with equalised copies of the renders too, for the hi-hats (`DrumModel.detector_votes`). Where NMF's
free background columns took the energy of a recorded hi-hat that the templates fit poorly, the detector,
trained on many more timbres (grooves on 48 drum kits we synthesize as well as the two SoundFonts), still
hears it: on validation kits it never heard, hi-hat F1 0.75 -> 0.82 alone and 0.68 -> 0.81 in a mix, snare
0.84 -> 0.87 and 0.79 -> 0.83; taking the toms and crash too, low toms 0.62 -> 0.63 and 0.37 -> 0.62 (gated), crash
0.26 -> 0.50 and 0.12 -> 0.46.

The templates, thresholds, classifier and detector weights (drum_templates.npz, beside this module) are built by
tools/build_drum_templates.py from renders with two SoundFonts: FluidR3_GM (MIT) and
MuseScore_General (MIT, parts CC0 / public domain): single GM drum hits on
each of their drum kits for the templates (3 k-means centres a lane, so a lane knows more than one
drum's sound) and our own rendered grooves (bench/maps/grooves.py, tune split) for the thresholds, the
classifier and the detector; the detector also from grooves on 48 drum kits we synthesize
(bench/maps/synthkits.py), and its hi-hat outputs from grooves on 24 kits that mix recorded CC0 drums (Sonic Pi's
samples, from freesound.org) with synthesized ones (bench/maps/cc0kits.py). The drum bench's validation split
(three recorded kits) checks the model on timbres it never learnt from. The derived file is MIT; no third-party
drum model is used, and the only recorded drums it learns from are CC0. The held-out evaluations render with
TimGM6mb and play two other recorded acoustic kits, never learnt from here (but until 2026-12-01 heard while
choosing: the validation split then held sf_GMbank and GMRockKit, which play their recordings).

Lanes (LANES) follow General MIDI (GM_NOTE_TO_LANE): kick 35/36; snare 38/40 (and 37 side stick, 39 clap);
closed hi-hat 42/44 (pedal); open hi-hat 46; high toms 47/48/50; low toms 41/43/45; crash 49/57 (and
52 china, 55 splash); ride 51/59 (and 53 bell).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import resample_poly

from soundcanvas.maps.lanes import HI_HATS, LANES

SAMPLE_RATE_HZ = 22050
FRAME_SIZE = 1024
HOP_SIZE = 256
FRAME_RATE_HZ = SAMPLE_RATE_HZ / HOP_SIZE
BANDS_PER_OCTAVE = 12
LOWEST_HZ = 30.0
GM_NOTE_TO_LANE: dict[int, str] = {
    35: "kick", 36: "kick",
    37: "snare", 38: "snare", 39: "snare", 40: "snare",
    42: "hihat_closed", 44: "hihat_closed", 46: "hihat_open",
    47: "tom_high", 48: "tom_high", 50: "tom_high",
    41: "tom_low", 43: "tom_low", 45: "tom_low",
    49: "crash", 52: "crash", 55: "crash", 57: "crash",
    51: "ride", 53: "ride", 59: "ride",
}
TEMPLATES_PATH = Path(__file__).with_name("drum_templates.npz")
BACKGROUND_COMPONENTS = 6
ITERATIONS = 30
BACKGROUND_EVERY = 3  # background columns are updated every third iteration: they change slowly
CONTEXT_FRAMES = (0, 3, 6)  # a feature frame stacks the spectrum now, 35 ms and 70 ms later: how a hit decays
PEAK_WINDOW_FRAMES = 2  # a hit is the largest activation within +-2 frames (23 ms)
RISE_FRAMES = 3  # ... and rises above the smallest value of the 3 frames before it
MIN_GAP_SECONDS = 0.045  # two hits of one lane closer than this are one hit (the louder)
SILENCE_RMS = 1e-4  # quieter than this (about -80 dBFS) is silence: no hits
EPSILON = 1e-9
CANDIDATE_FRACTION = 0.25  # classified lanes: candidates are peaks at a quarter of the lane's threshold ...
CANDIDATE_RISE = 1.1  # ... rising at least 10 % above the frames before
CONTEXT_OFFSETS = (-6, -3, -1, 1, 3, 6, 12)  # frames around a candidate whose activation (relative to it) it sees
CANDIDATE_FEATURES = 1 + len(CONTEXT_OFFSETS) + 2 * len(LANES) + 1
CLASSIFIER_CUT = 0.5
LOG_FLOOR = 1e-4
# the onset detector (`detected_hits`): an MLP over the log band spectrogram at these frames around each frame
DETECTOR_OFFSETS = (-3, -2, -1, 0, 1, 2, 3, 5, 8, 12)
DETECTOR_TARGETS = (*LANES[:2], "hihat", *LANES[3:])  # its outputs: "hihat" is any hi-hat, open or closed
DETECTOR_CHUNK_FRAMES = 4096  # frames run at once (48 s; 12 MB of inputs)
# Outputs whose cut follows the song (song_cut): the snare and the hi-hats play all through a song, so the peaks
# that pass their fixed cut tell how sure the detector is of that recording's drums. A peak only the song's cut
# lets through must also be heard by the templates: its lane's activation at SONG_CUT_GATE times the lane's
# threshold (the low toms' gate, detector_gates), or bass and piano parts without drums, whose snare output
# reaches 0.5 now and then, would get their doubtful snares doubled (10 parts: 63 -> 120 snares; gated 82; 71 since
# every detected snare must also reach half its threshold, the tool's DETECTOR_GATES). Chosen on the validation
# split (mean of its three kits' means, alone/mix): snare 0.85/0.76 -> 0.86/0.79 (0.89/0.78 with the snare's gate),
# hi-hat 0.78/0.76 -> 0.79/0.78; the toms and the crash, a few hits a song, did not gain (docs/maps.md#figures).
SONG_CUT_TARGETS = ("snare", "hihat")
SONG_CUT_FRACTION = 0.5
SONG_CUT_GATE = 1.0


class NoDrumsFound(ValueError):
    """Raised by grid.estimate_grid when the audio has too few drum hits for a map (silence, or music
    without drums); its message ("no drums were found ...") is written for the person who uploaded it."""


@dataclass(frozen=True)
class Hit:
    """One drum hit: when (seconds from the start of the audio), which lane, how loud (0..1)."""

    time_seconds: float
    lane: str
    velocity: float


@dataclass(frozen=True)
class DrumModel:
    """Templates (bands x K, columns summing to 1), each column's lane index, and per-lane thresholds
    (fraction of the loud-frame level), rise ratios used by peak picking, and latencies (seconds from a
    hit to its activation's peak, subtracted from the peak's time)."""

    templates: np.ndarray
    template_lanes: np.ndarray
    thresholds: np.ndarray
    rises: np.ndarray
    latencies_seconds: np.ndarray
    masks: np.ndarray  # (lanes, lanes): a peak of lane a is dropped where masks[a, b] * activation of b exceeds it
    # Optional per-lane logistic regression on candidate peaks (lanes where `classified` is True): a candidate
    # (a peak at CANDIDATE_FRACTION of the threshold) is kept where sigmoid(((x - mean) / scale) . weights + bias)
    # reaches CLASSIFIER_CUT, x = candidate_features(...). Lanes without it use threshold, rise and masks.
    classified: np.ndarray | None = None  # (lanes,) bool
    feature_mean: np.ndarray | None = None  # (lanes, CANDIDATE_FEATURES)
    feature_scale: np.ndarray | None = None  # (lanes, CANDIDATE_FEATURES)
    weights: np.ndarray | None = None  # (lanes, CANDIDATE_FEATURES)
    bias: np.ndarray | None = None  # (lanes,)
    # Optional onset detector for the lanes in `detected` (the snare, both hi-hats, ...), replacing their NMF
    # hits: the standardisation of detector_inputs(...), then MLPs (members; each a tuple of (weights, bias) layers,
    # ReLU between them and a sigmoid per DETECTOR_TARGETS output at the end) whose probabilities are averaged per
    # output over the members that vote for it (detector_votes), and per output the probability a hit needs
    # (detector_cuts)
    detected: tuple[str, ...] = ()
    detector_mean: np.ndarray | None = None
    detector_scale: np.ndarray | None = None
    detector_members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...] = ()
    detector_cuts: np.ndarray | None = None  # (len(DETECTOR_TARGETS),)
    detector_votes: np.ndarray | None = None  # (members, len(DETECTOR_TARGETS)) 0/1: who answers for what; all if None
    # (lanes,): a detected hit is kept only where its lane's activation reaches this fraction of the lane's
    # threshold (the templates must hear it too: the low toms' output fires on bass notes in music without drums);
    # 0 or None: no gate. Not for the hi-hats (found as one; the build tool refuses it)
    detector_gates: np.ndarray | None = None

    def __post_init__(self) -> None:
        if ("hihat_closed" in self.detected) != ("hihat_open" in self.detected):
            raise ValueError("the detector finds the hi-hats as one: detect both hi-hat lanes or neither")


def resampled(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Mono float32 at SAMPLE_RATE_HZ (polyphase resampling when the input's rate differs)."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1) if audio.shape[1] <= 8 else audio.mean(axis=0)
    if sample_rate_hz != SAMPLE_RATE_HZ:
        divisor = np.gcd(int(sample_rate_hz), SAMPLE_RATE_HZ)
        audio = resample_poly(audio, SAMPLE_RATE_HZ // divisor, int(sample_rate_hz) // divisor).astype(np.float32)
    return np.nan_to_num(audio)


@lru_cache(maxsize=1)
def band_matrix() -> np.ndarray:
    """(bands, FRAME_SIZE//2 + 1) 0/1 matrix pooling FFT bins into BANDS_PER_OCTAVE bands an octave
    (one band per bin where bins are wider than that, at the bottom); bins below LOWEST_HZ are dropped."""
    freqs_hz = np.fft.rfftfreq(FRAME_SIZE, 1.0 / SAMPLE_RATE_HZ)
    keep = freqs_hz >= LOWEST_HZ
    index = np.full(freqs_hz.size, -1)
    semitone = np.round(BANDS_PER_OCTAVE * np.log2(freqs_hz[keep] / LOWEST_HZ)).astype(int)
    _, index[keep] = np.unique(semitone, return_inverse=True)
    matrix = np.zeros((int(index.max()) + 1, freqs_hz.size), dtype=np.float32)
    matrix[index[keep], np.flatnonzero(keep)] = 1.0
    return matrix


def band_frequencies_hz() -> np.ndarray:
    """The centre frequency of each band of band_matrix (the mean of its bins' frequencies)."""
    pool = band_matrix()
    return (pool @ np.fft.rfftfreq(FRAME_SIZE, 1.0 / SAMPLE_RATE_HZ)) / pool.sum(axis=1)


def features(audio: np.ndarray) -> np.ndarray:
    """(len(CONTEXT_FRAMES) * bands, frames): the band spectrogram stacked with itself shifted by each of
    CONTEXT_FRAMES, so a template holds a hit's spectrum and its decay (a closed hi-hat and an open one,
    a ride and a crash, share their first frame but not the ones after)."""
    return stacked_features(band_spectrogram(audio))


def stacked_features(spec: np.ndarray) -> np.ndarray:
    """features(...) of a band spectrogram already computed."""
    frames = spec.shape[1]
    padded = np.pad(spec, ((0, 0), (0, max(CONTEXT_FRAMES))))
    return np.concatenate([padded[:, shift:shift + frames] for shift in CONTEXT_FRAMES], axis=0)


def band_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(bands, frames) magnitude spectrogram of mono audio at SAMPLE_RATE_HZ, frame t centred on
    t * HOP_SIZE samples (Hann window, zero padding at both ends)."""
    padded = np.pad(np.asarray(audio, dtype=np.float32), (FRAME_SIZE // 2, FRAME_SIZE // 2))
    if padded.size < FRAME_SIZE:
        padded = np.pad(padded, (0, FRAME_SIZE - padded.size))
    frames = sliding_window_view(padded, FRAME_SIZE)[::HOP_SIZE]
    window = np.hanning(FRAME_SIZE).astype(np.float32)
    pool = band_matrix()
    out = np.empty((pool.shape[0], frames.shape[0]), dtype=np.float32)
    chunk = 2048  # frames at a time: bounds the complex spectrum's memory on long songs
    for start in range(0, frames.shape[0], chunk):
        spectrum = np.abs(np.fft.rfft(frames[start:start + chunk] * window, axis=1)).astype(np.float32)
        out[:, start:start + chunk] = pool @ spectrum.T
    return out


@lru_cache(maxsize=1)
def load_model(path: Path = TEMPLATES_PATH) -> DrumModel:
    """The templates, thresholds, classifiers and detector built by tools/build_drum_templates.py (read once per
    process)."""
    with np.load(path, allow_pickle=False) as data:
        optional: dict[str, Any] = {
            name: np.asarray(data[name], dtype=bool if name == "classified" else np.float32)
            for name in ("classified", "feature_mean", "feature_scale", "weights", "bias", "detector_mean",
                         "detector_scale", "detector_cuts", "detector_votes", "detector_gates") if name in data}
        if "detected" in data:
            optional["detected"] = tuple(str(lane) for lane in data["detected"])
            optional["detector_members"] = tuple(
                tuple((np.asarray(data[f"detector_w{m}_{i}"], dtype=np.float32),
                       np.asarray(data[f"detector_b{m}_{i}"], dtype=np.float32)) for i in range(int(data["detector_depth"])))
                for m in range(int(data["detector_member_count"])))
        return DrumModel(templates=np.asarray(data["templates"], dtype=np.float32),
                         template_lanes=np.asarray(data["template_lanes"], dtype=int),
                         thresholds=np.asarray(data["thresholds"], dtype=np.float32),
                         rises=np.asarray(data["rises"], dtype=np.float32),
                         latencies_seconds=np.asarray(data["latencies_seconds"], dtype=np.float32),
                         masks=np.asarray(data["masks"], dtype=np.float32), **optional)


def activations(spectrogram: np.ndarray, templates: np.ndarray, *, background: int = BACKGROUND_COMPONENTS,
                iterations: int = ITERATIONS, seed: int = 0) -> np.ndarray:
    """H (K, frames) of V ~= [templates | B] [H ; H_B] under the generalised KL divergence: templates
    fixed, B (`background` free columns, seeded) learned alongside, so that notes that are not drums
    are explained by B rather than by a drum. Only the drum rows are returned."""
    v = (spectrogram + EPSILON).astype(np.float32, copy=False)
    bands, frames = v.shape
    k = templates.shape[1]
    rng = np.random.default_rng(seed)
    w = np.concatenate([templates, rng.uniform(0.5, 1.5, (bands, background)).astype(np.float32)], axis=1)
    w[:, k:] /= w[:, k:].sum(axis=0, keepdims=True)
    scale = float(v.sum(axis=0).mean())
    h = np.full((k + background, frames), scale / (k + background), dtype=np.float32)
    for iteration in range(iterations):
        ratio = v / (w @ h + EPSILON)
        h *= (w.T @ ratio) / (w.sum(axis=0)[:, None] + EPSILON)  # columns of w sum to 1: the denominator is ~1
        if background and iteration % BACKGROUND_EVERY == 0:
            ratio = v / (w @ h + EPSILON)
            wb = w[:, k:] * (ratio @ h[k:].T) / (h[k:].sum(axis=1)[None, :] + EPSILON)
            norm = wb.sum(axis=0, keepdims=True) + EPSILON
            w[:, k:] = wb / norm
            h[k:] *= norm.T
    return h[:k]


def lane_activations(h: np.ndarray, template_lanes: np.ndarray) -> np.ndarray:
    """(len(LANES), frames): the sum of each lane's template rows."""
    out = np.zeros((len(LANES), h.shape[1]), dtype=np.float32)
    np.add.at(out, template_lanes, h)
    return out


def loud_level(spectrogram: np.ndarray) -> float:
    """The reference a threshold is a fraction of: the 99th percentile of the frames' total magnitude,
    so one loud crash does not silence the rest and a quiet song is judged against itself."""
    totals = spectrogram.sum(axis=0)
    return float(np.percentile(totals, 99)) if totals.size else 0.0


def pick_peaks(activation: np.ndarray, threshold: float, rise: float) -> np.ndarray:
    """Frames where `activation` is the largest within +-PEAK_WINDOW_FRAMES, at least `threshold`, and at
    least `rise` times above the smallest of the RISE_FRAMES frames before it (a new attack, not a decay)."""
    n = activation.size
    if n < 3:
        return np.zeros(0, dtype=int)
    w = PEAK_WINDOW_FRAMES
    padded = np.pad(activation, (w, w), constant_values=-np.inf)
    local_max = sliding_window_view(padded, 2 * w + 1).max(axis=1)
    before = np.pad(activation, (RISE_FRAMES, 0), mode="edge")
    floor = sliding_window_view(before[:-1], RISE_FRAMES).min(axis=1)
    candidates = np.flatnonzero((activation >= local_max) & (activation >= threshold)
                                & (activation >= rise * floor + threshold * 0.5))
    if candidates.size == 0:
        return candidates
    gap = max(1, round(MIN_GAP_SECONDS * FRAME_RATE_HZ))
    kept: list[int] = []
    for frame in candidates:  # equal plateaus and near neighbours: keep the first of the louder
        if kept and frame - kept[-1] < gap:
            if activation[frame] > activation[kept[-1]]:
                kept[-1] = int(frame)
            continue
        kept.append(int(frame))
    return np.asarray(kept, dtype=int)


def candidate_features(activations_rel: np.ndarray, lane: int, peaks: np.ndarray) -> np.ndarray:
    """(len(peaks), CANDIDATE_FEATURES) for the candidate peaks of one lane, from the lanes' activations
    relative to the loud level (`activations_rel`, lanes x frames), all in log: the peak's level; the
    lane's activation CONTEXT_OFFSETS frames around it relative to the peak (attack and decay: an open
    hat rings on, a closed one does not); every lane's largest activation within +-PEAK_WINDOW_FRAMES
    relative to the peak and absolute (what else sounds there); the peak relative to the lane's loud
    candidates (90th percentile), so a level is judged against the song's own."""
    n = activations_rel.shape[1]
    logs = np.log(activations_rel + LOG_FLOOR)
    w = PEAK_WINDOW_FRAMES
    peak = logs[lane][peaks]
    nearby = logs[:, np.clip(peaks[:, None] + np.arange(-w, w + 1), 0, n - 1)].max(axis=2)  # (lanes, peaks)
    columns = [peak[None]]
    columns += [(logs[lane][np.clip(peaks + offset, 0, n - 1)] - peak)[None] for offset in CONTEXT_OFFSETS]
    columns += [nearby - peak[None], nearby]
    reference = float(np.percentile(peak, 90)) if peak.size else 0.0
    columns.append((peak - reference)[None])
    return np.concatenate(columns, axis=0).T


def classified_peaks(activations_rel: np.ndarray, lane: int, model: DrumModel) -> np.ndarray:
    """The candidate peaks of a classified lane that its logistic regression keeps."""
    assert model.feature_mean is not None and model.feature_scale is not None
    assert model.weights is not None and model.bias is not None
    peaks = pick_peaks(activations_rel[lane], float(model.thresholds[lane]) * CANDIDATE_FRACTION, CANDIDATE_RISE)
    if peaks.size == 0:
        return peaks
    x = (candidate_features(activations_rel, lane, peaks) - model.feature_mean[lane]) / model.feature_scale[lane]
    z = np.clip(x @ model.weights[lane] + float(model.bias[lane]), -30.0, 30.0)
    return peaks[1.0 / (1.0 + np.exp(-z)) >= CLASSIFIER_CUT]


def hits_from_activations(lanes: np.ndarray, level: float, model: DrumModel) -> list[Hit]:
    """Peak-pick every lane's activation but the detector's (thresholds are fractions of `level`), drop peaks masked by a
    similar-sounding louder lane (model.masks, learned on the tuning split), each peak moved earlier by
    the lane's latency. Velocity is the square root of the peak relative to the lane's loud peaks (90th
    percentile), clipped to 0.05..1: a ghost note is soft beside the backbeat whatever the mix level."""
    hits: list[Hit] = []
    if level <= 0:
        return hits
    w = PEAK_WINDOW_FRAMES
    nearby = sliding_window_view(np.pad(lanes, ((0, 0), (w, w))), 2 * w + 1, axis=1).max(axis=2)
    relative = lanes / level
    for index, lane in enumerate(LANES):
        if lane in model.detected:
            continue
        activation = relative[index]
        latency = float(model.latencies_seconds[index])
        if model.classified is not None and bool(model.classified[index]):
            peaks = classified_peaks(relative, index, model)
        else:
            peaks = pick_peaks(activation, float(model.thresholds[index]), float(model.rises[index]))
        if peaks.size and model.masks[index].any():
            # a lane whose sound resembles a louder one (a ride under closed hats, a low tom under a kick)
            masking = (model.masks[index][:, None] * nearby[:, peaks]).max(axis=0) / level
            peaks = peaks[activation[peaks] >= masking]
        for frame, velocity in zip(peaks, velocities(activation[peaks]), strict=True):
            hits.append(Hit(round(max(0.0, frame / FRAME_RATE_HZ - latency), 4), lane, velocity))
    hits.sort(key=lambda hit: (hit.time_seconds, LANES.index(hit.lane)))
    return hits


def velocities(levels: np.ndarray) -> list[float]:
    """Each hit's velocity from its lane's activation: the square root of its level relative to the lane's loud
    hits (90th percentile), clipped to 0.05..1, so a ghost note is soft beside the backbeat whatever the mix level."""
    loud = float(np.percentile(levels, 90)) if levels.size >= 3 else float(levels.max(initial=1.0))
    return [round(float(np.clip(np.sqrt(level / loud), 0.05, 1.0)), 3) for level in levels]


def detector_inputs(spec: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """(frames, bands * len(DETECTOR_OFFSETS)) for frames start..stop (all by default): the log band spectrogram
    relative to the loud level, each frame beside the frames DETECTOR_OFFSETS from it (the edges repeated): the
    attack, what came before and the decay."""
    return _stacked(_padded_log(spec), start, spec.shape[1] if stop is None else min(stop, spec.shape[1]))


def _padded_log(spec: np.ndarray) -> np.ndarray:
    x = np.log(spec / max(loud_level(spec), EPSILON) + LOG_FLOOR).astype(np.float32)
    return np.pad(x, ((0, 0), (-min(DETECTOR_OFFSETS), max(DETECTOR_OFFSETS))), mode="edge")


def _stacked(padded: np.ndarray, start: int, stop: int) -> np.ndarray:
    before = -min(DETECTOR_OFFSETS)
    return np.concatenate([padded[:, before + o + start:before + o + stop] for o in DETECTOR_OFFSETS], axis=0).T


def detector_probabilities(spec: np.ndarray, model: DrumModel) -> np.ndarray:
    """(frames, len(DETECTOR_TARGETS)): the detector's probability that each output's drum starts at each frame
    (the mean of its members'), DETECTOR_CHUNK_FRAMES at a time so a long song's inputs never sit in memory whole."""
    assert model.detector_mean is not None and model.detector_scale is not None
    frames = spec.shape[1]
    padded = _padded_log(spec)
    total = np.zeros((frames, len(DETECTOR_TARGETS)), dtype=np.float32)
    votes = model.detector_votes
    if votes is None:
        votes = np.ones((len(model.detector_members), len(DETECTOR_TARGETS)), dtype=np.float32)
    for start in range(0, frames, DETECTOR_CHUNK_FRAMES):
        stop = min(frames, start + DETECTOR_CHUNK_FRAMES)
        x = (_stacked(padded, start, stop) - model.detector_mean) / model.detector_scale
        for layers, vote in zip(model.detector_members, votes, strict=True):
            if not vote.any():
                continue
            h = x
            for depth, (weights, bias) in enumerate(layers):
                h = h @ weights + bias
                if depth < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            total[start:start + x.shape[0]] += vote / (1.0 + np.exp(-np.clip(h, -30.0, 30.0)))
    return total / np.maximum(votes.sum(axis=0), 1.0)


def song_cut(probability: np.ndarray, cut: float) -> float:
    """A detector output's cut for one song: SONG_CUT_FRACTION of the median height of the output's peaks that
    reach its fixed `cut` (the fixed cut where none does). A recording whose drums the detector is sure of (peaks
    near 1) gets a cut near 0.5, so doubtful peaks among them go; one it hears less surely (a kit unlike those it
    learnt from, drums under a band: peaks of 0.4-0.6) a cut near 0.25, so its quieter strokes are kept."""
    confident = pick_peaks(probability, cut, 0.0)
    return SONG_CUT_FRACTION * float(np.median(probability[confident])) if confident.size else cut


def detected_hits(probabilities: np.ndarray, lanes_rel: np.ndarray, model: DrumModel) -> list[Hit]:
    """The hits of the lanes in model.detected: the peaks of their detector output at its cut or more (for
    SONG_CUT_TARGETS the song's own cut, song_cut, a peak under the fixed cut standing only where the templates
    hear it too: SONG_CUT_GATE), no two within MIN_GAP_SECONDS (pick_peaks). The hi-hats are
    found as one ("hihat") and a hit is open where the open hi-hat's output also reaches its cut within
    +-PEAK_WINDOW_FRAMES. Velocities come from the lanes' activations, as the other lanes' do, at their peak: the
    detector marks the attack, the activation peaks the lane's latency later; where the model gates a lane
    (detector_gates), that peak must also reach the gate's fraction of the lane's threshold."""
    assert model.detector_cuts is not None
    hits: list[Hit] = []
    w = PEAK_WINDOW_FRAMES
    cuts = model.detector_cuts
    for lane in model.detected:
        if lane == "hihat_open":
            continue  # found with the closed ones
        hats = lane == "hihat_closed"
        target = "hihat" if hats else lane
        column = DETECTOR_TARGETS.index(target)
        fixed_cut = float(cuts[column])
        cut = song_cut(probabilities[:, column], fixed_cut) if target in SONG_CUT_TARGETS else fixed_cut
        frames = pick_peaks(probabilities[:, column], cut, 0.0)
        doubtful = probabilities[frames, column] < fixed_cut  # let through by the song's cut alone
        names = [lane] * frames.size
        index = LANES.index(lane)
        activation = lanes_rel[index]
        if hats:
            column = DETECTOR_TARGETS.index("hihat_open")
            opened = sliding_window_view(np.pad(probabilities[:, column], (w, w)), 2 * w + 1).max(axis=1)
            names = ["hihat_open" if opened[frame] >= cuts[column] else lane for frame in frames]
            activation = activation + lanes_rel[LANES.index("hihat_open")]
        reach = w + max(0, round(float(model.latencies_seconds[index]) * FRAME_RATE_HZ))
        peak = sliding_window_view(np.pad(activation, (w, reach)), w + reach + 1).max(axis=1)  # frame-w..frame+reach
        heard = ~doubtful | (peak[frames] >= SONG_CUT_GATE * model.thresholds[index])
        if model.detector_gates is not None and model.detector_gates[index] > 0:
            heard &= peak[frames] >= model.detector_gates[index] * model.thresholds[index]
        frames, names = frames[heard], [name for name, keep in zip(names, heard, strict=True) if keep]
        for frame, name, velocity in zip(frames, names, velocities(peak[frames]), strict=True):
            hits.append(Hit(round(frame / FRAME_RATE_HZ, 4), name, velocity))
    return hits


def rides_apart_from_hats(hits: list[Hit]) -> list[Hit]:
    """`hits` without the ride hits within PEAK_WINDOW_FRAMES of a hi-hat hit. Both lanes firing at once is one
    cymbal heard twice. On the validation split as it then was, in grooves without a ride, 94 % of the ride hits
    fell on a played hi-hat; dropping them took the ride hits where none is played from 35 to 3 a minute alone (11
    to 0.1 in a mix), and the ride's F1 where it is played from 0.14 to 0.05 (it finds few rides either way); on
    the current split 30.6 -> 1.9 and 8.2 -> 0.7 a minute, F1 0.16/0.06 -> 0.04/0.02 (alone/mix)."""
    hats = np.asarray([hit.time_seconds for hit in hits if hit.lane in HI_HATS])
    if hats.size == 0:
        return hits
    reach_seconds = PEAK_WINDOW_FRAMES / FRAME_RATE_HZ
    return [hit for hit in hits
            if hit.lane != "ride" or float(np.min(np.abs(hats - hit.time_seconds))) > reach_seconds]


def transcribe_drums(samples: np.ndarray, sample_rate_hz: int, *, model: DrumModel | None = None) -> list[Hit]:
    """The drum hits of mono (or channels-last stereo) audio, sorted by time. Silence and audio without
    drums give few or no hits, never an error; an empty list means no drums were found."""
    audio = resampled(samples, sample_rate_hz)
    if audio.size < FRAME_SIZE or float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) < SILENCE_RMS:
        return []
    model = model or load_model()
    spec = band_spectrogram(audio)
    stacked = stacked_features(spec)
    level = loud_level(stacked)
    lanes = lane_activations(activations(stacked, model.templates), model.template_lanes)
    hits = hits_from_activations(lanes, level, model)
    if model.detected and level > 0:
        hits += detected_hits(detector_probabilities(spec, model), lanes / level, model)
        hits = rides_apart_from_hats(hits)
        hits.sort(key=lambda hit: (hit.time_seconds, LANES.index(hit.lane)))
    return hits
