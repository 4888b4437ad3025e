"""Tune soundcanvas.listen.transcribe's TranscribeParams on the corpus's 'tune' split, against bare basic-pitch.

    python -m bench.listen.tune_transcription [--cache-dir DIR]   # about 10 minutes on 2 cores, first run

Only the 'tune' split is read (FluidR3, no noise: bench/listen/corpus.py); the 'report' split
(TimGM6mb with noise) is what bench/listen's report scores, and is never looked at here.

The score is note onset F1: mir_eval.transcription.precision_recall_f1_overlap with
offset_ratio=None and onset_tolerance=0.05 (pitch within 50 cents), per piece, averaged over the
pieces. The baseline is bare basic-pitch: basic_pitch.inference.predict with its defaults on
the same WAV (librosa loads it; same ONNX model), scored the same way. Our pipeline is scored
from the model's outputs for audio.decode's samples, cached per recording in the cache
directory, so the search itself only runs the note decoder and our steps.

The search is coordinate-wise over groups of parameters that act together (the decoder's
thresholds, short notes, re-triggers, harmonics, onset times): each group's grid is tried with
the other values held, the best kept (ties go to the earlier grid point), and the cycle runs
CYCLES times. A coordinate search ends in a local optimum: it cannot lower the onset threshold
and switch the re-trigger step on in one move, say. So it runs twice, from BARE_PARAMS (every
step of ours off) and from the committed DEFAULT_PARAMS, and the better end is reported; when
the second run ends where it started, no single group's move improves the committed values. A
full product of the grids would be about 10^7 points; 24 pieces would not support choosing
among that many anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import mir_eval
import numpy as np

from bench.listen import corpus
from soundcanvas.listen import audio, transcribe
from soundcanvas.listen.notes import Note
from soundcanvas.listen.transcribe import TranscribeParams

SPLIT = "tune"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = ROOT / "out" / "listen-bench"  # what `python -m bench.listen` renders into (git-ignored)
ONSET_TOLERANCE_SECONDS = 0.05
CYCLES = 3

# name of a group -> {parameter: values tried}; the grid of a group is the product of its lists.
GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "decoder": {"onset_threshold": (0.4, 0.5, 0.6, 0.7, 0.8), "frame_threshold": (0.2, 0.25, 0.3, 0.35, 0.4, 0.45),
                "melodia_trick": (True, False), "infer_onsets": (True, False)},
    "short notes": {"minimum_note_length_ms": (80.0, 127.70, 180.0, 250.0),
                    "short_note_length_ms": (35.0, 60.0, 90.0, 127.70), "short_note_min_onset": (0.6, 0.7, 0.8, 0.9)},
    "re-triggers": {"retrigger_min_onset": (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85),
                    "retrigger_max_gap_ms": (0.0, 30.0, 60.0, 100.0)},
    "harmonics": {"harmonic_max_ratio": (0.0, 0.6, 0.7, 0.8, 0.9), "harmonic_max_onset": (0.6, 0.7, 0.8, 0.9, 1.01),
                  "harmonic_min_overlap": (0.5, 0.8)},
    "onset times": {"onset_edge_fraction": (0.3, 0.5, 0.7, 0.85), "onset_edge_max_ms": (0.0, 25.0, 50.0, 75.0)},
}


def onset_f1(reference: Sequence[Note], estimate: Sequence[Note]) -> float:
    """Note onset F1 (mir_eval, offsets ignored, 50 ms onset tolerance) of `estimate` against `reference`."""
    if not reference or not estimate:
        return 0.0
    ref_intervals, ref_hz = _mir_eval_notes(reference)
    est_intervals, est_hz = _mir_eval_notes(estimate)
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_hz, est_intervals, est_hz, onset_tolerance=ONSET_TOLERANCE_SECONDS, offset_ratio=None)
    return float(f1)


def bare_notes(wav: Path) -> list[Note]:
    """basic_pitch.inference.predict with its defaults on `wav` (the ONNX model), as Notes."""
    from basic_pitch.inference import predict

    with contextlib.redirect_stdout(io.StringIO()):  # predict() prints a line per file
        _, _, events = predict(wav, transcribe.model_path())
    return sorted(Note(float(start), float(end), int(pitch), transcribe.velocity(float(amplitude)))
                  for start, end, pitch, amplitude, _ in events)


def model_outputs_cached(wav: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    """transcribe.model_outputs(audio.decode(wav)), stored next to the rendered corpus."""
    path = cache_dir / "model-outputs" / f"{wav.stem}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs = transcribe.model_outputs(audio.decode(wav))
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, note=outputs["note"], onset=outputs["onset"], contour=outputs["contour"])
        partial.replace(path)
    with np.load(path) as stored:
        return {key: stored[key] for key in ("note", "onset", "contour")}


class Scorer:
    """Mean onset F1 of a TranscribeParams over the pieces, with the decoder's notes cached."""

    def __init__(self, pieces: list[corpus.Piece], outputs: list[dict[str, np.ndarray]]) -> None:
        self.pieces = pieces
        self.outputs = outputs
        self.times = [transcribe.model_frame_times_seconds(o["onset"].shape[0]) for o in outputs]
        self._decoded: dict[tuple[Any, ...], list[list[Note]]] = {}
        self.evaluations = 0

    def decoded(self, params: TranscribeParams) -> list[list[Note]]:
        key = (params.onset_threshold, params.frame_threshold, params.infer_onsets, params.melodia_trick,
               min(params.minimum_note_length_ms, params.short_note_length_ms))
        if key not in self._decoded:
            self._decoded[key] = [transcribe.decode_notes(o["note"], o["onset"], t, params)
                                  for o, t in zip(self.outputs, self.times, strict=True)]
        return self._decoded[key]

    def notes(self, params: TranscribeParams) -> list[list[Note]]:
        """Our notes per piece: transcribe.notes_from_outputs's steps on the cached decoder notes."""
        result = []
        for decoded, o, t in zip(self.decoded(params), self.outputs, self.times, strict=True):
            result.append(transcribe.after_decoder(decoded, o["onset"], t, params))
        return result

    def score(self, params: TranscribeParams) -> float:
        self.evaluations += 1
        return float(np.mean([onset_f1(piece.notes, notes)
                              for piece, notes in zip(self.pieces, self.notes(params), strict=True)]))


def search(scorer: Scorer, start: TranscribeParams, cycles: int = CYCLES) -> tuple[TranscribeParams, float, list[str]]:
    """Coordinate-wise search over GRIDS from `start`; returns the best params, its score and a log."""
    best, best_score = start, scorer.score(start)
    log = [f"start {best_score:.4f}"]
    for cycle in range(cycles):
        for group, grid in GRIDS.items():
            names = list(grid)
            for values in itertools.product(*(grid[name] for name in names)):
                candidate = replace(best, **dict(zip(names, values, strict=True)))
                if candidate == best:
                    continue
                candidate_score = scorer.score(candidate)
                if candidate_score > best_score + 1e-9:
                    best, best_score = candidate, candidate_score
            chosen = ", ".join(f"{name}={getattr(best, name)}" for name in names)
            log.append(f"cycle {cycle + 1} {group}: {chosen} -> {best_score:.4f}")
    return best, best_score, log


def run(cache_dir: Path) -> list[str]:
    """Render (or reuse) the tune split, score bare basic-pitch, search, and return the report lines."""
    started = time.perf_counter()
    rendered = corpus.rendered(SPLIT, cache_dir)
    if any(piece.split != SPLIT for piece, _ in rendered):
        raise RuntimeError("the tune split holds a piece of another split")
    pieces = [piece for piece, _ in rendered]
    outputs = [model_outputs_cached(wav, cache_dir) for _, wav in rendered]
    scorer = Scorer(pieces, outputs)

    bare_per_piece = [onset_f1(piece.notes, bare_notes(wav)) for piece, wav in rendered]
    bare = float(np.mean(bare_per_piece))
    ours_bare = scorer.score(transcribe.BARE_PARAMS)  # the same pipeline with our steps off: should equal `bare`
    current = scorer.score(transcribe.DEFAULT_PARAMS)
    best, best_score, log = search(scorer, transcribe.BARE_PARAMS)
    from_current, from_current_score, current_log = search(scorer, transcribe.DEFAULT_PARAMS)
    log = ["from BARE_PARAMS:", *log, "from DEFAULT_PARAMS as committed:", *current_log]
    if from_current_score > best_score:
        best, best_score = from_current, from_current_score
    best_per_piece = [onset_f1(piece.notes, notes) for piece, notes in zip(pieces, scorer.notes(best), strict=True)]

    lines = [f"Transcription tuning on the '{SPLIT}' split: {len(pieces)} pieces, mean note onset F1 "
             f"(mir_eval, onset_tolerance={ONSET_TOLERANCE_SECONDS}, offset_ratio=None)",
             f"  bare basic-pitch predict() defaults   {bare:.4f}",
             f"  our pipeline with our steps off        {ours_bare:.4f}",
             f"  DEFAULT_PARAMS as committed            {current:.4f}",
             f"  best found                             {best_score:.4f}",
             "", "Search:", *("  " + line for line in log), "", "Best parameters (paste into DEFAULT_PARAMS):"]
    lines += [f"  {field.name}={getattr(best, field.name)!r}," for field in fields(TranscribeParams)]
    lines += ["", "Per kind (bare -> best):"]
    for kind in corpus.KINDS:
        chosen = [i for i, piece in enumerate(pieces) if piece.kind == kind]
        if chosen:
            lines.append(f"  {kind:8s} {np.mean([bare_per_piece[i] for i in chosen]):.3f} -> "
                         f"{np.mean([best_per_piece[i] for i in chosen]):.3f}  ({len(chosen)} pieces)")
    lines.append(f"\n{scorer.evaluations} evaluations in {time.perf_counter() - started:.0f} s; "
                 f"best differs from DEFAULT_PARAMS in: "
                 f"{[k for k, v in asdict(best).items() if asdict(transcribe.DEFAULT_PARAMS)[k] != v] or 'nothing'}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR,
                        help=f"rendered corpus and model outputs (default {DEFAULT_CACHE_DIR})")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)  # basic-pitch warns at import about TensorFlow, CoreML, TFLite
    sys.stdout.write("\n".join(run(args.cache_dir)) + "\n")


def _mir_eval_notes(notes: Sequence[Note]) -> tuple[np.ndarray, np.ndarray]:
    intervals = np.array([[n.start_seconds, max(n.end_seconds, n.start_seconds + 1e-3)] for n in notes])
    hz = 440.0 * 2.0 ** ((np.array([n.pitch for n in notes], dtype=float) - 69) / 12)
    return intervals, hz


if __name__ == "__main__":
    main()
