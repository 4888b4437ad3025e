"""Grid: the tempo and the beats from the hits, and every hit quantized to the grid with its original
time kept (soundcanvas.maps.grid)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core.errors import MapNotFound, MapRejected
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.maps import drum_maps, drums, grid
from soundcanvas.maps.steps import STOPPED, MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, map_id = str(event["userId"]), str(event["mapId"])
    logger.append_keys(map_id=map_id)
    with stopwatch() as elapsed:
        with transient_aws_errors():
            hits = [drums.Hit(**hit) for hit in runtime.files.get_json(event["drums"]["hitsKey"])]
        try:
            beat_grid = grid.estimate_grid(hits, float(event["decoded"]["durationSeconds"]))
        except drums.NoDrumsFound as exc:
            raise MapRejected(str(exc)) from exc
        grid_hits = grid.quantize(hits, beat_grid)
        with transient_aws_errors():
            grid_key = runtime.files.put_json(drum_maps.work_key(user_id, map_id, "grid.json"), {
                "grid": asdict(beat_grid), "hits": [asdict(hit) for hit in grid_hits]})
    summary = {"tempoBpm": round(beat_grid.tempo_bpm, 2), "offsetSeconds": round(beat_grid.offset_seconds, 3)}
    with transient_aws_errors():
        moved = runtime.maps.advance(user_id, map_id, finished="grid", elapsed_ms=elapsed["ms"], next_stage="levels",
                                     summary=summary)
    if not moved:
        runtime.files.discard(grid_key)
        raise MapNotFound(STOPPED)
    logger.info("grid found", extra={**summary, "ms": elapsed["ms"]})
    return {"gridKey": grid_key, **summary}
