"""Tune soundcanvas.listen.rhythm's and .harmony's free parameters on the corpus' 'tune' split.

    python -m bench.listen.tune_analysis --stage rhythm --cross-validate   # then key, chords
    python -m bench.listen.tune_analysis --stage check                     # the constants as they stand
    python -m bench.listen.tune_analysis --stage key --notes true --condition clean --seeds 7

Only the 'tune' split is ever read: the even-indexed pieces of bench.listen.corpus.pieces() for
corpus seed 7 (the 24 the report's pieces are paired with) and, by default, for seeds 8 and 9
as well: 48 more pieces from the same generator, also 'tune' pieces, never a 'report' one. The
extra seeds are there because the rhythm model has about fifty weights and 24 pieces would
overfit them. Each piece is heard twice by default (`--condition both`): as the corpus renders
the tune split (FluidR3, clean) and rendered the way it renders the report split (TimGM6mb,
pink noise at 30 dB SNR), so the values chosen survive another SoundFont and noise. Figures
are printed for seed 7 per condition (comparable with the report's table) and for every item.

The product runs on transcribed notes, so by default the stages are fed soundcanvas.listen.
transcribe's notes of the recordings (cached as JSON beside them) and our own beats, as in
bench.listen.evaluate's chain; `--notes true` feeds the corpus' notes instead.

Stages, each printing its tune-split figures beside the bare baseline and the values to paste
into the module's constants (which carry the command and the figures in a comment):
- rhythm: the log-linear metrical model's weights (rhythm.WEIGHTS, TEMPO_PRIOR, LOOP_WEIGHTS) by
  maximum likelihood: a softmax over every (beat period, meter, downbeat bin) hypothesis of a
  piece, the true tempo (within 1.5 %), meter and downbeat (within one bin) as the target, L2 on
  every weight but the meter offsets (RHYTHM_L2); `--cross-validate` also fits with each seed
  held out. Baseline: librosa.beat.beat_track.
- key: coordinate ascent on the MIREX weighted score over KEY_GRID. Baselines:
  Krumhansl-Schmuckler on the notes' duration profile, and on the audio's mean chroma_cqt (the
  evaluator's).
- chords: coordinate ascent on length-weighted mir_eval majmin over CHORD_GRID, with our beats
  (the fitted rhythm's under 'all', the module's under 'chords') and no downbeats, as the
  evaluator calls it. Baseline: the same templates per beat without smoothing (smooth=False).
- check: no tuning; the module constants on the evaluator's chain beside the baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import soundfile
from scipy.optimize import minimize

from bench.listen.corpus import REPORT_SNR_DB, TIMGM, Piece, pieces, render, render_digest, rendered
from bench.listen.evaluate import chord_majmin, key_score, tempo_hits
from soundcanvas.listen import harmony, rhythm
from soundcanvas.listen.notes import Note

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / "out" / "listen-bench"
SPLIT = "tune"  # the only split this module reads
STANDARD_SEED = 7
DEFAULT_SEEDS = (7, 8, 9)
RHYTHM_L2 = 1.0
TRUE_TEMPO_TOLERANCE = 0.015  # hypotheses this close (relative) to the true tempo count as right
KEY_GRID: dict[str, Sequence[Any]] = {
    "albrecht_share": (0.0, 0.25, 0.5, 0.75, 1.0),
    "bass_weight": (0.0, 0.5, 1.0, 2.0),
    "max_note_seconds": (0.5, 1.0, 2.0, 4.0),
    "cadence_weight": (0.0, 0.1, 0.2, 0.3, 0.5, 0.8),
    "cadence_seconds": (1.0, 2.0, 3.0),
    "audio_weight": (0.0, 0.2, 0.4),
}
KEY_MODE_PRIOR_GRID = (-0.1, -0.05, 0.0, 0.05)
CHORD_GRID: dict[str, Sequence[Any]] = {
    "temperature": (0.05, 0.1, 0.2, 0.4),
    "bar_change": (0.3, 0.5, 0.7, 0.9),
    "beat_change": (0.002, 0.01, 0.03, 0.1),
    "bass_weight": (0.0, 0.15, 0.3, 0.5),
    "seventh_penalty": (0.0, 0.05, 0.1, 0.2),
    "key_weight": (0.0, 0.1, 0.2, 0.4),
    "onset_weight": (0.0, 0.5, 1.0, 2.0),
    "audio_weight": (0.0, 0.2, 0.4),
}
ROUNDS = 2


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class Item:
    """One tune piece with what every stage reads."""

    seed: int
    condition: str  # 'clean' | 'noisy' (see tune_recordings)
    piece: Piece
    audio: np.ndarray
    notes: list[Note]
    chroma: np.ndarray  # harmony.chroma_frames of the audio
    table: rhythm.HypothesisTable | None = None
    envelopes: dict[str, np.ndarray] = field(default_factory=dict)
    beats_seconds: np.ndarray | None = None


def tune_recordings(seed: int, condition: str) -> list[tuple[Piece, Path]]:
    """The tune split's pieces of a corpus seed with their recordings: 'clean' as the corpus renders
    the tune split (FluidR3, no noise); 'noisy' as it renders the report split (TimGM6mb, pink
    noise at REPORT_SNR_DB), applied to the tune pieces, to check that tuned values survive
    another SoundFont and noise."""
    if condition == "clean":
        return rendered(SPLIT, CACHE_DIR, seed=seed)
    chosen = [piece for piece in pieces(seed=seed) if piece.split == SPLIT]
    out = []
    for piece in chosen:
        digest = render_digest(piece, TIMGM, REPORT_SNR_DB, rhythm.SAMPLE_RATE_HZ)
        path = CACHE_DIR / f"{SPLIT}-noisy" / f"{piece.name}-{digest}.wav"
        if not path.exists():
            render(piece, TIMGM, path, REPORT_SNR_DB)
        out.append((piece, path))
    return out


def tune_items(seeds: Sequence[int], notes: str, condition: str = "clean") -> list[Item]:
    """The tune split of each corpus seed with its audio, notes (true or transcribed) and chroma;
    condition 'both' gives every piece twice, clean and noisy."""
    items = []
    conditions = ("clean", "noisy") if condition == "both" else (condition,)
    for seed, recording in ((seed, c) for c in conditions for seed in seeds):
        for piece, path in tune_recordings(seed, recording):
            if piece.split != SPLIT:
                raise RuntimeError(f"{piece.name} is not a tune piece")
            audio, _ = soundfile.read(str(path), dtype="float32")
            audio = np.asarray(audio if audio.ndim == 1 else audio.mean(axis=1), dtype=np.float32)
            chosen = piece.notes if notes == "true" else transcribed(path, audio)
            items.append(Item(seed, recording, piece, audio, chosen, harmony.chroma_frames(audio)))
    return items


def transcribed(path: Path, audio: np.ndarray) -> list[Note]:
    """soundcanvas.listen.transcribe's notes of a tune recording, cached as JSON beside it."""
    cache = path.with_suffix(".notes.json")
    if cache.exists():
        return [Note.from_json(item) for item in json.loads(cache.read_text())]
    from soundcanvas.listen.transcribe import transcribe

    notes = transcribe(audio)
    cache.write_text(json.dumps([note.to_json() for note in notes]))
    return notes


def report_line(label: str, figures: Callable[[Sequence[Item]], str], items: Sequence[Item]) -> None:
    """One line: the figures on seed STANDARD_SEED's tune pieces per recording condition, then on
    every tune item."""
    parts = []
    for condition in ("clean", "noisy"):
        chosen = [item for item in items if item.seed == STANDARD_SEED and item.condition == condition]
        if chosen:
            parts.append(f"seed {STANDARD_SEED} {condition} (n={len(chosen)}): {figures(chosen)}")
    parts.append(f"all (n={len(items)}): {figures(items)}")
    say(f"  {label:<36} " + "   ".join(parts))


# -------------------------------------------------------------------------------------------- rhythm


def rhythm_tables(items: Sequence[Item]) -> None:
    fps = rhythm.SAMPLE_RATE_HZ / rhythm.HOP_LENGTH
    for item in items:
        item.envelopes = rhythm.accent_envelopes(item.audio, item.notes, rhythm.SAMPLE_RATE_HZ)
        item.table = rhythm.hypothesis_table(item.envelopes, fps, notes=item.notes)


def _design(item: Item) -> tuple[np.ndarray, np.ndarray]:
    """Every hypothesis of a piece as a row of features (contrast features for all FEATURES, then
    c0, c1, c2 of each meter's prior, then the LOOP_BARS similarities) and whether it is right."""
    assert item.table is not None
    table, piece = item.table, item.piece
    n_contrasts = len(rhythm.FEATURES) * len(rhythm.CONTRASTS)
    rows, right = [], []
    for index, meter in enumerate(rhythm.METERS):
        features = table.features[meter]
        periods, bins = features.shape[:2]
        full = np.zeros((periods, bins, len(rhythm.FEATURES), len(rhythm.CONTRASTS)), dtype=np.float32)
        for position, name in enumerate(table.envelope_names):
            full[:, :, rhythm.FEATURES.index(name)] = features[:, :, position]
        bpm = 60.0 / table.beat_seconds[meter]
        x = np.log2(bpm / rhythm.TEMPO_PRIOR_REFERENCE_BPM)
        prior = np.zeros((periods, 9), dtype=np.float32)
        prior[:, 3 * index:3 * index + 3] = np.stack([np.ones_like(x), x, x * x], axis=1)
        loops = table.loops[meter].astype(np.float32)
        rows.append(np.hstack([full.reshape(periods * bins, n_contrasts), np.repeat(prior, bins, axis=0),
                               np.repeat(loops, bins, axis=0)]))
        tempo_ok = np.abs(np.log(bpm / piece.tempo_bpm)) < TRUE_TEMPO_TOLERANCE
        phase_ok = np.isin(np.arange(bins), (0, 1, bins - 1))
        right.append((tempo_ok[:, None] & phase_ok[None, :]).reshape(-1) & (meter == piece.time_signature))
    return np.vstack(rows), np.concatenate(right)


def fit_rhythm(items: Sequence[Item], l2: float = RHYTHM_L2) -> dict[str, Any]:
    """Maximum-likelihood weights of the log-linear metrical model (see the module docstring)."""
    designs = [_design(item) for item in items]
    n_contrasts = len(rhythm.FEATURES) * len(rhythm.CONTRASTS)
    n_loops = len(rhythm.LOOP_BARS)
    # every weight is shrunk but the meters' prior offsets (c0)
    penalised = np.ones(n_contrasts + 9 + n_loops)
    penalised[n_contrasts:n_contrasts + 9:3] = 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = 0.0, np.zeros_like(w)
        w32 = w.astype(np.float32)
        for rows, right in designs:
            if not right.any():
                continue
            scores = rows @ w32
            e = np.exp(scores - scores.max())
            z, z_right = float(e.sum()), float(e[right].sum())
            total -= float(np.log(z_right) - np.log(z))
            gradient -= (rows[right].T @ e[right] / z_right - rows.T @ e / z).astype(float)
        total += l2 * float(np.sum(penalised * w ** 2))
        gradient += 2 * l2 * penalised * w
        return total, gradient

    result = minimize(loss, np.zeros(n_contrasts + 9 + n_loops), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})
    matrix = result.x[:n_contrasts].reshape(len(rhythm.FEATURES), len(rhythm.CONTRASTS))
    weights = {name: {contrast: round(float(matrix[i, j]), 3) for j, contrast in enumerate(rhythm.CONTRASTS)}
               for i, name in enumerate(rhythm.FEATURES)}
    priors = {meter: tuple(round(float(v), 3) for v in result.x[n_contrasts + 3 * i:n_contrasts + 3 * i + 3])
              for i, meter in enumerate(rhythm.METERS)}
    loop_weights = {bars: round(float(v), 3) for bars, v in zip(rhythm.LOOP_BARS, result.x[n_contrasts + 9:],
                                                                 strict=True)}
    return {"weights": weights, "tempo_prior": priors, "loop_weights": loop_weights}


def rhythm_estimates(items: Sequence[Item], **weights: Any) -> list[rhythm.Rhythm]:
    fps = rhythm.SAMPLE_RATE_HZ / rhythm.HOP_LENGTH
    results = []
    for item in items:
        assert item.table is not None
        results.append(rhythm.rhythm_from_table(item.table, item.envelopes, fps, **weights))
    return results


def rhythm_figures(items: Sequence[Item], estimates: Sequence[tuple[float, str]]) -> str:
    hits = np.array([tempo_hits(item.piece.tempo_bpm, bpm) for item, (bpm, _) in zip(items, estimates, strict=True)])
    meter = np.mean([m == item.piece.time_signature for item, (_, m) in zip(items, estimates, strict=True)])
    return f"Acc1 {hits[:, 0].mean():.2f}  Acc2 {hits[:, 1].mean():.2f}  meter {meter:.2f}"


def librosa_tempo(audio: np.ndarray) -> float:
    tempo, _ = librosa.beat.beat_track(y=audio, sr=rhythm.SAMPLE_RATE_HZ)
    return float(np.atleast_1d(tempo)[0])


def tune_rhythm(items: Sequence[Item], cross_validate: bool = False) -> dict[str, Any]:
    say("rhythm")
    rhythm_tables(items)
    baseline = {id(item): (librosa_tempo(item.audio), "4/4") for item in items}

    def base(chosen: Sequence[Item]) -> str:
        return rhythm_figures(chosen, [baseline[id(item)] for item in chosen])

    report_line("librosa beat_track (meter: 4/4)", base, items)
    before = {id(item): r for item, r in zip(items, rhythm_estimates(items), strict=True)}
    report_line("ours, module constants", lambda chosen: rhythm_figures(
        chosen, [(before[id(i)].tempo_bpm, before[id(i)].time_signature) for i in chosen]), items)
    for held_out in sorted({item.seed for item in items}) if cross_validate else []:
        train = [item for item in items if item.seed != held_out]
        test = [item for item in items if item.seed == held_out]
        out = rhythm_estimates(test, **fit_rhythm(train))
        say(f"  cross-validation, seed {held_out} held out: "
            f"{rhythm_figures(test, [(r.tempo_bpm, r.time_signature) for r in out])}")
    fitted = fit_rhythm(items)
    tuned = rhythm_estimates(items, **fitted)
    after = {id(item): r for item, r in zip(items, tuned, strict=True)}
    report_line("ours, fitted (in-sample)", lambda chosen: rhythm_figures(
        chosen, [(after[id(i)].tempo_bpm, after[id(i)].time_signature) for i in chosen]), items)
    for item in items:
        r = after[id(item)]
        item.beats_seconds = r.beats_seconds
        if tempo_hits(item.piece.tempo_bpm, r.tempo_bpm)[0] < 1 or r.time_signature != item.piece.time_signature:
            say(f"    miss {item.condition} {item.seed}/{item.piece.name}: {r.tempo_bpm:.1f} {r.time_signature} "
                f"(true {item.piece.tempo_bpm:.1f} {item.piece.time_signature})")
    say(f"WEIGHTS = {json.dumps(fitted['weights'])}")
    say(f"TEMPO_PRIOR = {fitted['tempo_prior']}")
    say(f"LOOP_WEIGHTS = {fitted['loop_weights']}")
    return fitted


# ----------------------------------------------------------------------------------------------- key


def key_figure(items: Sequence[Item], **params: Any) -> float:
    return float(np.mean([key_score(item.piece.key, harmony.estimate_key(
        item.notes, item.audio, audio_chroma=item.chroma, **params).label) for item in items]))


def coordinate_ascent(objective: Callable[[dict[str, Any]], float], start: dict[str, Any],
                      grid: dict[str, Sequence[Any]], rounds: int = ROUNDS) -> tuple[dict[str, Any], float]:
    """Each parameter in turn set to its best grid value, the others held; `rounds` sweeps. Ties
    keep the current value (so a parameter that does not matter stays where it was)."""
    best = dict(start)
    best_value = objective(best)
    for _ in range(rounds):
        for name, values in grid.items():
            for value in values:
                trial = {**best, name: value}
                score = objective(trial)
                if score > best_value + 1e-9:
                    best, best_value = trial, score
    return best, best_value


def tune_key(items: Sequence[Item]) -> dict[str, Any]:
    say("key (MIREX weighted score)")
    ks_notes = {id(i): key_score(i.piece.key, harmony.krumhansl_schmuckler_key(i.notes).label) for i in items}
    ks_chroma = {id(i): key_score(i.piece.key, _ks_chroma_label(i.chroma)) for i in items}
    report_line("Krumhansl-Schmuckler, notes", lambda c: f"{np.mean([ks_notes[id(i)] for i in c]):.3f}", items)
    report_line("Krumhansl-Schmuckler, audio chroma", lambda c: f"{np.mean([ks_chroma[id(i)] for i in c]):.3f}",
                items)
    report_line("ours, module constants", lambda c: f"{key_figure(c):.3f}", items)
    start_priors = dict(harmony.KEY_MODE_PRIOR)
    flat: dict[str, Any] = {
        "albrecht_share": harmony.KEY_ALBRECHT_SHARE, "bass_weight": harmony.KEY_BASS_WEIGHT,
        "max_note_seconds": harmony.KEY_MAX_NOTE_SECONDS, "cadence_weight": harmony.KEY_CADENCE_WEIGHT,
        "cadence_seconds": harmony.KEY_CADENCE_SECONDS, "audio_weight": harmony.KEY_AUDIO_WEIGHT,
        **{f"prior:{mode}": start_priors.get(mode, 0.0) for mode in ("dorian", "mixolydian")}}
    grid: dict[str, Sequence[Any]] = dict(KEY_GRID)
    for mode in ("dorian", "mixolydian"):
        grid[f"prior:{mode}"] = KEY_MODE_PRIOR_GRID

    def unpack(params: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in params.items() if not k.startswith("prior:")}
        out["mode_prior"] = {**start_priors,
                             **{k.split(":")[1]: v for k, v in params.items() if k.startswith("prior:")}}
        return out

    best, _ = coordinate_ascent(lambda p: key_figure(items, **unpack(p)), flat, grid)
    params = unpack(best)
    report_line("ours, tuned", lambda c: f"{key_figure(c, **params):.3f}", items)
    say(f"key constants: {params}")
    return params


def _ks_chroma_label(chroma: np.ndarray) -> str:
    """The evaluator's key baseline: Krumhansl-Schmuckler on the mean chroma_cqt."""
    mean = chroma.mean(axis=1)
    scores = np.stack([harmony._rotated_correlations(mean, harmony.KRUMHANSL_MAJOR),
                       harmony._rotated_correlations(mean, harmony.KRUMHANSL_MINOR)])
    mode, tonic = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return f"{harmony.CHORD_ROOT_NAMES[int(tonic)]} {('major', 'minor')[int(mode)]}"


# -------------------------------------------------------------------------------------------- chords


def chord_figure(items: Sequence[Item], beats: str, **params: Any) -> float:
    scores, lengths = [], []
    for item in items:
        beat_times = item.piece.beats_seconds if beats == "true" else item.beats_seconds
        assert beat_times is not None
        chords = harmony.estimate_chords(item.notes, beat_times, item.audio, audio_chroma=item.chroma, **params)
        scores.append(chord_majmin(item.piece.chords, [(c.start_seconds, c.end_seconds, c.label) for c in chords]))
        lengths.append(item.piece.music_end_seconds)
    return float(np.average(scores, weights=lengths))


def tune_chords(items: Sequence[Item], beats: str) -> dict[str, Any]:
    say(f"chords (mir_eval majmin, length-weighted; {beats} beats)")
    report_line("templates per beat, no smoothing", lambda c: f"{chord_figure(c, beats, smooth=False):.3f}", items)
    report_line("ours, module constants", lambda c: f"{chord_figure(c, beats):.3f}", items)
    start = {"temperature": harmony.CHORD_TEMPERATURE, "bar_change": harmony.CHORD_BAR_CHANGE,
             "beat_change": harmony.CHORD_BEAT_CHANGE, "bass_weight": harmony.CHORD_BASS_WEIGHT,
             "seventh_penalty": harmony.CHORD_SEVENTH_PENALTY, "key_weight": harmony.CHORD_KEY_WEIGHT,
             "onset_weight": harmony.CHORD_ONSET_WEIGHT, "audio_weight": harmony.CHORD_AUDIO_WEIGHT}
    best, _ = coordinate_ascent(lambda p: chord_figure(items, beats, **p), start, CHORD_GRID)
    report_line("templates per beat, tuned emissions", lambda c: f"{chord_figure(c, beats, smooth=False, **best):.3f}",
                items)
    report_line("ours, tuned", lambda c: f"{chord_figure(c, beats, **best):.3f}", items)
    say(f"chord constants: {best}")
    return best


def check(items: Sequence[Item]) -> None:
    """The module constants as they stand, on the chain bench.listen.evaluate runs (rhythm, key and
    chords from our notes and our beats), beside the bare baselines; no tuning."""
    say("check: module constants, the evaluator's chain")
    rhythm_tables(items)
    ours = {id(item): r for item, r in zip(items, rhythm_estimates(items), strict=True)}
    for item in items:
        item.beats_seconds = ours[id(item)].beats_seconds
    report_line("tempo/meter, librosa beat_track", lambda c: rhythm_figures(
        c, [(librosa_tempo(i.audio), "4/4") for i in c]), items)
    report_line("tempo/meter, ours", lambda c: rhythm_figures(
        c, [(ours[id(i)].tempo_bpm, ours[id(i)].time_signature) for i in c]), items)
    ks = {id(i): key_score(i.piece.key, _ks_chroma_label(i.chroma)) for i in items}
    report_line("key, Krumhansl-Schmuckler on chroma", lambda c: f"{np.mean([ks[id(i)] for i in c]):.3f}", items)
    report_line("key, ours", lambda c: f"{key_figure(c):.3f}", items)
    report_line("chords, templates, no smoothing", lambda c: f"{chord_figure(c, 'ours', smooth=False):.3f}", items)
    report_line("chords, ours", lambda c: f"{chord_figure(c, 'ours'):.3f}", items)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("all", "rhythm", "key", "chords", "check"), default="all")
    parser.add_argument("--notes", choices=("transcribed", "true"), default="transcribed")
    parser.add_argument("--seeds", default=",".join(str(s) for s in DEFAULT_SEEDS))
    parser.add_argument("--condition", choices=("clean", "noisy", "both"), default="both",
                        help="tune recordings as the corpus renders them, rendered like the report split, or both")
    parser.add_argument("--cross-validate", action="store_true", help="rhythm: also fit with each seed held out")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    items = tune_items(seeds, args.notes, args.condition)
    say(f"{len(items)} tune pieces (seeds {seeds}), {args.notes} notes, {args.condition} recordings")
    if args.stage == "check":
        check(items)
        return 0
    if args.stage in ("all", "rhythm"):
        tune_rhythm(items, args.cross_validate)
    elif args.stage == "chords":  # beats from the module's rhythm constants
        rhythm_tables(items)
        for item, estimate in zip(items, rhythm_estimates(items), strict=True):
            item.beats_seconds = estimate.beats_seconds
    if args.stage in ("all", "key"):
        tune_key(items)
    if args.stage in ("all", "chords"):
        tune_chords(items, "ours")
        if args.notes == "true":
            report_line("ours, tuned, true beats", lambda c: f"{chord_figure(c, 'true'):.3f}", items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
