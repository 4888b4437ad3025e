"""Train the composer's melody model offline and write it as a small JSON file.

The model is a Markov chain over melodic tokens `(step, duration)`: `step` is the move from the
previous note in diatonic scale steps (-7..+7, letter-name distance, so it works in any key and
maps onto any scale), `duration` is the note's length in quarter notes quantised to a 16th-note
grid. It is trained on the soprano lines of the J.S. Bach four-part chorales that ship with
music21's bundled corpus (public domain), and stored with first- and second-order transition
counts so the composer can back off when a context is unseen.

Run (music21 is a training-only dependency, see requirements/train.txt):

    python tools/train_markov_model.py [--output PATH] [--limit N]

The output is deterministic: the same corpus and music21 version give a byte-identical file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "layers" / "common" / "soundcanvas" / "composition" / "markov_model.json"

FORMAT = "soundcanvas-markov/1"
MAX_STEP = 7
# Quarter-length grid (16th note = 0.25). Anything longer than a whole note is clipped to 4.0.
DURATIONS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)

Token = tuple[int, float]
Counts = tuple[Counter[Token], dict[Token, Counter[Token]], dict[tuple[Token, Token], Counter[Token]]]

log = logging.getLogger("train_markov_model")


def quantise_duration(quarter_length: float) -> float:
    """Snap a duration in quarter notes to the nearest grid value (ties go to the shorter one)."""
    return min(DURATIONS, key=lambda d: (abs(d - quarter_length), d))


def chorale_paths() -> list[str]:
    """The chorales of music21's bundled corpus, de-duplicated and sorted for a stable order."""
    from music21 import corpus

    iterator = corpus.chorales.Iterator(returnType="filename")
    return sorted({str(name) for name in iterator})


def soprano_phrases(path: str) -> Iterator[list[tuple[int, float]]]:
    """Yield runs of (diatonic note number, quarter length) from a chorale's top voice; rests split runs."""
    from music21 import corpus, note

    score = corpus.parse(path)
    parts = list(score.parts)
    if not parts:
        return
    soprano = next((p for p in parts if (p.id or "").lower() == "soprano"), parts[0])
    run: list[tuple[int, float]] = []
    for element in soprano.stripTies().recurse().notesAndRests:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        if isinstance(element, note.Rest):
            if len(run) > 1:
                yield run
            run = []
            continue
        pitches = getattr(element, "pitches", ())
        if not pitches:
            continue
        top = max(pitches, key=lambda p: p.ps)
        run.append((int(top.diatonicNoteNum), length))
    if len(run) > 1:
        yield run


def tokens_of(run: list[tuple[int, float]]) -> list[Token]:
    """Turn a run of notes into (step, duration) tokens; the first note has no step and is skipped."""
    out: list[Token] = []
    for (prev, _), (cur, length) in itertools.pairwise(run):
        step = max(-MAX_STEP, min(MAX_STEP, cur - prev))
        out.append((step, quantise_duration(length)))
    return out


def count_transitions(sequences: Iterable[list[Token]]) -> Counts:
    """Unigram, first- and second-order transition counts over token sequences."""
    unigram: Counter[Token] = Counter()
    first: dict[Token, Counter[Token]] = defaultdict(Counter)
    second: dict[tuple[Token, Token], Counter[Token]] = defaultdict(Counter)
    for seq in sequences:
        unigram.update(seq)
        for a, b in itertools.pairwise(seq):
            first[a][b] += 1
        for a, b, c in zip(seq, seq[1:], seq[2:], strict=False):
            second[(a, b)][c] += 1
    return unigram, first, second


def build_model(paths: list[str], music21_version: str) -> dict[str, Any]:
    """Parse the chorales and assemble the JSON-ready model."""
    sequences: list[list[Token]] = []
    pieces = 0
    notes = 0
    for index, path in enumerate(paths, 1):
        runs = [tokens_of(run) for run in soprano_phrases(path)]
        runs = [r for r in runs if r]
        if runs:
            pieces += 1
            notes += sum(len(r) + 1 for r in runs)
            sequences.extend(runs)
        if index % 50 == 0:
            log.info("parsed %d/%d chorales", index, len(paths))

    unigram, first, second = count_transitions(sequences)
    vocabulary = sorted(unigram)
    index_of = {tok: i for i, tok in enumerate(vocabulary)}

    def row(counter: Counter[Token]) -> list[list[int]]:
        return [[index_of[tok], count] for tok, count in sorted(counter.items(), key=lambda kv: index_of[kv[0]])]

    return {
        "format": FORMAT,
        "header": {
            "corpus": "J.S. Bach four-part chorales (Riemenschneider set), soprano lines",
            "source": "music21 bundled corpus (corpus.chorales.Iterator), public domain",
            "music21Version": music21_version,
            "pieces": pieces,
            "phrases": len(sequences),
            "notes": notes,
            "transitions": sum(len(s) - 1 for s in sequences if len(s) > 1),
            "order": 2,
            "tokenEncoding": "[step, duration]: step in diatonic scale steps from the previous note, "
            "duration in quarter notes on a 16th-note grid",
        },
        "durations": list(DURATIONS),
        "maxStep": MAX_STEP,
        "tokens": [[step, dur] for step, dur in vocabulary],
        "unigram": row(unigram),
        "order1": {str(index_of[a]): row(c) for a, c in first.items()},
        "order2": {f"{index_of[a]},{index_of[b]}": row(c) for (a, b), c in second.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON model")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N chorales only (0 = all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    import music21

    paths = chorale_paths()
    if args.limit > 0:
        paths = paths[: args.limit]
    log.info("training on %d chorales with music21 %s", len(paths), music21.__version__)
    model = build_model(paths, str(music21.__version__))
    text = json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    header = model["header"]
    sys.stdout.write(
        f"wrote {args.output} ({len(text.encode())} bytes): {header['pieces']} pieces, "
        f"{header['notes']} notes, {len(model['tokens'])} tokens\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
