"""End to end on the hand-written ASL runner against moto's ASL engine, in the same run.

`python -m bench.engines [--rounds N]`: each round runs the 180 s piece (upload done -> COMPLETE,
after a 30 s warm-up job) once on each engine, alternating, each in a fresh process (moto's
backends are process-wide, and neither engine should inherit the other's warm caches). Prints the
best and the median per engine and the ratio moto / runner of the bests. `make bench` includes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

ENGINES = ("runner", "moto")


def one_run(engine: str) -> float:
    """The 180 s piece's end-to-end seconds on a fresh local stack running `engine` (in this process)."""
    from bench.__main__ import end_to_end
    from local_stack.stack import ROOT, LocalStack

    image = ROOT / "events/images/sunset.jpg"
    with LocalStack(api_port=0, aws_port=0, engine=engine, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        end_to_end(stack, image, 30)  # warm the handlers, as a warm Lambda would be
        seconds, state = end_to_end(stack, image, 180)
    if state["status"] != "COMPLETE":
        raise RuntimeError(f"the 180 s job ended {state['status']} on {engine}: {state.get('errorMessage')}")
    return seconds


def compare(rounds: int = 3) -> dict[str, Any]:
    """Alternate the engines for `rounds` rounds, each run in its own process; the figures per engine."""
    times: dict[str, list[float]] = {engine: [] for engine in ENGINES}
    for _ in range(rounds):
        for engine in ENGINES:
            out = subprocess.run([sys.executable, "-m", "bench.engines", "--one", engine],
                                 capture_output=True, text=True, check=True)
            times[engine].append(float(out.stdout.strip().splitlines()[-1]))
    best = {engine: min(values) for engine, values in times.items()}
    return {"runs": times, "best": best, "median": {e: statistics.median(v) for e, v in times.items()},
            "ratio": best["moto"] / best["runner"]}


def engine_lines(result: dict[str, Any]) -> list[str]:
    runs = len(result["runs"]["moto"])
    return [
        f"| end to end, 180 s piece, hand-written ASL runner (best of {runs}, alternating, fresh process each) | "
        f"{result['best']['runner']:.2f} s (median {result['median']['runner']:.2f} s) | - | - |",
        f"| the same on moto's ASL engine | {result['best']['moto']:.2f} s (median {result['median']['moto']:.2f} s) "
        f"= {result['ratio']:.2f} x the runner | <= 1.1 x the runner | {'yes' if result['ratio'] <= 1.1 else 'NO'} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=ENGINES, help="one run on this engine; print its seconds")
    args = parser.parse_args()
    if args.one:
        sys.stdout.write(f"{one_run(args.one):.4f}\n")
        return 0
    result = compare(args.rounds)
    sys.stdout.write("\n".join(engine_lines(result)) + "\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
