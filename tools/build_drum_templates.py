"""Build soundcanvas/maps/drum_templates.npz: the drum templates, peak-picking thresholds, per-lane classifiers and
onset detector of soundcanvas.maps.drums, from renders with MODEL_SOUNDFONTS (FluidR3_GM, MIT; MuseScore_General,
MIT, parts CC0 / public domain), drum kits we synthesize and recorded CC0 drums; so the file is MIT.
Deterministic on one machine: the BLAS runs at BUILD_THREADS threads whatever the caller set (pinned_blas), because
another thread count rounds sums in another order (templates move by 1e-8) and the networks' training carries that
far (weights by up to 0.2: one thread against two). The shipped file is this tool's output, rebuilt from scratch on
2026-12-02 and equal array for array to a second build; the file records the numpy, scikit-learn and BLAS (version,
threads and the CPU kernels OpenBLAS chose) it was built with (`build`). Another CPU type, numpy, scikit-learn or
OpenBLAS may still round otherwise, so the bench's figures are the shipped file's.

1. Templates: every GM drum note of drums.GM_NOTE_TO_LANE played alone at velocities 50, 90 and 127
   (FluidSynth CLI), pooled into drums.band_spectrogram bands; a note's template is the sum of its first
   TEMPLATE_FRAMES frames from the attack, each velocity normalised, then averaged; on every drum kit in
   KITS of every SoundFont; then per lane TEMPLATES_PER_LANE spherical k-means centres (24 columns),
   each normalised to sum 1.
2. Thresholds: per lane, the (threshold, rise) pair maximising onset F1 (50 ms, mir_eval) summed over
   the 'tune' split of bench/maps/grooves.py on MODEL_SOUNDFONTS (drums alone and under bass and piano),
   then masks between lanes.
3. Classifier: for CLASSIFIED_LANES (the kick), a logistic regression over candidate peaks (train_classifier), on
   the same grooves.
4. Onset detector: for DETECTED_LANES (snare, closed and open hi-hat, toms, crash), MLPs over every frame's log
   band spectrogram and the frames around it (train_detector), on the tune grooves of MODEL_SOUNDFONTS and on
   grooves played on 48 drum kits we synthesize (DETECTOR_SYNTH_KITS, bench/maps/synthkits.py): three for the
   snare, toms and crash, three more with equalised copies of the renders (eq_varied) for the hi-hats, which also
   learn from grooves on 24 kits of recorded CC0 drums and synthesized ones (DETECTOR_CC0_KITS,
   bench/maps/cc0kits.py; Sonic Pi's samples, `make bench-deps`).
The ride keeps its threshold. sf_GMbank, the tune split's third SoundFont, enters nothing. The drum bench's
validation split (sf_GMbank grooves 500.., three recorded kits) chose this; the held-out splits (TimGM6mb, two
recorded kits) are never rendered here.

    .venv/bin/python tools/build_drum_templates.py [--cache out/maps-drums]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from bench.maps import cc0kits, grooves, synthkits  # noqa: E402
from soundcanvas.maps import drums  # noqa: E402

VELOCITIES = (50, 90, 127)
KITS = (0, 8, 16, 24, 25, 32, 40)  # GM drum kits: standard, room, power, electronic, TR-808, jazz, brush
TEMPLATES_PER_LANE = 3
SPACING_SECONDS = 2.0
TEMPLATE_FRAMES = 2  # the attack's first two feature frames (each already stacks 70 ms of decay)
THRESHOLD_GRID = np.geomspace(0.004, 0.4, 40)
RISE_GRID = (1.2, 1.5, 2.0, 3.0, 5.0)
MASK_GRID = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75)
TOLERANCE_SECONDS = 0.05
# lanes decided by a logistic regression on candidate peaks rather than a threshold: chosen on the tune data
# (FluidR3 + MuseScore_General for training, sf_GMbank as a validation SoundFont), where it beat the threshold
CLASSIFIED_LANES = ("kick",)  # the hi-hats' and the crash's classifiers gave way to the detector (DETECTED_LANES)
# the SoundFonts the model is built from: FluidR3_GM (MIT) and MuseScore_General (MIT, parts CC0 / public
# domain). The tune split's third SoundFont, sf_GMbank, is kept out of the model (it plays most of TimGM6mb's
# drum recordings, the held-out SoundFont's: bench/maps/overlap.py); adding it to templates and thresholds had
# lowered the snare (0.89 -> 0.70 alone on sf_GMbank grooves 500.., then a validation set).
MODEL_SOUNDFONTS = (grooves.FLUIDR3, grooves.MUSESCORE)
# lanes found by the onset detector (MLPs over the log band spectrogram, averaged per output over the members that
# answer for it: drums.detected_hits) rather than by NMF peaks: trained on the tune grooves of MODEL_SOUNDFONTS and
# two grooves on each of DETECTOR_SYNTH_KITS (bench/maps/synthkits.py: 808-style hats, noisy cymbals with random
# partials, swept kicks and toms, each kit's parameters drawn from its seed; grooves from seed SYNTH_SEED), alone
# and mixed, at 40 dB SNR; sf_GMbank stays a timbre it never heard.
# Chosen on the validation split of the time (sf_GMbank grooves 500..509 and three recorded kits; sf_GMbank and one
# kit, GMRockKit, play held-out recordings; now three recorded kits that do not: docs/maps-drums-bench.md), as were
# the lanes it takes and the cuts: the toms and the crash joined when the
# detector beat their thresholds and classifier there (tom_high 0.36/0.27 -> 0.41/0.32, tom_low 0.62/0.37 ->
# 0.63/0.62 gated by DETECTOR_GATES, crash 0.26/0.12 -> 0.50/0.46, alone/mix); the ride did not (0.15/0.04 -> 0.10/0.14)
DETECTED_LANES = ("snare", "hihat_closed", "hihat_open", "tom_high", "tom_low", "crash")
DETECTOR_SYNTH_KITS = tuple(synthkits.SynthKit(1000 + i) for i in range(48))
SYNTH_SEED = 800
# the hi-hat members (DETECTOR_EQ_TARGETS) also learn from two grooves on each of DETECTOR_CC0_KITS
# (bench/maps/cc0kits.py: part recorded CC0 drums, part synthesized; grooves from seed CC0_SEED), alone and mixed.
# Chosen on the validation split (four-set mean, alone/mix): hi-hat 0.82/0.81 -> 0.83/0.82, closed 0.77/0.77 ->
# 0.79/0.79, open hat 0.20/0.48 -> 0.63/0.59. The other members do not: all six learning from them cost the snare
# (0.87/0.83 -> 0.84/0.79) and the high toms (0.41/0.32 -> 0.28/0.37).
DETECTOR_CC0_KITS = tuple(cc0kits.CC0Kit(2000 + i) for i in range(24))
CC0_SEED = 900
# the BLAS threads every build runs at (pinned_blas): the shipped file's, built on a 2-core machine
BUILD_THREADS = 2
DETECTOR_HIDDEN = (64,)
DETECTOR_EPOCHS = 15
DETECTOR_MEMBERS = 3  # MLPs from seeds 0, 1, 2: one alone moved by +-0.1 on a validation kit from seed to seed
# the probability a hit needs, per output (0.5 for the others); a found hi-hat is open where the open output reaches
# its cut nearby
DETECTOR_CUTS = {"hihat": 0.3, "hihat_open": 0.2}
# per lane, the fraction of its threshold its NMF activation must reach for a detected hit to stand (0: none).
# The low toms' output fires on bass notes in music without drums (10 FluidR3 bands alone, seeds 9004..: 164
# false hits, 13 gated at 1.0, 2 by thresholds); gated at 1.0 the low toms on validation are 0.63/0.62 (0.67/0.66
# ungated, 0.62/0.37 by threshold). The high toms and the crash fire on none of those bands. The snare's output
# fires on some kick and hat hits that its templates do not hear: gated at 0.5 the snare on validation (mean of its
# three kits' means, alone/mix) is 0.89/0.78 against 0.86/0.79 ungated (0.1: 0.88/0.79, 0.25: 0.89/0.79, 0.75:
# 0.88/0.78, 1.0: 0.87/0.77), and those bands get 71 false snares instead of 82 (0.25: 79; 1.0: 43).
DETECTOR_GATES = {"tom_low": 1.0, "snare": 0.5}
# outputs answered by members trained with equalised copies too (eq_varied)
DETECTOR_EQ_TARGETS = ("hihat", "hihat_open")
def single_hits(soundfont: Path, kit: int, cache: Path | None = None) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Every note at every velocity on one drum kit (GM program on channel 10), SPACING_SECONDS apart,
    rendered once: the audio and (frame, note, velocity)."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.Message("program_change", channel=9, program=kit, time=0))
    placed = []
    now = 0
    at = 0.5
    for note in sorted(drums.GM_NOTE_TO_LANE):
        for velocity in VELOCITIES:
            tick = round(at * 960)
            track.append(mido.Message("note_on", channel=9, note=note, velocity=velocity, time=tick - now))
            track.append(mido.Message("note_off", channel=9, note=note, time=96))
            now = tick + 96
            placed.append((round(at * drums.FRAME_RATE_HZ), note, velocity))
            at += SPACING_SECONDS
    cached = cache / f"hits-{soundfont.stem}-k{kit}-v{len(placed)}.wav" if cache else None
    return grooves.render_midi(midi, soundfont, cached, gain=0.5), placed


def build_templates(soundfonts: Sequence[Path], per_lane_count: int = TEMPLATES_PER_LANE,
                    cache: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per lane, per_lane_count templates: the spherical k-means centres of that lane's single-hit
    spectra over every note, every kit of KITS and every SoundFont given (so a lane covers more than one
    drum's timbre, which is what lets it recognise a kit it never heard), each normalised to sum 1."""
    per_lane: dict[int, list[np.ndarray]] = {}
    for soundfont in soundfonts:
        for kit in KITS:
            for note, column in kit_templates(soundfont, kit, cache).items():
                per_lane.setdefault(drums.LANES.index(drums.GM_NOTE_TO_LANE[note]), []).append(column)
    columns, lanes = [], []
    for lane, spectra in sorted(per_lane.items()):
        for centre in spherical_kmeans(np.stack(spectra), per_lane_count):
            columns.append(centre / centre.sum())
            lanes.append(lane)
    return np.stack(columns, axis=1).astype(np.float32), np.asarray(lanes)


def spherical_kmeans(spectra: np.ndarray, k: int, iterations: int = 30) -> list[np.ndarray]:
    """k centres of unit-norm rows (cosine similarity), seeded by farthest-point picking: deterministic."""
    unit = spectra / (np.linalg.norm(spectra, axis=1, keepdims=True) + 1e-12)
    if len(unit) <= k:
        return list(spectra)
    centres = [unit[0]]
    while len(centres) < k:
        similarity = np.max(unit @ np.stack(centres).T, axis=1)
        centres.append(unit[int(np.argmin(similarity))])
    c = np.stack(centres)
    for _ in range(iterations):
        label = np.argmax(unit @ c.T, axis=1)
        c = np.stack([unit[label == j].mean(axis=0) if np.any(label == j) else c[j] for j in range(k)])
        c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-12
    label = np.argmax(unit @ c.T, axis=1)
    return [spectra[label == j].mean(axis=0) for j in range(k) if np.any(label == j)]


def kit_templates(soundfont: Path, kit: int, cache: Path | None = None) -> dict[int, np.ndarray]:
    """note -> the note's spectrum (stacked features over its attack), averaged over VELOCITIES."""
    audio, placed = single_hits(soundfont, kit, cache)
    stacked = drums.features(audio)
    spec = drums.band_spectrogram(audio)
    columns: dict[int, list[np.ndarray]] = {}
    for frame, note, _ in placed:
        # the attack: the loudest frame within 40 ms of the written time (FluidSynth's latency)
        window = spec[:, frame:frame + 5].sum(axis=0)
        start = frame + int(np.argmax(window)) - 1
        part = stacked[:, max(0, start):start + TEMPLATE_FRAMES].sum(axis=1)
        columns.setdefault(note, []).append(part / (part.sum() + 1e-12))
    return {note: np.mean(parts, axis=0) for note, parts in columns.items()}


def tune_cases(cache: Path, count: int = grooves.TUNE_COUNT, soundfonts: Sequence[Path] = MODEL_SOUNDFONTS
               ) -> list[tuple[tuple[dict[str, np.ndarray], np.ndarray], Path]]:
    """((truth, audio), SoundFont) of every groove of the 'tune' split played with one of `soundfonts`, drums
    alone and under bass and piano."""
    cases = []
    for groove, soundfont, noise in grooves.split("tune", count):
        if soundfont not in soundfonts:
            continue
        for mix in (False, True):
            audio = grooves.render_groove(groove, soundfont, cache, mix=mix, noise_snr_db=noise)
            cases.append(((groove.truth(), audio), soundfont))
    return cases


def synth_cases(cache: Path, kits: Sequence[synthkits.SynthKit] = DETECTOR_SYNTH_KITS,
                first_seed: int = SYNTH_SEED) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """(truth, audio) of two grooves on each of `kits`, drums alone and under bass and piano, at 40 dB SNR."""
    cases = []
    for i, kit in enumerate(kits):
        for j in range(2):
            seed = first_seed + 2 * i + j
            groove = grooves.groove(seed, grooves.STYLES[(2 * i + j) % len(grooves.STYLES)], seconds=16.0)
            for mix in (False, True):
                cases.append((groove.truth(), grooves.render_groove(groove, kit, cache, mix=mix, noise_snr_db=40.0)))
    return cases


def tune_thresholds(templates: np.ndarray, lanes: np.ndarray, audio_cases: Sequence[tuple[dict[str, np.ndarray], np.ndarray]]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    import mir_eval

    cases = []
    for truth, audio in audio_cases:
        spec = drums.features(audio)
        act = drums.lane_activations(drums.activations(spec, templates), lanes) / drums.loud_level(spec)
        cases.append((truth, act))
    thresholds = np.zeros(len(drums.LANES), dtype=np.float32)
    rises = np.zeros(len(drums.LANES), dtype=np.float32)
    latencies = np.zeros(len(drums.LANES), dtype=np.float32)
    scores = {}
    for index, lane in enumerate(drums.LANES):
        # latency: the median delay from a written hit to its activation's peak at a loose setting
        delays = []
        for truth, act in cases:
            est = drums.pick_peaks(act[index], 0.02, 1.5) / drums.FRAME_RATE_HZ
            if truth[lane].size and est.size:
                delays += [est[j] - truth[lane][i] for i, j in mir_eval.util.match_events(truth[lane], est, 0.1)]
        latencies[index] = float(np.median(delays)) if delays else 0.0
        best: tuple[float, float, float] = (-1.0, 0.1, 2.0)
        for rise in RISE_GRID:
            for threshold in THRESHOLD_GRID:
                tp = fp = fn = 0
                for truth, act in cases:
                    est = drums.pick_peaks(act[index], float(threshold), rise) / drums.FRAME_RATE_HZ - latencies[index]
                    ref = truth[lane]
                    matched = len(mir_eval.util.match_events(ref, est, TOLERANCE_SECONDS)) if ref.size and est.size else 0
                    tp += matched
                    fp += est.size - matched
                    fn += ref.size - matched
                f1 = 2 * tp / max(1, 2 * tp + fp + fn)
                if f1 > best[0] + 1e-9:
                    best = (f1, float(threshold), rise)
        scores[lane] = best[0]
        thresholds[index], rises[index] = best[1], best[2]
    masks = np.zeros((len(drums.LANES), len(drums.LANES)), dtype=np.float32)
    for index, lane in enumerate(drums.LANES):
        for other in range(len(drums.LANES)):
            if other == index:
                continue
            best_mask: tuple[float, float] = (-1.0, 0.0)
            for ratio in MASK_GRID:
                masks[index, other] = ratio
                model = drums.DrumModel(templates, lanes, thresholds, rises, latencies, masks)
                tp = fp = fn = 0
                for truth, act in cases:
                    hits = drums.hits_from_activations(act, 1.0, model)
                    est = np.asarray([h.time_seconds for h in hits if h.lane == lane])
                    ref = truth[lane]
                    matched = len(mir_eval.util.match_events(ref, est, TOLERANCE_SECONDS)) if ref.size and est.size else 0
                    tp, fp, fn = tp + matched, fp + est.size - matched, fn + ref.size - matched
                f1 = 2 * tp / max(1, 2 * tp + fp + fn)
                if f1 > best_mask[0] + 1e-3:  # a mask must earn its place
                    best_mask = (f1, ratio)
            masks[index, other] = best_mask[1]
            scores[lane] = max(scores[lane], best_mask[0])
    return thresholds, rises, latencies, masks, scores


def train_classifier(model: drums.DrumModel, audio_cases: Sequence[tuple[dict[str, np.ndarray], np.ndarray]]
                     ) -> dict[str, np.ndarray]:
    """Per lane of CLASSIFIED_LANES, a logistic regression (scikit-learn, L2, C=1, lbfgs: deterministic)
    on drums.candidate_features of every candidate peak of `audio_cases`, labelled 1 where the candidate
    matches a written hit of its lane (mir_eval's matching, 50 ms after the lane's latency); stored as
    the feature standardisation and the weights, run with numpy by drums.classified_peaks."""
    import mir_eval
    from sklearn.linear_model import LogisticRegression

    lanes_count, n_features = len(drums.LANES), drums.CANDIDATE_FEATURES
    xs: list[list[np.ndarray]] = [[] for _ in range(lanes_count)]
    ys: list[list[np.ndarray]] = [[] for _ in range(lanes_count)]
    for truth, audio in audio_cases:
        spec = drums.features(audio)
        lane_acts = drums.lane_activations(drums.activations(spec, model.templates), model.template_lanes)
        relative = lane_acts / drums.loud_level(spec)
        for index, lane in enumerate(drums.LANES):
            if lane not in CLASSIFIED_LANES:
                continue
            peaks = drums.pick_peaks(relative[index], float(model.thresholds[index]) * drums.CANDIDATE_FRACTION,
                                     drums.CANDIDATE_RISE)
            if peaks.size == 0:
                continue
            times = peaks / drums.FRAME_RATE_HZ - float(model.latencies_seconds[index])
            label = np.zeros(peaks.size)
            if truth[lane].size:
                for _, j in mir_eval.util.match_events(truth[lane], times, TOLERANCE_SECONDS):
                    label[j] = 1.0
            xs[index].append(drums.candidate_features(relative, index, peaks))
            ys[index].append(label)
    mean = np.zeros((lanes_count, n_features), dtype=np.float32)
    scale = np.ones((lanes_count, n_features), dtype=np.float32)
    weights = np.zeros((lanes_count, n_features), dtype=np.float32)
    bias = np.zeros(lanes_count, dtype=np.float32)
    classified = np.zeros(lanes_count, dtype=bool)
    for index, lane in enumerate(drums.LANES):
        if lane not in CLASSIFIED_LANES or not xs[index]:
            continue
        x, y = np.concatenate(xs[index]), np.concatenate(ys[index])
        mean[index], scale[index] = x.mean(axis=0), x.std(axis=0) + 1e-6
        fit = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean[index]) / scale[index], y)
        weights[index], bias[index] = fit.coef_[0], fit.intercept_[0]
        classified[index] = True
        sys.stdout.write(f"{lane:14s} classifier on {y.size} candidates, {int(y.sum())} hits\n")
    return {"classified": classified, "feature_mean": mean, "feature_scale": scale, "weights": weights, "bias": bias}


def detector_labels(truth: dict[str, np.ndarray], frames: int) -> np.ndarray:
    """(frames, len(DETECTOR_TARGETS)) 0/1: 1 at the frame nearest each written hit of an output's drums and at
    the frames either side ("hihat": the closed and the open hi-hats)."""
    y = np.zeros((frames, len(drums.DETECTOR_TARGETS)), dtype=np.float32)
    for column, target in enumerate(drums.DETECTOR_TARGETS):
        times = np.concatenate([truth[lane] for lane in drums.HI_HATS]) if target == "hihat" else truth[target]
        for frame in np.round(times * drums.FRAME_RATE_HZ).astype(int):
            y[max(0, frame - 1):frame + 2, column] = 1.0
    return y


def eq_varied(spec: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A band spectrogram through a seeded equaliser: a tilt of -3..+3 dB an octave around 1 kHz and three +-6 dB
    bumps an octave wide, so the detector hears more cymbal and hat colours than the kits it learns from have."""
    octaves = np.log2(drums.band_frequencies_hz() / 1000.0)[:, None]
    gain_db = float(rng.uniform(-3.0, 3.0)) * octaves
    for _ in range(3):
        gain_db = gain_db + float(rng.uniform(-6.0, 6.0)) * np.exp(-0.5 * ((octaves - rng.uniform(-3.0, 3.4)) / 0.5) ** 2)
    return (spec * 10 ** (gain_db / 20)).astype(np.float32)


def train_detector(audio_cases: Sequence[tuple[dict[str, np.ndarray], np.ndarray]],
                   hat_cases: Sequence[tuple[dict[str, np.ndarray], np.ndarray]] = ()) -> dict[str, np.ndarray]:
    """The onset detector: DETECTOR_MEMBERS MLPs (scikit-learn, DETECTOR_HIDDEN ReLU units, Adam, DETECTOR_EPOCHS
    passes, seeds 0..) from drums.detector_inputs of every frame of `audio_cases` to detector_labels, which answer
    for every output but DETECTOR_EQ_TARGETS; and as many again, trained on the frames of `audio_cases` and
    `hat_cases` plus an eq_varied copy of each render, which answer for DETECTOR_EQ_TARGETS
    (drums.DrumModel.detector_votes). Stored as the inputs' standardisation (of `audio_cases`) and the layers'
    weights, run with numpy by drums.detector_probabilities."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    xs, ys, varied = [], [], []
    for index, (truth, audio) in enumerate([*audio_cases, *hat_cases]):
        spec = drums.band_spectrogram(audio)
        xs.append(drums.detector_inputs(spec))
        ys.append(detector_labels(truth, spec.shape[1]))
        varied.append(drums.detector_inputs(eq_varied(spec, np.random.default_rng([13, index]))))
    first = sum(x.shape[0] for x in xs[: len(audio_cases)])  # the frames of audio_cases come first
    x_all, y_hat = np.concatenate(xs), np.concatenate(ys)
    mean, scale = x_all[:first].mean(axis=0), x_all[:first].std(axis=0) + 1e-3
    x_all = (x_all - mean) / scale
    x, y = x_all[:first], y_hat[:first]
    x_varied = np.concatenate([x_all, (np.concatenate(varied) - mean) / scale])
    del xs, varied
    eq_columns = [drums.DETECTOR_TARGETS.index(target) for target in DETECTOR_EQ_TARGETS]
    layers, votes = {}, []
    for member in range(2 * DETECTOR_MEMBERS):
        equalised = member >= DETECTOR_MEMBERS
        fit = MLPClassifier(hidden_layer_sizes=DETECTOR_HIDDEN, alpha=1e-4, batch_size=512, learning_rate_init=1e-3,
                            max_iter=DETECTOR_EPOCHS, random_state=member % DETECTOR_MEMBERS)
        with warnings.catch_warnings():  # a fixed number of passes, chosen on the validation kits, not convergence
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit.fit(x_varied if equalised else x, np.concatenate([y_hat, y_hat]) if equalised else y)
        renders = len(audio_cases) + (len(hat_cases) if equalised else 0)
        sys.stdout.write(f"detector {member}{' (eq)' if equalised else ''}: {renders} renders, "
                         f"loss {fit.loss_:.4f}\n")
        for depth, (weights, bias) in enumerate(zip(fit.coefs_, fit.intercepts_, strict=True)):
            layers[f"detector_w{member}_{depth}"] = weights.astype(np.float32)
            layers[f"detector_b{member}_{depth}"] = bias.astype(np.float32)
        vote = np.zeros(len(drums.DETECTOR_TARGETS), dtype=np.float32)
        vote[eq_columns] = 1.0
        votes.append(vote if equalised else 1.0 - vote)
    cuts = np.asarray([DETECTOR_CUTS.get(target, 0.5) for target in drums.DETECTOR_TARGETS], dtype=np.float32)
    # a gate reads its own lane's activation against its threshold: not the hi-hats, found as one
    assert set(DETECTOR_GATES) <= set(DETECTED_LANES) - set(drums.HI_HATS), DETECTOR_GATES
    gates = np.asarray([DETECTOR_GATES.get(lane, 0.0) for lane in drums.LANES], dtype=np.float32)
    return {"detected": np.asarray(DETECTED_LANES), "detector_mean": mean.astype(np.float32),
            "detector_scale": scale.astype(np.float32), "detector_cuts": cuts, "detector_gates": gates,
            "detector_depth": np.asarray(len(DETECTOR_HIDDEN) + 1),
            "detector_member_count": np.asarray(2 * DETECTOR_MEMBERS), "detector_votes": np.stack(votes), **layers}


@contextmanager
def pinned_blas(threads: int = BUILD_THREADS) -> Iterator[str]:
    """Run the block with every BLAS / OpenMP pool numpy and scikit-learn use at `threads` threads; yields what the
    build ran with (numpy, scikit-learn and each pool's library, version and threads), for the file's `build`."""
    import sklearn
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=threads):
        pools = ", ".join(sorted({" ".join(str(part) for part in (p["internal_api"], p.get("version"),
                                                                      p.get("architecture"), f"x{p['num_threads']}") if part)
                                  for p in threadpool_info()}))
        yield f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, {pools}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "maps-drums")
    parser.add_argument("--out", type=Path, default=drums.TEMPLATES_PATH)
    args = parser.parse_args(argv)
    missing = grooves.missing_soundfonts(MODEL_SOUNDFONTS) + [m for m in (cc0kits.missing(),) if m]
    if missing:
        sys.stderr.write(f"missing SoundFonts or samples: {missing}\n")
        return 2
    with pinned_blas() as build:
        templates, lanes = build_templates(MODEL_SOUNDFONTS, TEMPLATES_PER_LANE, args.cache)
        cases = [case for case, _ in tune_cases(args.cache)]
        thresholds, rises, latencies, masks, scores = tune_thresholds(templates, lanes, cases)
        classifier = train_classifier(drums.DrumModel(templates, lanes, thresholds, rises, latencies, masks), cases)
        detector = train_detector(cases + synth_cases(args.cache), synth_cases(args.cache, DETECTOR_CC0_KITS, CC0_SEED))
    np.savez_compressed(args.out, templates=templates, template_lanes=lanes, thresholds=thresholds, rises=rises,
                        latencies_seconds=latencies, masks=masks, **classifier, **detector,
                        lanes=np.asarray(drums.LANES), build=np.asarray(build),
                        source=np.asarray("FluidR3_GM.sf2 (MIT), MuseScore_General_Full.sf2 (MIT, parts CC0), "
                                          "drum kits we synthesize (bench/maps/synthkits.py) and Sonic Pi's CC0 drum "
                                          "samples (bench/maps/cc0kits.py), these two for the onset detector only; "
                                          "tools/build_drum_templates.py"))
    for lane in drums.LANES:
        i = drums.LANES.index(lane)
        sys.stdout.write(f"{lane:14s} threshold {thresholds[i]:.4f} rise {rises[i]:.1f} "
                         f"latency {latencies[i] * 1000:.0f} ms  tune F1 {scores[lane]:.3f}\n")
    sys.stdout.write(f"masks (row masked by column):\n{np.array2string(masks, precision=2)}\n")
    sys.stdout.write(f"wrote {args.out} ({args.out.stat().st_size} bytes; built with {build})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
