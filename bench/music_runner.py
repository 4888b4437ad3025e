"""Compose the music report's pieces with whichever `soundcanvas` package is first on PYTHONPATH.

    PYTHONPATH=<tree>/layers/common python bench/music_runner.py jobs.json out_dir

Run as a script in its own process (bench/music.py starts it once for today's composer, extracted from git,
and once for the working tree's), so the two packages never meet in one interpreter. Needs only the
standard library and that package: each picture goes through the tree's own analysis and mapping, each
piece through its composer. jobs.json: {"pictures": {name: path}, "pieces": [{"id", "picture", "genre",
"mode", "seed", "durationSeconds"}]}. Writes <id>.mid per piece and result.json: the package's location,
each picture's energy (the picture choosing its genre), and per piece the params, the form (sections from
the composer's own context when the tree has `build_context`) and the compose time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def form_of(params: Any, features: Any) -> dict[str, Any] | None:
    """The composer's own timeline: sections (name, start bar, bars) and the bars before the final chord."""
    try:
        from soundcanvas.generation.composition.composer import build_context
    except ImportError:
        return None
    timeline = build_context(params, features).timeline
    return {"bars": timeline.bars, "endTick": timeline.end_tick,
            "sections": [[s.name, s.start_bar, s.bars] for s in timeline.sections]}


def main(jobs_path: str, out_dir: str) -> int:
    import soundcanvas
    from soundcanvas.generation.analysis import analyze_image
    from soundcanvas.generation.composition import compose
    from soundcanvas.generation.mapping import map_to_params

    jobs = json.loads(Path(jobs_path).read_text())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    features = {name: analyze_image(Path(path).read_bytes()) for name, path in jobs["pictures"].items()}
    energy = {name: map_to_params(f, genre=None, mode="heuristic", duration_seconds=60, seed=1).energy
              for name, f in features.items()}
    pieces = []
    for job in jobs["pieces"]:
        f = features[job["picture"]]
        params = map_to_params(f, genre=job["genre"], mode=job["mode"], duration_seconds=job["durationSeconds"],
                               seed=job["seed"])
        started = time.perf_counter()
        midi = compose(params, f)
        seconds = time.perf_counter() - started
        (out / f"{job['id']}.mid").write_bytes(midi)
        pieces.append({**job, "params": params.to_dict(), "form": form_of(params, f), "composeSeconds": seconds})
    result = {"package": str(Path(soundcanvas.__file__).parent), "energy": energy, "pieces": pieces}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
