"""Train the composer's harmony model: chord-root transitions between scale degrees, from the Bach chorales.

The chorales come from the Blend seed catalog (data/seed-catalog, converted from music21's bundled corpus,
public domain; see data/seed-catalog/README.md). Each chorale's four voices are read a beat at a time; a
beat's chord root is the pitch class that best explains the sounding notes (its own weight, plus its fifth
and third, plus a bonus when it is in the bass), taken as a degree of the chorale's major or natural minor
scale (chromatic roots and repeated roots are skipped). The model counts, per scale family:

- `next`: how often each degree moves to each other degree;
- `start`: the degrees chords sit on (where a progression other than the first may open);
- `close`: the degree before a tonic that closes a phrase (a root held at least two beats, or the end).

Run: `python tools/train_harmony_model.py` (writes
layers/common/soundcanvas/generation/composition/harmony_model.json). Deterministic: the same catalog gives a
byte-identical file. Needs only mido and the catalog reader.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections import Counter, defaultdict
from pathlib import Path

import mido

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

from soundcanvas.blend.seed import read_seed_catalog  # noqa: E402

OUT = ROOT / "layers/common/soundcanvas/generation/composition/harmony_model.json"
FORMAT = "soundcanvas-harmony/1"
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
HELD_BEATS = 2  # a tonic held this long (or the last chord) closes a phrase

log = logging.getLogger("train_harmony_model")


def tonic_of(key: str) -> tuple[int, str]:
    """("G", "major") -> (7, "major"); flats as "Bb" or music21's "B-"."""
    name, family = key.split()[0], key.split()[-1].lower()
    pc = LETTERS[name[0].upper()] + name[1:].count("#") - name[1:].count("b") - name[1:].count("-")
    return pc % 12, "minor" if family == "minor" else "major"


def notes_of(midi: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """(ticks per beat, [(start, end, pitch)]) of every note of every track."""
    song = mido.MidiFile(file=io.BytesIO(midi))
    out = []
    for track in song.tracks:
        tick = 0
        sounding: dict[int, int] = {}
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding[msg.note] = tick
            elif msg.type in ("note_off", "note_on") and msg.note in sounding:
                out.append((sounding.pop(msg.note), tick, msg.note))
    return song.ticks_per_beat, out


def root_of(weights: list[float], bass: int | None) -> int:
    def score(r: int) -> float:
        third = max(weights[(r + 3) % 12], weights[(r + 4) % 12])
        return weights[r] + 0.8 * (weights[(r + 7) % 12] + third) + (max(weights) if bass == r else 0.0)

    return max(range(12), key=lambda r: (score(r), -r))


def beat_roots(midi: bytes) -> list[int]:
    """The chord root of every beat that sounds (pitch classes)."""
    beat, notes = notes_of(midi)
    end = max((n[1] for n in notes), default=0)
    roots = []
    for a in range(0, end, beat):
        b = a + beat
        weights = [0.0] * 12
        lowest = None
        for start, stop, pitch in notes:
            overlap = min(stop, b) - max(start, a)
            if overlap > 0:
                weights[pitch % 12] += overlap
                lowest = pitch if lowest is None or pitch < lowest else lowest
        if lowest is not None:
            roots.append(root_of(weights, lowest % 12))
    return roots


def degrees(roots: list[int], tonic: int, family: str) -> list[tuple[int, int]]:
    """(degree, beats held) runs of in-scale roots; chromatic roots end a run without starting one."""
    scale = SCALES[family]
    runs: list[tuple[int, int]] = []
    for root in roots:
        interval = (root - tonic) % 12
        if interval not in scale:
            continue
        degree = scale.index(interval)
        if runs and runs[-1][0] == degree:
            runs[-1] = (degree, runs[-1][1] + 1)
        else:
            runs.append((degree, 1))
    return runs


def train() -> dict[str, object]:
    tables: dict[str, dict[str, object]] = {}
    nexts: dict[str, dict[int, Counter[int]]] = {f: defaultdict(Counter) for f in SCALES}
    starts: dict[str, Counter[int]] = {f: Counter() for f in SCALES}
    closes: dict[str, Counter[int]] = {f: Counter() for f in SCALES}
    pieces: Counter[str] = Counter()
    for song in read_seed_catalog():
        if song.collection != "bach-chorales":
            continue
        tonic, family = tonic_of(song.key)
        runs = degrees(beat_roots(song.midi), tonic, family)
        if len(runs) < 2:
            continue
        pieces[family] += 1
        for i, (degree, held) in enumerate(runs):
            starts[family][degree] += 1
            if i + 1 < len(runs):
                nexts[family][degree][runs[i + 1][0]] += 1
            if degree == 0 and i > 0 and (held >= HELD_BEATS or i == len(runs) - 1):
                closes[family][runs[i - 1][0]] += 1
    for family in SCALES:
        tables[family] = {
            "pieces": pieces[family],
            "start": {str(d): n for d, n in sorted(starts[family].items())},
            "next": {str(d): {str(e): n for e, n in sorted(row.items())} for d, row in sorted(nexts[family].items())},
            "close": {str(d): n for d, n in sorted(closes[family].items())},
        }
    return {
        "format": FORMAT,
        "header": {
            "corpus": "J.S. Bach four-part chorales of the Blend seed catalog (Riemenschneider set), all voices",
            "source": "data/seed-catalog (music21 bundled corpus), public domain",
            "encoding": "chord roots a beat at a time, as degrees 0-6 of the chorale's major or natural minor scale",
        },
        "families": tables,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = train()
    args.out.write_text(json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    log.info("wrote %s (%s)", args.out, {f: t["pieces"] for f, t in model["families"].items()})  # type: ignore[index]


if __name__ == "__main__":
    main()
