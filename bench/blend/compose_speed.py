"""Blend's speed: Prepare (read the MIDI files, bring them to one key, metre and tempo) and Compose
(every attempt until one passes the gates, arranged and written as MIDI) for 120 s of music from three
seed-like songs (a 6/8 jig in D, a 4/4 reel in G and a 4-voice chorale in C, from tests/unit/blend/songs.py).

    python -m bench.blend.compose_speed [--runs 20] [--length 120] [--json]

Each run uses the next seed, so the attempts a seed needs are part of the figures; the first run (a
cold cache: imports done, nothing else) is reported on its own. Target: prepare + compose <= 300 ms.
Nothing here fails the build.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from soundcanvas.blend.compose import BlendOptions, compose_blend
from soundcanvas.blend.midi_files import read_song
from soundcanvas.blend.prepare import prepare_blend
from tests.unit.blend.songs import seed_like_songs

TARGET_MS = 300.0


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_compose(
    songs: Sequence[tuple[str, bytes]] | None = None,
    *,
    runs: int = 20,
    length_seconds: float = 120.0,
    weights: Sequence[float] | None = None,
    creativity: float = 0.7,
    temperature: float = 0.8,
    genre: str | None = None,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Milliseconds of prepare and compose over `runs` seeds, attempts per run, and the first run's gates."""
    songs = list(songs or seed_like_songs())
    prepare_ms: list[float] = []
    compose_ms: list[float] = []
    attempts: list[int] = []
    first: dict[str, Any] = {}
    for run in range(runs):
        started = time.perf_counter()
        prepared = prepare_blend([(song_id, read_song(data)) for song_id, data in songs], weights)
        prepared_at = time.perf_counter()
        options = BlendOptions(
            temperature=temperature, creativity=creativity, length_seconds=length_seconds, genre=genre, seed=first_seed + run
        )
        result = compose_blend(prepared, options)
        finished = time.perf_counter()
        prepare_ms.append((prepared_at - started) * 1000)
        compose_ms.append((finished - prepared_at) * 1000)
        attempts.append(result.attempts)
        if run == 0:
            first = {
                "summary": {k: v for k, v in result.summary().items() if k != "gates"},
                "gates": result.gates,
                "midiBytes": len(result.midi),
            }
    totals = [p + c for p, c in zip(prepare_ms, compose_ms, strict=True)]
    warm = slice(1, None) if runs > 1 else slice(None)
    return {
        "songs": [song_id for song_id, _ in songs],
        "lengthSeconds": length_seconds,
        "runs": runs,
        "coldRunMs": {"prepare": round(prepare_ms[0], 1), "compose": round(compose_ms[0], 1), "total": round(totals[0], 1)},
        "prepareMs": {"median": round(statistics.median(prepare_ms[warm]), 1), "max": round(max(prepare_ms[warm]), 1)},
        "composeMs": {
            "median": round(statistics.median(compose_ms[warm]), 1),
            "p90": round(_percentile(compose_ms[warm], 0.9), 1),
            "max": round(max(compose_ms[warm]), 1),
        },
        "totalMs": {
            "median": round(statistics.median(totals[warm]), 1),
            "p90": round(_percentile(totals[warm], 0.9), 1),
            "max": round(max(totals[warm]), 1),
        },
        "attempts": {
            "mean": round(statistics.mean(attempts), 2),
            "max": max(attempts),
            "histogram": {str(n): attempts.count(n) for n in sorted(set(attempts))},
        },
        "perAttemptMs": round(sum(compose_ms) / sum(attempts), 1),
        "targetMs": TARGET_MS,
        "meetsTarget": max(totals[warm]) <= TARGET_MS,
        "firstRun": first,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--length", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="print the whole measurement as JSON")
    args = parser.parse_args(argv)
    report = measure_compose(runs=args.runs, length_seconds=args.length)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    lines = [
        f"Blend prepare + compose, {args.length:.0f} s of music from {', '.join(report['songs'])} "
        f"({report['runs']} runs, seeds 0-{report['runs'] - 1}; target <= {TARGET_MS:.0f} ms)",
        f"  cold first run   prepare {report['coldRunMs']['prepare']} ms, compose {report['coldRunMs']['compose']} ms",
        f"  prepare          median {report['prepareMs']['median']} ms, max {report['prepareMs']['max']} ms",
        f"  compose          median {report['composeMs']['median']} ms, p90 {report['composeMs']['p90']} ms, "
        f"max {report['composeMs']['max']} ms ({report['perAttemptMs']} ms an attempt)",
        f"  prepare+compose  median {report['totalMs']['median']} ms, p90 {report['totalMs']['p90']} ms, "
        f"max {report['totalMs']['max']} ms -> {'meets' if report['meetsTarget'] else 'MISSES'} the target",
        f"  attempts         mean {report['attempts']['mean']}, max {report['attempts']['max']} "
        f"(runs per count: {report['attempts']['histogram']})",
        f"  seed 0's blend   {json.dumps(report['firstRun']['summary'])}",
    ]
    for name, gate in report["firstRun"]["gates"].items():
        lines.append(f"  gate {name:<12}value {gate['value']}, threshold {gate['threshold']}, passed {gate['passed']}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
