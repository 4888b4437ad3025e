"""`python -m bench.maps drums`: drum maps on rendered grooves, ours (NMF against drum templates) beside the
onsets + band-energy rules baseline in the same run, written to docs/maps-drums-bench.md.

Data (all ours): grooves written by bench/maps/grooves.py (rock, funk, hip-hop, house, jazz ride, fills;
70-180 BPM), drums alone and under bass and piano. The tune split renders with FluidR3_GM,
MuseScore_General and sf_GMbank (half on their other kits): the baseline's thresholds are tuned on it
here; ours (templates, thresholds, classifier) were built from its FluidR3 and MuseScore part by
tools/build_drum_templates.py (its sf_GMbank part enters nothing of ours). Model changes are chosen on a
validation split of three recorded kits. The held-out split renders with TimGM6mb (a SoundFont never used for
tuning ours), fresh seeds (3000..), tempos and keys, and white noise at 40 dB SNR; the recorded kits split plays two
other recorded kits. Nothing is tuned on them, and bench/maps/overlap.py checks in each run which of their
recordings any other kit here plays too (sf_GMbank plays most of TimGM6mb's). Needs the SoundFonts' Debian packages
(grooves.SOUNDFONT_PACKAGES); a missing one is named with its package before anything runs.

Scores: per-lane onset F1 (50 ms window, mir_eval.onset.f_measure) for each groove that has the lane,
averaged over grooves, with a 95 % bootstrap interval over grooves (2,000 resamples); "hihat" merges the
closed and open lanes (the target's "hi-hat"). Tempo: share of grooves within 2 % of the written tempo.
Speed: a 3-minute groove under bass and piano -> map (transcribe, grid, quantise, levels, document), the
fastest of 3, beside the bare STFT of the same audio and the baseline's whole transcription.

    .venv/bin/python -m bench.maps drums [--out docs/maps-drums-bench.md] [--cache out/maps-drums] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mir_eval
import numpy as np

from bench.maps import grooves, overlap, samplekits
from bench.report import say
from soundcanvas.maps import document, drums, grid, levels

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "maps-drums-bench.md"
CACHE = ROOT / "out" / "maps-drums"
WINDOW_SECONDS = 0.05
BOOTSTRAP = 2000
HELDOUT_COUNT = 20
TUNE_COUNT = 10
VALIDATION_COUNT = 10  # grooves per validation set: its seeds are 10 apart (grooves.VALIDATION_SEEDS)
SECONDS = 16.0
ROWS = ("kick", "snare", "hihat", "hihat_closed", "hihat_open", "tom_high", "tom_low", "crash", "ride")
ROW_LANES = {"hihat": drums.HI_HATS}
TARGETS = {"kick": (0.90, 0.80), "snare": (0.90, 0.80), "hihat": (0.90, 0.80)}  # (alone, mix) on held-out
KITS_SPLIT = "recorded kits"  # the second held-out split: grooves played on recorded acoustic kits
VALIDATION_SPLIT = "validation"  # where model changes are chosen: grooves on samplekits.VALIDATION_KITS


# ---------------------------------------------------------------------------------------------------------
# The baseline: spectral-flux onsets, then each onset's rise of energy in four bands decides its lanes.

BANDS_HZ = {"low": (30.0, 150.0), "lowmid": (150.0, 500.0), "mid": (500.0, 2500.0), "high": (5000.0, 11025.0)}
FEATURES = ("low", "lowmid", "mid", "high", "decay")
# lane -> [(feature, ">" or "<")]: a lane is hit at an onset where every condition holds
RULES: dict[str, list[tuple[str, str]]] = {
    "kick": [("low", ">"), ("mid", "<")],
    "snare": [("mid", ">"), ("high", ">")],
    "hihat_closed": [("high", ">"), ("mid", "<"), ("decay", "<")],
    "hihat_open": [("high", ">"), ("mid", "<"), ("decay", ">")],
    "tom_high": [("lowmid", ">"), ("high", "<"), ("low", "<")],
    "tom_low": [("lowmid", ">"), ("low", ">"), ("high", "<")],
    "crash": [("high", ">"), ("mid", ">"), ("decay", ">")],
    "ride": [("high", ">"), ("decay", ">"), ("mid", "<")],
}


@dataclass
class Onsets:
    times_seconds: np.ndarray
    features: np.ndarray  # (onsets, len(FEATURES))


def baseline_onsets(audio: np.ndarray, delta: float = 0.08) -> Onsets:
    """Spectral-flux onsets (log bands, half-wave rectified, local maxima over a moving mean + delta) and
    each onset's band-energy rises (log energy 2 frames after minus 2 frames before) and the high band's
    decay (log energy 150 ms after the onset minus at it)."""
    spec = drums.band_spectrogram(audio)
    freqs = drums.band_frequencies_hz()
    log = np.log1p(100.0 * spec / (spec.max() + 1e-9))
    flux = np.maximum(0.0, np.diff(log, axis=1, prepend=log[:, :1])).sum(axis=0)
    flux /= flux.max() + 1e-9
    mean = np.convolve(flux, np.ones(15) / 15, mode="same")
    peaks = [t for t in range(2, flux.size - 2) if flux[t] == flux[t - 2:t + 3].max() and flux[t] > mean[t] + delta]
    energy = {name: np.log(spec[(freqs >= lo) & (freqs < hi)].sum(axis=0) + 1e-6) for name, (lo, hi) in BANDS_HZ.items()}
    frames = np.asarray(peaks, dtype=int)
    n = spec.shape[1]
    after = np.minimum(frames + 2, n - 1)
    before = np.maximum(frames - 2, 0)
    later = np.minimum(frames + 13, n - 1)
    columns = [energy[name][after] - energy[name][before] for name in BANDS_HZ]
    columns.append(energy["high"][later] - energy["high"][after])
    return Onsets(frames / drums.FRAME_RATE_HZ - 0.01, np.stack(columns, axis=1) if frames.size else np.zeros((0, 5)))


def baseline_hits(onsets: Onsets, thresholds: dict[str, list[float]]) -> dict[str, np.ndarray]:
    out = {}
    for lane, rule in RULES.items():
        keep = np.ones(onsets.times_seconds.size, dtype=bool)
        for (feature, direction), value in zip(rule, thresholds[lane], strict=True):
            column = onsets.features[:, FEATURES.index(feature)]
            keep &= column > value if direction == ">" else column < value
        out[lane] = onsets.times_seconds[keep]
    return out


def tune_baseline(cases: Sequence[tuple[dict[str, np.ndarray], Onsets]]) -> dict[str, list[float]]:
    """Per lane, coordinate ascent (3 passes) over each condition's threshold on the features' quantiles,
    maximising the F1 pooled over the tune split: the baseline gets the same tuning data as ours."""
    pooled = np.concatenate([o.features for _, o in cases]) if cases else np.zeros((1, 5))
    thresholds: dict[str, list[float]] = {}
    for lane, rule in RULES.items():
        values = [float(np.median(pooled[:, FEATURES.index(f)])) for f, _ in rule]
        for _ in range(3):
            for i, (feature, _) in enumerate(rule):
                grid_values = np.quantile(pooled[:, FEATURES.index(feature)], np.linspace(0.02, 0.98, 25))
                best = (-1.0, values[i])
                for value in grid_values:
                    trial = {**{k: [0.0] * len(r) for k, r in RULES.items()},
                             lane: [*values[:i], float(value), *values[i + 1:]]}
                    tp = fp = fn = 0
                    for truth, onsets in cases:
                        est = baseline_hits(onsets, trial)[lane]
                        counts = match_counts(truth[lane], est)
                        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
                    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
                    if f1 > best[0]:
                        best = (f1, float(value))
                values[i] = best[1]
        thresholds[lane] = values
    return thresholds


# ---------------------------------------------------------------------------------------------------------
# Scoring


def match_counts(reference: np.ndarray, estimate: np.ndarray) -> tuple[int, int, int]:
    matched = len(mir_eval.util.match_events(reference, estimate, WINDOW_SECONDS)) if reference.size and estimate.size else 0
    return matched, estimate.size - matched, reference.size - matched


def row_times(per_lane: dict[str, np.ndarray], row: str) -> np.ndarray:
    return np.sort(np.concatenate([np.asarray(per_lane.get(lane, []), dtype=float) for lane in ROW_LANES.get(row, (row,))]))


def f1_rows(truth: dict[str, np.ndarray], estimate: dict[str, np.ndarray]) -> dict[str, float | None]:
    """mir_eval.onset.f_measure per row, None where the groove has no reference hit in the row."""
    out: dict[str, float | None] = {}
    for row in ROWS:
        reference = row_times(truth, row)
        if reference.size == 0:
            out[row] = None
            continue
        estimated = row_times(estimate, row)
        out[row] = float(mir_eval.onset.f_measure(reference, estimated, window=WINDOW_SECONDS)[0]) if estimated.size else 0.0
    return out


def absent_rows(truth: dict[str, np.ndarray], estimate: dict[str, np.ndarray],
                duration_seconds: float) -> dict[str, float | None]:
    """Hits per minute in each row the groove does not play (what F1 over grooves that have the row cannot see:
    a lane found everywhere), None where the groove has reference hits in the row."""
    return {row: None if row_times(truth, row).size else row_times(estimate, row).size * 60.0 / duration_seconds
            for row in ROWS}


def summary(scores: Sequence[float], seed: int = 0) -> tuple[float, float, float, int]:
    """(mean, 2.5 %, 97.5 % bootstrap over grooves, grooves)."""
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (BOOTSTRAP, values.size))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)), int(values.size)


def ours(audio: np.ndarray) -> dict[str, np.ndarray]:
    hits = drums.transcribe_drums(audio, drums.SAMPLE_RATE_HZ)
    return {lane: np.asarray([h.time_seconds for h in hits if h.lane == lane]) for lane in drums.LANES}


# ---------------------------------------------------------------------------------------------------------


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_map(audio: np.ndarray) -> dict:
    hits = drums.transcribe_drums(audio, drums.SAMPLE_RATE_HZ)
    beat_grid = grid.estimate_grid(hits, audio.size / drums.SAMPLE_RATE_HZ)
    chart = levels.make_levels(grid.quantize(hits, beat_grid), beat_grid)
    return document.build_map(song_id="bench", grid=beat_grid, levels=chart,
                              duration_seconds=audio.size / drums.SAMPLE_RATE_HZ)


def fmt(stat: tuple[float, float, float, int]) -> str:
    mean, low, high, n = stat
    return "n/a" if n == 0 else f"{mean:.2f} [{low:.2f}, {high:.2f}]"


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    missing = grooves.missing_soundfonts()
    if missing:
        say("missing SoundFonts, install their Debian packages first:\n  " + "\n  ".join(missing))
        return 2
    tune_count, held_count = (2, 6) if args.quick else (TUNE_COUNT, HELDOUT_COUNT)
    say(f"rendering: tune {tune_count} grooves on each of {len(grooves.TUNE_SOUNDFONTS)} SoundFonts, held-out "
        f"{held_count} (TimGM6mb, 40 dB SNR), {held_count} on recorded kits and validation "
        f"{min(tune_count, VALIDATION_COUNT)} on each of {len(samplekits.VALIDATION_KITS)} kits, alone and mixed")
    tune = grooves.split("tune", tune_count, SECONDS)
    held = grooves.split("heldout", held_count, SECONDS)
    kits = grooves.split("kits", held_count, SECONDS)
    validation = grooves.split("validation", min(tune_count, VALIDATION_COUNT), SECONDS)

    tune_cases = []
    for g, soundfont, noise in tune:
        for mix in (False, True):
            audio = grooves.render_groove(g, soundfont, args.cache, mix=mix, noise_snr_db=noise)
            tune_cases.append((g.truth(), baseline_onsets(audio)))
    thresholds = tune_baseline(tune_cases)
    say(f"baseline tuned on the tune split ({time.perf_counter() - started:.0f} s)")

    shared = overlap.overlaps(
        {"TimGM6mb": grooves.TIMGM, **{kit.name: kit for kit in grooves.HELDOUT_SAMPLE_KITS}},
        {soundfont.stem: soundfont for soundfont in grooves.TUNE_SOUNDFONTS}
        | {kit.name: kit for kit in samplekits.VALIDATION_KITS}, args.cache)
    say(f"shared sounds checked ({time.perf_counter() - started:.0f} s)")

    results: dict[tuple[str, str, str], dict[str, list[float]]] = {}  # (split, condition, method) -> row -> F1s
    absent: dict[tuple[str, str, str], dict[str, list[float]]] = {}  # ... -> row -> hits per minute where not played
    tempo_ok: dict[tuple[str, str], list[bool]] = {}
    for split_name, chosen in (("tune", tune), (VALIDATION_SPLIT, validation), ("held-out", held), (KITS_SPLIT, kits)):
        for g, soundfont, noise in chosen:
            truth = g.truth()
            for mix in (False, True):
                condition = "mix" if mix else "alone"
                audio = grooves.render_groove(g, soundfont, args.cache, mix=mix, noise_snr_db=noise)
                ours_hits = drums.transcribe_drums(audio, drums.SAMPLE_RATE_HZ)
                estimates = {
                    "ours": {lane: np.asarray([h.time_seconds for h in ours_hits if h.lane == lane])
                             for lane in drums.LANES},
                    "baseline": baseline_hits(baseline_onsets(audio), thresholds),
                }
                for method, estimate in estimates.items():
                    for row, score in f1_rows(truth, estimate).items():
                        if score is not None:
                            results.setdefault((split_name, condition, method), {}).setdefault(row, []).append(score)
                    for row, rate in absent_rows(truth, estimate, g.duration_seconds).items():
                        if rate is not None:
                            absent.setdefault((split_name, condition, method), {}).setdefault(row, []).append(rate)
                try:
                    tempo = grid.estimate_grid(ours_hits, g.duration_seconds).tempo_bpm
                except drums.NoDrumsFound:
                    tempo = float("nan")
                tempo_ok.setdefault((split_name, condition), []).append(abs(tempo / g.tempo_bpm - 1) <= 0.02)
        say(f"{split_name} scored ({time.perf_counter() - started:.0f} s)")

    song = grooves.groove(4242, "rock", tempo_bpm=128, seconds=180.0)
    audio = grooves.render_groove(song, grooves.FLUIDR3, args.cache, mix=True)
    make_map(audio)  # warm: the templates' file and the schema are read once per process
    map_seconds, doc = best_of(3, lambda: make_map(audio))
    stft_seconds, _ = best_of(3, lambda: drums.band_spectrogram(audio))
    baseline_seconds, _ = best_of(3, lambda: baseline_hits(baseline_onsets(audio), thresholds))
    say(f"3-minute song -> map {map_seconds:.2f} s (STFT alone {stft_seconds:.2f} s, baseline {baseline_seconds:.2f} s)")

    speed = (map_seconds, stft_seconds, baseline_seconds, audio.size / drums.SAMPLE_RATE_HZ, doc)
    text = report(results, absent, tempo_ok, shared, thresholds, speed, tune_count, held_count,
                  time.perf_counter() - started, args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    say(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def shared_sounds_line(shared: dict[tuple[str, str], list[int]]) -> str:
    """The report's account of which held-out kits share recordings with kits that tune, teach or choose."""
    pairs = [f"{held} with {other}: {len(notes)} of {len(overlap.NOTES)} GM drum notes "
             f"({', '.join(lane for lane in drums.LANES if any(drums.GM_NOTE_TO_LANE[n] == lane for n in notes))})"
             for (held, other), notes in sorted(shared.items())]
    return ("- **Shared sounds** (checked in this run by `bench/maps/overlap.py`: each GM drum note of a held-out kit "
            "against the same note of the tune SoundFonts' kits and of the validation kits; the same recording "
            "where the hits' normalised cross-correlation reaches 0.98): " + ("; ".join(pairs) or "none") + ". "
            "sf_GMbank is only in the tune split's part that the baseline's thresholds see and ours does not, so "
            "on TimGM6mb the baseline was tuned partly on the held-out drums' recordings and ours was not.")


def report(results: dict, absent: dict, tempo_ok: dict, shared: dict,
           thresholds: dict, speed: tuple, tune_count: int, held_count: int,
           elapsed: float, quick: bool) -> str:
    map_seconds, stft_seconds, baseline_seconds, song_seconds, doc = speed
    lines = [
        "# Maps: drum transcription bench",
        "",
        f"Written by `python -m bench.maps drums`{' --quick' if quick else ''} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {platform.python_version()}, run time {elapsed:.0f} s. Figures are from that run.",
        "",
        "## Setup",
        "",
        f"- **Data, all ours**: {tune_count} tune grooves on each of 3 SoundFonts, {held_count} held-out grooves on "
        f"TimGM6mb and {held_count} on recorded kits, {min(tune_count, VALIDATION_COUNT)} validation grooves on each of "
        f"{len(samplekits.VALIDATION_KITS)} kits, all of {SECONDS:.0f} s, written by "
        "`bench/maps/grooves.py` (rock, funk, hip-hop, house, jazz ride; a tom fill every four bars and a crash "
        "after it; 70-180 BPM; humanised timing and velocity; ghost notes in funk), each played alone and under "
        "a bass and piano part (separate stems, summed). Rendered with the FluidSynth CLI and Debian's SoundFonts: "
        "FluidR3_GM (fluid-soundfont-gm, MIT), MuseScore_General_Full (musescore-general-soundfont-lossless, MIT, "
        "parts CC0 / public domain), sf_GMbank (csound-soundfont, public domain) and TimGM6mb "
        "(timgm6mb-soundfont, GPL-2); the audio is used only for tuning and evaluation and is not shipped.",
        "- **Tune split**: FluidR3_GM seeds 0.., MuseScore_General seeds 100.., sf_GMbank seeds 200.., half of "
        "each on the SoundFont's other drum kits (room, power, electronic, jazz, brush). Our templates, "
        "thresholds, latencies, masks, kick classifier and onset detector were built on its FluidR3 and MuseScore "
        "part by `tools/build_drum_templates.py` (its sf_GMbank part enters nothing); the baseline's "
        "thresholds are chosen on all of it in this run.",
        "- **Validation split**: where model changes are chosen, outside both held-out splits and outside what the "
        "onset detector learns from: grooves on three recorded kits of hydrogen-drumkits (Millo_MultiLayered3, "
        "seeds 610..; BJA_Pacific, seeds 620..; ForzeeStereo, seeds 630..; GPL and CC-BY-SA, so evaluation only), "
        "white noise at 40 dB SNR. Before a change on 2026-12-01 it also held sf_GMbank grooves (seeds 500..) and GMRockKit "
        "(hydrogen-data, seeds 600..): they play the same recordings as TimGM6mb and The Black Pearl (below), so "
        "every model change chosen before then was chosen partly on the held-out splits' sounds.",
        shared_sounds_line(shared),
        "- **Held-out split (fresh)**: TimGM6mb (never used for our templates, tuning or classifiers), seeds "
        "3000.., standard kit, white noise at 40 dB SNR. These seeds are new: the previous held-out grooves "
        "(seeds 1000..) had been seen in an earlier report, so they are no longer used. Nothing is tuned on it.",
        "- **Recorded kits split (second held-out)**: the same kind of grooves (seeds 5000..) played from the "
        "samples of two recorded acoustic kits of Debian's hydrogen-drumkits package, The Black Pearl 1.0 "
        "(Pearl drums, Sabian and Paiste cymbals, 5 velocity layers) and ColomboAcousticDrumkit, taking turns, "
        "the band from FluidR3_GM, white noise at 40 dB SNR (`bench/maps/samplekits.py`). Real drums rather "
        "than a GM SoundFont's: the timbre farthest from what the model was built on. The kits are GPL, so "
        "they are played here for evaluation only; nothing is learned from them. The issue's targets are "
        "defined on the TimGM6mb split; this one is reported against the same numbers.",
        "- **Model** (`soundcanvas/maps/drum_templates.npz`, 24 template columns, a logistic regression "
        "of 25 weights and an onset detector of 6 x 48,584 weights, about 1.1 MB): single GM drum hits rendered "
        "with FluidR3_GM and MuseScore_General (2 x 7 kits x 22 notes x 3 velocities), 3 k-means centres per lane; "
        "thresholds, the kick's classifier and the detector from their tune grooves, the detector also from "
        "grooves on 48 drum kits we synthesize (`bench/maps/synthkits.py`), its hi-hat members also from grooves "
        "on 24 kits mixing recorded CC0 drums (Sonic Pi's samples, from freesound.org) with synthesized ones "
        "(`bench/maps/cc0kits.py`); derived from MIT (parts CC0) SoundFonts, CC0 recordings and our own sounds, "
        "so MIT. No third-party drum model or weights.",
        "- **Ours**: NMF (KL, 30 multiplicative updates) of a semitone-band spectrogram stacked with its state "
        "35 and 70 ms later against the fixed templates plus 6 free background columns; the ride by "
        "peak picking (threshold, rise, masks), a ride peak on a detected hi-hat dropped; the kick by a logistic "
        "regression over candidate peaks (the "
        "lane's activation 70 ms before to 140 ms after, every lane's activation around it, the peak against the "
        "song's own loud peaks); snare, hi-hats (closed and open), toms and crash by an onset detector, MLPs of "
        "64 ReLU units averaged (three for the snare, toms and crash, three trained with equalised copies too "
        "for the hi-hats), over every frame of the log band spectrogram with the frames 35 ms before to 140 ms "
        "after it, peaks of its probability over a cut (for the snare and the hi-hats the song's own: half the median "
        "of its peaks that pass the fixed cut); a detected snare must also reach half its lane's NMF threshold, a "
        "low tom all of it, and so must a peak only the song's cut lets through. All run with numpy.",
        "- **Baseline**: spectral-flux onsets, then per-onset band-energy rises (30-150 Hz, 150-500 Hz, "
        "500-2500 Hz, 5-11 kHz) and the high band's decay decide each lane by threshold rules (below), the "
        "thresholds tuned on the same tune split.",
        f"- **Score**: onset F1 with a 50 ms window (`mir_eval.onset.f_measure`) per groove that has the lane, "
        f"mean over grooves, [95 % bootstrap interval over grooves, {BOOTSTRAP} resamples]. *hihat* is closed "
        "and open merged (the target's hi-hat); the closed/open rows score the split between them too. F1 over "
        "the grooves that play a lane cannot see hits where none is played, so under each table: the mean hits "
        "per minute in the grooves without the row's lane (a lane found everywhere scores well on F1 and badly "
        "there).",
        "",
    ]
    for split_name in ("held-out", KITS_SPLIT, VALIDATION_SPLIT, "tune"):
        lines += [f"## {split_name.capitalize()} split: per-lane F1, ours vs baseline", "",
                  "| lane | alone: ours | alone: baseline | mix: ours | mix: baseline | target (alone / mix) |",
                  "|---|---|---|---|---|---|"]
        for row in ROWS:
            cells = []
            for condition in ("alone", "mix"):
                for method in ("ours", "baseline"):
                    cells.append(fmt(summary(results.get((split_name, condition, method), {}).get(row, []))))
            target = TARGETS.get(row)
            target_text = (f">= {target[0]:.2f} / >= {target[1]:.2f}" if target and split_name in ("held-out", KITS_SPLIT)
                           else "reported")
            lines.append(f"| {row} | " + " | ".join(cells) + f" | {target_text} |")
        ok = {c: tempo_ok.get((split_name, c), []) for c in ("alone", "mix")}
        rates = []
        for row in ROWS:
            by_method = {(c, m): absent.get((split_name, c, m), {}).get(row, []) for c in ("alone", "mix")
                         for m in ("ours", "baseline")}
            grooves_without = len(by_method[("alone", "ours")])
            if grooves_without:
                rates.append(f"{row} ({grooves_without} groove{'' if grooves_without == 1 else 's'}) " + ", ".join(
                    f"{c} {np.mean(by_method[(c, 'ours')]):.1f} vs {np.mean(by_method[(c, 'baseline')]):.1f}"
                    for c in ("alone", "mix")))
        lines += ["", "Hits per minute in the grooves without the lane, ours vs baseline: "
                  + ("; ".join(rates) if rates else "every groove plays every lane") + "."]
        lines += ["", f"Tempo from our hits within 2 % of the written tempo: alone {sum(ok['alone'])}/{len(ok['alone'])}, "
                  f"mix {sum(ok['mix'])}/{len(ok['mix'])}.", ""]
    for split_name, title in (("held-out", "the held-out split (TimGM6mb)"), (KITS_SPLIT, "the recorded kits")):
        held = {(c, row): summary(results.get((split_name, c, "ours"), {}).get(row, []))
                for c in ("alone", "mix") for row in TARGETS}
        met = [f"{row} {c} {held[(c, row)][0]:.3f} "  # three places: a 0.798 shown as 0.80 would read as met
               f"{'meets' if held[(c, row)][0] >= TARGETS[row][c == 'mix'] else 'MISSES'} {TARGETS[row][c == 'mix']:.2f}"
               for row in TARGETS for c in ("alone", "mix")]
        worse = [f"{row} ({c})" for row in ROWS for c in ("alone", "mix")
                 if summary(results.get((split_name, c, "ours"), {}).get(row, []))[0]
                 < summary(results.get((split_name, c, "baseline"), {}).get(row, []))[0]]
        lines += [f"## Targets on {title}", "", *[f"- {m}" for m in met], "",
                  f"Rows where the baseline beats ours on {title}: " + (", ".join(worse) or "none") + ".", ""]
    lines += [
        "## Speed (3-minute song, drums under bass and piano)",
        "",
        "| step | seconds | note |",
        "|---|---|---|",
        f"| audio -> map (transcribe, grid, quantise, levels, document) | {map_seconds:.2f} | "
        "target <= 10 s; fastest of 3 |",
        f"| bare STFT + band pooling of the same audio | {stft_seconds:.2f} | the floor under any spectral method |",
        f"| baseline transcription (onsets + band rules) | {baseline_seconds:.2f} | |",
        "",
        f"Song: {song_seconds:.0f} s at 128 BPM; the map has {len(doc['levels']['expert'])} expert, "
        f"{len(doc['levels']['hard'])} hard, {len(doc['levels']['medium'])} medium and {len(doc['levels']['easy'])} "
        f"easy notes, tempo {doc['tempoBpm']:.2f} BPM. Machine: {platform.processor() or platform.machine()}, "
        "2 cores.",
        "",
        "## Baseline rules (as tuned in this run)",
        "",
        "| lane | conditions |",
        "|---|---|",
    ]
    for lane, rule in RULES.items():
        conditions = ", ".join(f"{f} {d} {v:+.2f}" for (f, d), v in zip(rule, thresholds[lane], strict=True))
        lines.append(f"| {lane} | {conditions} |")
    lines += [
        "",
        "## Honest notes",
        "",
        "- Samples are few (grooves, not songs) and synthetic: the intervals above are over grooves and say how "
        "much the figure would move with other grooves of the same generator, not with real recordings.",
        "- During development one TimGM6mb groove outside the held-out split (the unit test's seed 9003) was "
        "inspected and showed snares taken for toms; the response was to learn templates from all of "
        "FluidR3's kits and tune on them (no TimGM data enters the templates or thresholds).",
        "- Method choices in this revision were made on tune data only: a model built from FluidR3 + "
        "MuseScore_General and checked on sf_GMbank grooves (seeds 500..509, a SoundFont it had not heard) "
        "stood in for a held-out SoundFont. There, against the FluidR3-only model: kick 0.91/0.78 -> "
        "0.97/0.81 (alone/mix), snare 0.87/0.84 -> 0.89/0.82, hihat 0.73/0.71 -> 0.83/0.79. That is the "
        "shipped model. Adding sf_GMbank to the model's data as well was tried and dropped: its snare fell "
        "(0.70 alone, 0.56 mix on sf_GMbank grooves 500..504; 0.59 mix on FluidR3 ones), the snare's learned "
        "latency turning to -21 ms.",
        "- Tried and dropped: templates from more SoundFonts alone (FluidR3 + MuseScore: hihat 0.73 -> 0.77 "
        "alone, no gain in the mix); semi-adaptive NMF (drum templates drifting up to 20-50 % toward the "
        "song, +0.01 on sf_GMbank, not worth the extra time); the classifier on the snare lane (alone 0.90 but "
        "mix 0.71 against 0.82 by threshold), on toms and ride (worse than thresholds). avldrums.lv2 kits "
        "were not used: CC-BY-SA-3.0 (share-alike on a derived model) and no GM drum preset.",
        "- The fresh held-out figures were read once, after the model was built; nothing was changed after "
        "reading them. Where a row misses its target it says so above.",
        "- Before/after on this same fresh held-out split (measured once, 2026-11-30, with the previous "
        "FluidR3-only model rebuilt by the previous tool, which reproduced its figures exactly): kick 0.93/0.81 "
        "(alone/mix), snare 0.89/0.83, hihat 0.70/0.68, closed 0.81/0.78, open 0.00/0.00, crash 0.03/0.00, "
        "tom_low 0.61/0.50, ride 0.34/0.27. So on TimGM6mb the new model gains on kick alone, crash and low "
        "toms, loses on the ride, and leaves the hi-hat where it was: the +0.10 hi-hat gain measured on "
        "sf_GMbank did not carry over to TimGM6mb, whose open hat is still never found.",
        "- Ghost notes (funk) are mostly missed and count as misses in the snare row; jazz at fast tempi can be "
        "halved by the grid (no backbeat to fix the octave).",
        "- Augmentation, tried and dropped (2026-11-30; chosen on sf_GMbank only: its 20 grooves, seeds 200..209 "
        "of the tune split and 500..509, alone and mixed). The tool's `--augment 1`, since removed, added one "
        "seeded variation of every training render (single hits and tune grooves): resampled by +-1..3 "
        "semitones (pitch and length together), a -3..+3 dB/octave tilt and three random +-6 dB band bumps. On "
        "sf_GMbank, shipped model -> augmented: hihat 0.72/0.71 -> 0.73/0.71 (alone/mix), closed 0.76/0.77 -> "
        "0.77/0.75, open 0.45/0.64 -> 0.71/0.72, crash 0.60/0.42 -> 0.78/0.36, ride 0.11/0.01 -> 0.34/0.09, "
        "kick 0.98/0.80 -> 0.97/0.85, but snare 0.77/0.78 -> 0.58/0.52 and low toms 0.78/0.12 -> 0.02/0.00 "
        "(pitch-shifted snares and toms overlap). No hi-hat gain and a large snare loss, so the model was not "
        "changed and the tool's default stays at 0 (it rebuilds the shipped model). Not tried for lack of time: "
        "augmenting the hat lanes only, merging closed and open hats for detection with open/closed decided by "
        "decay, per-song adaptive hat thresholds.",
        "- Where the hi-hat loses on sf_GMbank (a diagnosis on that validation SoundFont only): mostly ride hits "
        "taken for hats. Grooves with a ride instead of hats (rock on the ride, jazz with only the pedal hat on "
        "2 and 4) have 1-22 written hats but 26-58 hat hits, each scoring near zero in the per-groove mean, "
        "while the ride row is 0.11/0.01. Separating ride from hats on unheard kits looks like the next lever "
        "for the hi-hat row, more than finding missed hats.",
        "- Hi-hat revision (2026-11-30), every choice made on tune-half data (sf_GMbank: tune grooves 200..209 "
        "and grooves 500..509, alone and mixed; alone/mix F1). Adopted: the closed, open hi-hat and crash "
        "classifiers also learn from the tune split's sf_GMbank grooves (templates, thresholds, masks and the "
        "kick unchanged, so kick, snare, toms and ride give the same hits). On grooves 500..509, which it did "
        "not learn from: hihat 0.83/0.79 -> 0.84/0.79, closed 0.79/0.80 -> 0.83/0.78, open 0.33/0.81 -> "
        "0.99/0.91, crash 0.60/0.52 -> 0.73/0.64 (mirrored, learning from 500..509 and checked on 200..209: "
        "hihat 0.61/0.62 -> 0.64/0.65, open 0.53/0.51 -> 0.74/0.68). The cost, on the two SoundFonts the "
        "model is built from: hihat 0.87/0.79 -> 0.82/0.77, closed 0.86/0.78 -> 0.80/0.76, crash 0.71/0.64 "
        "-> 0.69/0.64. The kick's classifier learning from sf_GMbank too lost 0.01-0.02 in a mix: not done.",
        "- Tried and dropped in that revision (sf_GMbank, 20 grooves, shipped model hihat 0.72/0.71, open "
        "0.45/0.64, crash 0.60/0.42, ride 0.11/0.01): per-lane cuts (the closed and open classifiers' bias "
        "moved by -1..+2, the ride's threshold x0.5..2, a ride mask by closed hats 0..0.2): hihat 0.69-0.72 / "
        "0.67-0.72, ride at best 0.26/0.07; one 'metal' candidate set (closed + open + ride activations) "
        "decided none/closed/open/ride by a multinomial logistic regression with raw-spectrum features "
        "(high-band decay 35-280 ms, band balance, spectral flatness: a ride-vs-hat discriminator): hihat "
        "0.69/0.65, ride 0.07/0.09; a merged 'any hat' lane (one classifier on closed + open, split by the open "
        "lane's classifier): hihat 0.77/0.72 against 0.83/0.79 on grooves 500..509; hat-and-ride-only "
        "augmentation of the template hits (notes 42/44/46/51/53/59 re-equalised by a -4..+4 dB/octave tilt "
        "and three +-6 dB bumps, decay shortened to 0.06-0.4 s), 2 copies: hihat 0.73/0.71, open 0.82/0.60, "
        "crash 0.57/0.19; 4 copies and 4 templates per hat and ride lane: hihat 0.72/0.63 (200..209) and "
        "0.88/0.75 (500..509) against 0.61/0.62 and 0.83/0.79, crash in a mix 0.28 against 0.31/0.52, high "
        "toms in a mix 0.17 against 0.37. The ride on unheard kits stays unsolved: at sf_GMbank's ride hits the "
        "closed-hat, crash and ride activations are alike (median 0.033, 0.025, 0.025 of the loud level).",
        "- The held-out split (TimGM6mb, seeds 3000..) had been read twice before the hi-hat revision (the "
        "previous model's report, then its re-run); this run reads it a third time, once, with the model fixed "
        "beforehand on tune data, and nothing was tuned on it. The previous model on it (report of 2026-11-30 "
        "12:50): kick 0.97/0.81, snare 0.88/0.85, hihat 0.68/0.69, closed 0.77/0.78, open 0.00/0.00, crash "
        "0.74/0.14, ride 0.10/0.01. Against it the revision moved hihat to 0.70/0.70 and closed to 0.81/0.83, "
        "left the open hat at 0.00 (TimGM's open hat is still never found), and lowered the crash to 0.52/0.00; "
        "kick, snare, toms and ride are unchanged, as built. Nothing was changed after this reading.",
        "- Recorded kits (2026-12-01): the second held-out split was added and read once, with the model "
        "unchanged (the TimGM6mb figures above are the same as the previous report's, to the digit). Real drums "
        "keep the kick (both targets met) and most of the snare, but the hi-hat falls in a mix, below the "
        "baseline there. A diagnosis on a third recorded kit kept outside the split for validation (GMRockKit "
        "of Debian's hydrogen-data, GPL, seeds 600..609): in a mix the hat lane's activation at written hats "
        "is about half of what it is alone (the free background columns take the hats' energy where the "
        "templates, made from GM SoundFonts, fit a recorded hat poorly), and recorded open hats and crashes "
        "draw mostly on the crash templates and are then turned down by both classifiers (open hat 0.00 there).",
        "- Tried on that validation kit (GMRockKit, shipped model: hihat 0.85/0.58 alone/mix, kick 0.91/0.73) "
        "and on sf_GMbank grooves 500..509, and dropped (2026-12-01): the one recorded kit whose licence lets "
        "the model learn from it (Audiophob of hydrogen-drumkits, CC0; a hand-made set: its kick is a tom, its "
        "pedal hat a shaker) in the hat and crash classifiers' data: hihat 0.60/0.28 on GMRockKit, 0.77/0.75 "
        "against 0.83/0.79 on sf_GMbank. rumpf_kit_z01 (CC-BY-3.0) was not used: its instruments' names do "
        "not match their sounds (a 'low tom' centred at 5 kHz, an 'open hi-hat' of 0.12 s). The free background "
        "columns kept below 4 kHz or 6 kHz (so they cannot take a hat's energy), with the model rebuilt on "
        "them: on GMRockKit kick 0.96/0.83-0.84, but hihat 0.74-0.78/0.55-0.56; on sf_GMbank the open hat fell "
        "from 0.97/0.70 to 0.14-0.36/0.53-0.58 and the crash from 0.80/0.51 to 0.31-0.35/0.35-0.37. Templates "
        "adapting toward the song in the last two thirds of the updates (semi-adaptive NMF, weight 0.3 / 0.6, "
        "not rebuilt): hihat in a mix 0.61 / 0.65, but kick in a mix 0.64 / 0.54. The high band (above 5 kHz) read "
        "from the spectrogram itself as five more classifier features (its level, rise and decay at each "
        "candidate), the model rebuilt: GMRockKit hihat 0.66/0.35, sf_GMbank unchanged. Fewer background columns "
        "(3) or background updates half as often, each rebuilt: GMRockKit hihat 0.87/0.54 and 0.85/0.55, "
        "sf_GMbank 0.83/0.80 and 0.83/0.78, the crash in a mix lower (0.32, 0.44 against 0.51). The "
        "levers left are drum timbres the model may learn from (recorded kits under CC0 / CC-BY with "
        "standard names are what is missing) and a rebuilt model around one of those NMF changes.",
        "- Synthesized kits, adopted (2026-12-01): drums we make ourselves need no licence, so the hi-hat and "
        "crash classifiers also learn from two grooves on each of 12 kits synthesized from a seed "
        "(`bench/maps/synthkits.py`: 808-style hats of six square waves and noise, noisy cymbals with random "
        "partials, swept kicks and toms; alone and mixed, 40 dB SNR). Chosen on the validation kit and sf_GMbank "
        "before it met either held-out split: GMRockKit hihat 0.85/0.58 -> 0.86/0.68, closed 0.81/0.60 -> "
        "0.81/0.67; sf_GMbank hihat 0.83/0.79 -> 0.85/0.83, but its open hat in a mix 0.70 -> 0.57 and crash in "
        "a mix 0.51 -> 0.46. Templates, thresholds, masks and the kick are unchanged, so kick, snare, toms and "
        "ride give the same hits. Then read once (the recorded kits' second reading, TimGM6mb's fifth): recorded "
        "kits hihat 0.71/0.43 -> 0.70/0.52, closed 0.64/0.40 -> 0.66/0.49, open 0.25/0.15 -> 0.35/0.21, crash "
        "0.07/0.07 -> 0.12/0.07; TimGM6mb hihat 0.70/0.70 -> 0.70/0.71, closed 0.81/0.83 -> 0.79/0.80, crash "
        "0.52/0.00 -> 0.21/0.00. Kept for the gain on recorded drums in a mix, the case users bring; the TimGM "
        "crash alone is the cost. More synthesized variety (templates too, more kits, snares and toms) is the "
        "next lever.",
        "- Onset detector, adopted (2026-12-01): the snare and the hi-hats are found by three small MLPs over the "
        "log band spectrogram instead of NMF peaks, trained on the tune grooves of FluidR3 and MuseScore and two "
        "grooves on each of 48 synthesized kits (alone and mixed; sf_GMbank left out so that it stays a timbre "
        "it never heard). Chosen on the validation split (sf_GMbank 500..509, GMRockKit, Millo_MultiLayered3, "
        "BJA_Pacific; the mean of the four sets' means over 10 grooves each, alone/mix; the table above pools the "
        "grooves instead), before it met either held-out split. "
        "Previous model -> adopted: snare 0.84/0.79 -> 0.87/0.83, hihat 0.75/0.68 -> 0.80/0.75, closed "
        "0.79/0.71 -> 0.74/0.68 (recorded open hats are now found but mostly called closed), open 0.25/0.16 -> "
        "0.24/0.24; kick, toms, crash and ride unchanged (the same hits). How it was chosen, detector alone "
        "at a cut of 0.5: with 12 synthesized kits GMRockKit's hihat was 0.73/0.69, with 48 0.86/0.82, with 96 "
        "0.79/0.68 (with sf_GMbank in its data) and a four-set mean of 0.74/0.62 (without); one MLP moved by "
        "about 0.1 on a kit from one setting to the next, so three seeds are averaged (48 kits: four-set hihat "
        "0.80/0.72, and 0.80/0.75 at a hi-hat cut of 0.3, the cut adopted). The kick by the detector (0.90/0.81 "
        "against 0.94/0.79 by the classifier) was not adopted; the open hat's cut of 0.2 was chosen over "
        "0.3-0.9 (open 0.20/0.22 down to 0.06/0.03). Then read once, nothing changed after (TimGM6mb's sixth "
        "reading, the recorded kits' third): TimGM6mb snare 0.88/0.85 -> 0.87/0.86, hihat 0.70/0.71 -> 0.69/0.70, "
        "closed 0.79/0.80 -> 0.78/0.79, open still 0.00; recorded kits snare 0.86/0.79 -> 0.85/0.82, hihat "
        "0.70/0.52 -> 0.78/0.74, closed 0.66/0.49 -> 0.70/0.65, open 0.35/0.21 -> 0.21/0.19. So the gain on "
        "recorded drums carried over, TimGM6mb's hi-hat (whose open hat is never found) did not move, and a "
        "3-minute song takes 1.0 s instead of 0.87 s. A review then found the detector's hits read their "
        "velocity where the detector fires, on the attack, before the lane's activation peaks: read at the peak "
        "(as every other lane's is), the rank correlation of our velocity with the written one on the validation "
        "split rose from 0.42/0.27 to 0.74/0.50 for the snare and 0.41/0.35 to 0.51/0.41 for the closed hat "
        "(alone/mix); onsets are unchanged, and the tempo, which weighs hits by velocity, moved from 36/40 to "
        "33/40 within 2 % on the validation mixes and 25/30 to 26/30 on the tune split alone.",
        "- Equalised hi-hats, adopted (2026-12-01, the same session): three more MLPs, trained on the same frames "
        "plus a copy of each render through a seeded equaliser (a -3..+3 dB/octave tilt and three +-6 dB bumps an "
        "octave wide), answer for the hi-hat outputs; the first three keep the snare (the equalised ones lost it: "
        "detector alone at a cut of 0.5, snare 0.87/0.83 -> 0.80/0.80 while hihat 0.80/0.72 -> 0.81/0.80). On the "
        "validation split (four-set mean), previous -> adopted: hihat 0.80/0.75 -> 0.82/0.81, closed 0.74/0.68 -> "
        "0.77/0.77, open 0.24/0.24 -> 0.20/0.48; everything else the same hits. Then read once, nothing changed "
        "after (TimGM6mb's seventh reading, the recorded kits' fourth): TimGM6mb hihat 0.69/0.70 -> 0.69/0.71, "
        "closed 0.78/0.79 -> 0.76/0.79; recorded kits hihat 0.78/0.74 -> 0.80/0.79, closed 0.70/0.65 -> "
        "0.70/0.71, open 0.21/0.19 -> 0.22/0.58. The model file grows to 1.1 MB; a 3-minute song takes 0.9-1.1 s "
        "(runs vary).",
        "- Toms and crash by the detector, adopted (2026-12-01, a later session): the detector already had an "
        "output for every lane; the toms (thresholds until then) and the crash (its classifier) now take theirs, "
        "at a cut of 0.5, with the same networks, so kick, snare, hi-hats and ride give the same hits. On the "
        "validation split (four-set mean, alone/mix): tom_high 0.36/0.27 -> 0.41/0.32, tom_low 0.62/0.37 -> "
        "0.63/0.62, crash 0.26/0.12 -> 0.50/0.46. The low toms' output also fired on bass notes in music without "
        "drums (10 FluidR3 bass-and-piano parts alone, seeds 9004..9013: 164 false low toms, against 2 by "
        "threshold; a unit test caught it), so a detected low tom must also reach its lane's NMF threshold "
        "(DETECTOR_GATES): 13 false hits there, validation 0.67/0.66 ungated -> 0.63/0.62. Per set it is not "
        "all gain (ungated, sf_GMbank's low toms alone 0.65 -> 0.39, BJA_Pacific's 0.23 -> 0.86). The ride by "
        "the detector was not adopted (0.15/0.04 -> 0.10/0.14 at 0.5, 0.14/0.24 at 0.3: it finds few rides "
        "either way). The crash's classifier, and with it sf_GMbank and the 12-kit renders it learnt from, leave "
        "the build. Tried and dropped in the same session, on the "
        "same split: a detector that also sees 210 and 300 ms after each frame, so a ride's or an open hat's "
        "ring is in view (snare 0.87/0.83 -> 0.84/0.78, hihat 0.82/0.81 -> 0.80/0.79, open 0.20/0.48 -> "
        "0.40/0.57); dropping a detected hi-hat where the detector's ride output or the NMF ride activation is "
        "the larger (hihat unchanged at best: the recorded rides are heard as hats by both). Training on "
        "hydrogen-drumkits' CC-BY kit (rumpf_kit_z01) was considered and not done: its 'cymbals' and open hat "
        "are short percussion samples (0.1-0.4 s), not a ride or an open hat (Audiophob, the CC0 one, was tried "
        "earlier and lost). Where the hi-hat loses on the validation split: jazz and ride grooves (hi-hat "
        "0.55-0.73 against 0.85-1.00 on the other styles), the ride's hits taken for hats. Tried and dropped "
        "next (a later session, same split): the synthesized kits' ride made more like a real one (40-80 "
        "inharmonic partials ringing for seconds, the higher the shorter, a little noise wash and the stick's "
        "click, in place of noise with 12 partials), the detector retrained on them: hihat 0.82/0.81 -> "
        "0.80/0.79, open hat 0.20/0.48 -> 0.24/0.57, tom_low 0.63/0.62 -> 0.71/0.68, tom_high 0.41/0.32 -> "
        "0.38/0.30, crash 0.50/0.46 -> 0.50/0.42, ride unchanged at 0.15/0.04 (its threshold decides).",
        "- Recorded CC0 hi-hats, adopted (2026-12-01, a later session): Debian's sonic-pi-samples holds "
        "freesound.org recordings released under CC0 (one acoustic kit by menegass: closed, pedal and open "
        "hi-hat, a cymbal, a splash, snare, kick and toms, soft and hard; more kicks and snares by others), "
        "recorded drums with the names of what they are under a licence the model may learn from (Audiophob, "
        "hydrogen-drumkits' CC0 kit, is a hand-made set). 24 kits take each drum (the hats as one set) from them "
        "with probability 0.6, resampled by up to +-3 semitones (kick and toms +-2) and tilted by up to +-3 dB an "
        "octave, the rest from the synthesized kit of the same seed (`bench/maps/cc0kits.py`); two grooves on "
        "each (seeds 900..), alone and mixed. Validation split (four-set mean, alone/mix): all six networks "
        "learning from them: hihat 0.82/0.81 -> 0.82/0.82, open 0.20/0.48 -> 0.45/0.62, tom_low 0.63/0.62 -> "
        "0.77/0.69, but snare 0.87/0.83 -> 0.84/0.79 (sf_GMbank's 0.81 -> 0.65 alone) and tom_high 0.41/0.32 -> "
        "0.28/0.37: dropped. Only the three hi-hat networks learning from them (the others, and the inputs' "
        "standardisation, bit for bit the shipped ones): hihat 0.82/0.81 -> 0.83/0.82, closed 0.77/0.77 -> "
        "0.79/0.79, open 0.20/0.48 -> 0.63/0.59, every other row the same hits; per set, sf_GMbank's hihat in a "
        "mix fell 0.85 -> 0.82 and the recorded kits' rose. Adopted. Between the two tries the hi-hat networks "
        "learnt from the same renders, only standardised differently, and the open hat moved from 0.45/0.62 to "
        "0.63/0.59: the size of its gain is uncertain (both well above 0.20/0.48). The hats of the 24 kits are "
        "one recorded set (in 12 of them), varied. Then read once, nothing changed after (TimGM6mb's ninth "
        "reading, the recorded kits' sixth): recorded kits hihat 0.80/0.79 -> 0.81/0.82 (the mix target met), "
        "closed 0.70/0.71 -> 0.75/0.74, open 0.22/0.58 -> 0.66/0.73; TimGM6mb hihat 0.69/0.71 -> 0.68/0.68, "
        "closed 0.76/0.79 -> 0.76/0.77, open still 0.00. The hi-hat cuts, checked again on the validation split "
        "with the new networks (hihat 0.25-0.4, open 0.15-0.3): hihat within 0.01 of 0.83/0.82 everywhere, the "
        "open hat no better than at cuts of 0.3 (hi-hat) and 0.2 (open), so kept.",
        "- Hits where a lane is not played, and rides on hats dropped (2026-12-01, a later session): F1 over the "
        "grooves that play a lane is blind to hits in the grooves that do not, so each table now has those hits "
        "per minute under it. They showed our ride lane firing where no ride is played (validation 35 a minute "
        "alone, 11 in a mix; 94 % of those hits on a played hi-hat, which the detector had found too: one cymbal "
        "written as two notes) and the baseline's ride row (0.55-0.58, better than ours) as a ride found "
        "everywhere (100-200 a minute where none is played). A ride peak within 23 ms of a detected hi-hat is now "
        "dropped. Validation: ride where not played 35/11 -> 2.9/0.1 a minute, ride F1 0.14/0.04 -> 0.05/0.01; "
        "every other row the same hits. Kept although the F1 falls: the rides it found were mostly hits already "
        "written as hats. Then read once (TimGM6mb's tenth reading, the recorded kits' seventh), nothing changed "
        "after: ride where not played 16.6/0.8 -> 3.0/0.6 on TimGM6mb and 20.1/9.9 -> 4.7/4.7 on the recorded "
        "kits, ride F1 0.10/0.01 -> 0.02/0.01 and 0.30/0.18 -> 0.09/0.03 (the recorded kits lose the most: more of "
        "their rides had been found, as hats and rides at once). Tried on the validation split and not adopted: "
        "the other way round (a hat on a ride peak dropped: hihat 0.83/0.82 -> 0.78/0.81); the baseline's ride "
        "rule for our ride lane (F1 0.55/0.49 but 150-200 hits a minute where none is played); in songs whose "
        "hat members' ride output fires on many hat hits, only hats over a higher cut kept (hihat at best "
        "0.85/0.83 against 0.83/0.82, house in a mix 0.88 -> 0.81). Hats taken from ride hits are the "
        "hi-hat's main loss: removing exactly those would lift validation hihat to 0.91/0.89.",
        "- Held out by file, not by sound (found 2026-12-01, the same session): rendered alone, TimGM6mb's "
        "standard kit and sf_GMbank's play the same recordings for 16 of the 22 GM drum notes (kick, snare, "
        "closed and pedal hats, toms, ride; normalised cross-correlation 0.99-1.0; not the open hat, the ride bell or "
        "the crash, china and splash cymbals; "
        "sf_GMbank's other kits share 7-16, always the closed and pedal hats and the ride), "
        "and hydrogen-data's GMRockKit plays The Black Pearl's recordings for 21 of 22. sf_GMbank grooves and "
        "GMRockKit were in the validation split, where every model change since it existed was chosen (and, "
        "earlier, sf_GMbank tune grooves taught the hat and crash classifiers since replaced), so every choice "
        "recorded above was made partly on the held-out splits' drums: their figures may flatter us by what "
        "those choices learnt about exactly those recordings. No model parameter of the current build was "
        "learnt from them (the tool learns from FluidR3_GM, MuseScore_General, our synthesized kits and Sonic "
        "Pi's CC0 samples; the SoundFonts play no held-out drum recording, and Sonic Pi's samples, compared by hand "
        "once with every held-out hit, reach at most 0.87, a kick). From this run the "
        "validation split is three recorded kits that share no recording with either held-out split "
        "(Millo_MultiLayered3 and BJA_Pacific, validation kits before too, and ForzeeStereo, new; GPL-2 and "
        "CC-BY-SA, evaluation only; only ForzeeStereo's grooves were never seen while choosing), and "
        "each run checks and prints what the held-out kits share (Setup, above; a unit test fails if a "
        "validation kit plays a held-out recording). On it the shipped model scores lower than on the old "
        "split (hihat 0.78/0.76 against 0.83/0.82, snare 0.85/0.76 against 0.87/0.83); the rides on hats change "
        "above holds there too (ride where not played 30.6/8.2 -> 1.9/0.7 a minute, ride F1 0.16/0.06 -> "
        "0.04/0.02, hihat 0.78/0.76 either way). The held-out figures are the same grooves and model as before; "
        "the TimGM6mb baseline, whose thresholds see the tune split's sf_GMbank grooves, was tuned partly on the "
        "held-out drums' recordings.",
        "- A recorded ride for the hi-hat networks, and the CC0 kits' variation flaw fixed: tried and dropped "
        "(2026-12-02, a later session; validation split only, no held-out reading). Per style on the validation "
        "split (shipped model, alone/mix) the hi-hat is 0.92/0.83 on funk, 0.92/0.89 hip-hop, 0.80/0.75 house, "
        "0.71/0.71 rock (its ride grooves 0.15-0.61) and 0.52/0.60 jazz: on Millo_MultiLayered3 and BJA_Pacific "
        "the hat output fires on 70-96 % of ride hits; on ForzeeStereo it does not, and the detector's ride output "
        "fires on those rides (median probability 0.66-0.83 alone, 0.28-0.39 in a mix; 0.00-0.19 on the other "
        "two kits' rides), which the ride lane, decided by its NMF threshold, misses. "
        "No recorded ride was among the drums the model may learn from (Sonic Pi's have none). Debian's exadrums "
        "ships one recorded kit (kick, snare, a closed hi-hat, ride edge and bell, crash, two toms; BSD-3-Clause "
        "by the package's copyright file and the upstream repository's licence; no held-out or validation "
        "recording among them, highest normalised correlation 0.70). Only the three hi-hat networks retrained, "
        "every other parameter the shipped one's (alone/mix): the variation's flaw fixed (cc0kits.varied tilts "
        "the unpadded sample, so the filter's spread wraps onto its end, about -24 dB against the peak, and its "
        "20 Hz floor lifts DC): hihat 0.78/0.76 -> 0.79/0.76, closed 0.69/0.73 -> 0.72/0.74, open 0.38/0.38 -> "
        "0.27/0.38 (0.33/0.40 when trained on one thread instead of two: that row moves by seed noise alone), "
        "open hats where none is played 30.1/12.6 -> 21.4/10.9 a minute; with it, eXaDrums' ride edge and bell as "
        "two more ride choices: hihat 0.77/0.75 (Millo_MultiLayered3 in a mix 0.69 -> 0.59), hats where no "
        "closed hat is played 142/91 -> 183/111 a minute; every kit's ride one of eXaDrums': hats where none is "
        "played 95/36 a minute, but hihat 0.76/0.71; its whole kit as more choices: hihat 0.76/0.75, open "
        "0.15/0.25. One recorded ride taught the networks nothing about the validation kits' rides; the fix alone "
        "moved the target row by 0.01 and lost the open hat alone, so the shipped model stays (the flaw is kept "
        "so the tool rebuilds it; two threads, as the tool's docstring says).",
        "- Soft snares, the detector's size and a song-level timekeeper: tried and dropped (2026-12-02, a later "
        "session; validation split only, no held-out reading). Only the three networks that answer for the snare, "
        "toms and crash retrained, with the shipped standardisation, the hi-hat networks and every other parameter "
        "the shipped one's (alone/mix). Retrained on the same data (the control): snare 0.85/0.76, tom_high "
        "0.27/0.28, tom_low 0.72/0.75, crash 0.68/0.64 (shipped 0.85/0.76, 0.27/0.24, 0.72/0.75, 0.71/0.68). The "
        "synthesized kits given a soft snare below velocity 64 (less rattle, its noise band topped at 3-6.5 kHz, "
        "shorter, 0-6 dB quieter: what a soft stroke does to a snare): snare 0.83/0.76 (jazz 0.66/0.59, funk "
        "0.85/0.74, house 0.82/0.64), tom_high 0.21/0.25, crash 0.64/0.64. 128 hidden units instead of 64: snare "
        "0.81/0.74 (toms 0.34/0.29 and 0.78/0.73). 30 passes instead of 15: snare 0.84/0.77. None lifts the snare "
        "past seed noise. For the hi-hat, whether a song keeps time on a ride or on hats was looked for in the "
        "high band (above 5 kHz) after each detected hat: its median drop before the next hat is -5.6 to -7.4 dB "
        "in the ride grooves of Millo_MultiLayered3 and BJA_Pacific and -4.0 to -14.7 dB in grooves on hats (their "
        "closed hats ring, snares and open hats fill the band), so no cut tells the two apart. Tried again with the "
        "rebuilt model (below), validation only: the same drop as a rate over the time to the next hit, per groove "
        "(the median over its detected hats): ride grooves 6.2-8.8 dB per 100 ms, grooves on hats 2.6-18.6 (ForzeeStereo's "
        "funk 5.4-7.0, hip-hop 7.8-8.7, BJA_Pacific's funk 7.9-8.7 among the rides); and hats added where only the "
        "open hat's output peaks, 45 ms from any detected hat: hihat 0.805/0.784 -> 0.803/0.790 at its cut of 0.2, "
        "0.802-0.804/0.785-0.787 at 0.3-0.6. Neither adopted.",
        "- A song's own cut for the snare and the hi-hats, adopted (2026-12-02, a later session; chosen on the "
        "validation split, then read). The detector's peaks at a kit's hits sit near 1 on kits like those it "
        "learnt from and at 0.4-0.6 on others or under a band, so one fixed cut is too high for some songs and too low "
        "for others: on the validation split the best cut per groove, chosen with the answers (0.1-0.7), would give "
        "the hi-hat about 0.85/0.85 against 0.78/0.76 at the fixed 0.3 (the best fixed cut: 0.4 alone, 0.15 in a mix). "
        "Rules without answers, a fraction of the median height of the song's peaks above a level, floored: over "
        "levels 0.1-0.5, fractions 0.4-0.8 and floors 0.1-0.25 the hi-hat reached 0.79-0.80/0.79-0.81 on a broad "
        "plateau and the snare up to 0.88/0.79 (level 0.3, fraction 0.6). Adopted, for one constant and no floor: the "
        "level is the output's fixed cut (0.5 snare, 0.3 hats) and the fraction 0.5 (drums.song_cut). Validation "
        "(mean of the three kits' means): snare 0.85/0.76 -> 0.86/0.79 (ForzeeStereo 0.73/0.58 -> 0.77/0.64), "
        "hi-hat 0.78/0.76 -> 0.79/0.79 (ForzeeStereo 0.71/0.70 -> 0.75/0.75), closed 0.68/0.73 -> 0.70/0.75, open "
        "0.38/0.37 -> 0.38/0.39; hats where no closed hat is played 149/85 -> 169/95 a minute. The toms and the crash "
        "with the same rule (the detector's raw peaks, before the low toms' gate; means over grooves): tom_high "
        "0.29/0.26 -> 0.28/0.24, tom_low 0.74/0.71 -> 0.75/0.68, crash 0.71/0.68 -> 0.72/0.70: not for them; the "
        "open hat's output with its own song cut: open 0.38/0.39 -> 0.38/0.39, not adopted. Read once (TimGM6mb's "
        "eleventh reading, the recorded kits' eighth): TimGM6mb snare 0.87/0.86 -> 0.89/0.86, hihat 0.68/0.68 -> "
        "0.69/0.66, closed 0.76/0.77 -> 0.77/0.76; recorded kits snare 0.85/0.82 -> 0.85/0.83, hihat 0.81/0.82 -> "
        "0.80/0.80, ride 0.09/0.03 -> 0.13/0.06. A review then found what no split can show, as every groove has a "
        "snare: in ten FluidR3 bass-and-piano parts without drums (seeds 9004..9013, 160 s) the snare output reaches "
        "0.5 now and then (63 false snares at the fixed cut) and the song's cut doubled them (120); the hat output "
        "has no peak over 0.1 there. So a peak only the song's cut lets through must also reach its lane's NMF "
        "threshold, as the low toms' detected hits must (gate 1.0; 0.5: 108 snares there, 2.0: 66 with the "
        "validation snare at 0.86/0.78): 82 false snares; validation snare 0.86/0.79, hi-hat 0.79/0.78 (ForzeeStereo "
        "0.77/0.63 and 0.75/0.74), closed 0.70/0.75. Read once more (the twelfth and ninth readings; a script reading "
        "the same hits also printed the held-out snare per style once, which nothing used): TimGM6mb snare 0.89/0.87, hihat "
        "0.69/0.66; recorded kits snare 0.86/0.83, hihat 0.80/0.80 (0.798 in a mix: the mix target, met before at "
        "0.82, missed by 0.002, inside both intervals). Kept as chosen on the validation split; nothing changed after.",
        "- The snare gated by its templates, adopted (2026-12-02, the same session; chosen on the validation split, "
        "then read once). Counting the drum-free bands' false snares above showed the snare's output firing where "
        "its NMF activation is near nothing (kick and hat hits it takes for a snare). A detected snare must now reach "
        "a fraction of its lane's threshold, as the low toms' must reach all of it (DETECTOR_GATES): validation "
        "snare (mean of the three kits' means) 0.86/0.79 ungated, 0.88/0.79 at 0.1, 0.89/0.79 at 0.25, 0.89/0.78 at "
        "0.5, 0.88/0.78 at 0.75, 0.87/0.77 at 1.0; the bands' false snares 82, 81, 79, 71, 52, 43. Adopted: 0.5 (0.25 "
        "scores 0.006/0.003 more, inside the noise, and lets 8 more false snares through). Every other lane gives "
        "the same hits. Validation snare 0.86/0.79 -> 0.89/0.78 (Millo_MultiLayered3 0.85/0.80 -> 0.91/0.80, "
        "BJA_Pacific 0.96/0.94 -> 0.95/0.92, ForzeeStereo 0.77/0.63 -> 0.79/0.63); the tune split's snare in a mix "
        "0.92 -> 0.88. Read once, nothing changed after (TimGM6mb's thirteenth reading, the recorded kits' tenth): "
        "TimGM6mb snare 0.89/0.87 -> 0.91/0.87, recorded kits 0.86/0.83 -> 0.90/0.83 (0.903 alone): the snare "
        "targets are met on both held-out splits, alone and in a mix. The same gate for the hi-hats (their closed and "
        "open activations together), tried after, on validation only: 0.79/0.78 at 0.1 and 0.25, 0.79/0.78 at 0.5 "
        "(0.792/0.777 against 0.794/0.784): their false hats are rides, which the templates hear as hats too; not "
        "adopted. Validation snare per style (alone/mix) rock "
        "0.97/0.96, hip-hop 0.98/0.91, house 0.95/0.78, funk 0.82/0.69, jazz 0.69/0.58. The shipped file's gates "
        "are the tool's (a unit "
        "test holds them together): rebuilt here with this DETECTOR_GATES, every array came out equal to the "
        "shipped one's but the networks' weights, which did not reproduce (up to 0.48 apart, as in this session's "
        "retrains above); the shipped networks were kept then, and the gate reads only the templates' activations.",
        "- The model rebuilt by its tool, adopted (2026-12-02, a later session; chosen on the validation split, then "
        "read once). Those networks came from an earlier state of the tool: two more builds agreed with each other "
        "array for array and with no earlier shipped file. The tool now pins numpy's and scikit-learn's BLAS at two "
        "threads whatever the machine (tools/build_drum_templates.py, pinned_blas; one thread against two moves the "
        "weights by up to 0.2) and records in the file what it was built with (`build`); its output is shipped. "
        "Validation (mean of the three kits' means, alone/mix), shipped -> rebuilt: snare 0.885/0.783 -> 0.885/0.791, "
        "hihat 0.794/0.784 -> 0.805/0.784, closed 0.701/0.747 -> 0.717/0.738, open 0.378/0.389 -> 0.400/0.398, "
        "tom_high 0.272/0.242 -> 0.265/0.279, tom_low 0.717/0.753 -> 0.716/0.748, crash 0.707/0.679 -> 0.684/0.641; "
        "kick and ride the same hits; in the ten drum-free band parts (seeds 9004..9013) 117 -> 109 false hits "
        "(snares 71 -> 65, low toms 17 -> 17, high toms 2 -> 0, kicks 27 -> 27). Read once, nothing changed after "
        "(TimGM6mb's fourteenth reading, the recorded kits' eleventh): TimGM6mb snare 0.91/0.87 -> 0.910/0.873, "
        "hihat 0.69/0.66 -> 0.681/0.660, tom_high 0.73/0.63 -> 0.68/0.67, crash 0.76/0.56 -> 0.73/0.54; recorded kits "
        "snare 0.903/0.83 -> 0.907/0.838, hihat 0.80/0.798 -> 0.805/0.797, open 0.66/0.73 -> 0.61/0.73. The targets "
        "section prints three places from this run.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.maps drums", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--quick", action="store_true", help="fewer grooves (a smoke run; not for the report)")
    return run(parser.parse_args(list(argv) if argv is not None else None))


if __name__ == "__main__":
    raise SystemExit(main())
