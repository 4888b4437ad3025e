"""Levels: the four difficulties by thinning (each a subset of the one above), the map document
validated against its JSON Schema and written to maps/unverified/{songId}/{mapId}/v1.json, the map
COMPLETE. A map of a catalog song also gives the song its tempo (`bpm`). The work files go, and the map's owner
is notified (in the app, and by e-mail unless they opted out: soundcanvas.core.notifications)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from soundcanvas.core import storage
from soundcanvas.core.errors import MapNotFound
from soundcanvas.core.notifications import Notifier
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.maps import document, drum_maps, grid, levels
from soundcanvas.maps.steps import STOPPED, MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()
notifier = Notifier.from_settings(runtime.settings, metrics=metrics)


def _after_complete(user_id: str, map_id: str, source: dict[str, Any], tempo_bpm: float) -> None:
    """The song's tempo and the work files' removal, once the map is COMPLETE. Their failure is logged and counted,
    never raised: a retried step would find the map COMPLETE, and a map that is done stays done (the work files
    expire in a day by the bucket's lifecycle; the song's bpm comes again with its next map)."""
    try:
        if source["kind"] == "song":
            runtime.songs.set_bpm(source["id"], tempo_bpm)
        storage.delete_prefix(runtime.s3, runtime.settings.bucket_name, drum_maps.work_prefix(user_id, map_id))
    except (ClientError, BotoCoreError, PynamoDBException) as exc:
        logger.warning("after the map was complete", extra={"reason": type(exc).__name__})
        metrics.add_metric(name="MapCleanupFailed", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, map_id = str(event["userId"]), str(event["mapId"])
    logger.append_keys(map_id=map_id)
    bucket = runtime.settings.bucket_name
    with stopwatch() as elapsed:
        with transient_aws_errors():
            record = runtime.maps.get(user_id, map_id)
            gridded = runtime.files.get_json(event["grid"]["gridKey"])
        if record is None:
            raise MapNotFound(STOPPED)
        beat_grid = grid.Grid(**{**gridded["grid"], "beat_times_seconds": tuple(gridded["grid"]["beat_times_seconds"])})
        grid_hits = [grid.GridHit(**hit) for hit in gridded["hits"]]
        made = levels.make_levels(grid_hits, beat_grid)
        source = record["source"]
        doc = document.build_map(song_id=record["songId"], grid=beat_grid, levels=made,
                                 source={"kind": source["kind"], "id": source["id"], "mapId": map_id,
                                         "title": source.get("title"), "artist": source.get("artist")})
        document.validate_map(doc)
        map_key = drum_maps.document_key(record["songId"], map_id)
        with transient_aws_errors():
            runtime.s3.put_object(Bucket=bucket, Key=map_key, Body=json.dumps(doc, separators=(",", ":")).encode(),
                                  ContentType="application/json")
    counts = document.lane_counts(doc)
    summary = {"counts": counts, "levels": {name: len(hits) for name, hits in made.items()}}
    with transient_aws_errors():
        moved = runtime.maps.advance(user_id, map_id, finished="levels", elapsed_ms=elapsed["ms"], next_stage="done",
                                     summary=summary, outputs={"mapKey": map_key})
        if not moved:
            current = runtime.maps.get(user_id, map_id)
            if (current is not None and current["status"] == drum_maps.COMPLETE
                    and (current.get("outputs") or {}).get("mapKey") == map_key):
                # this step ran before and made the map (a Lambda retry, or a duplicate invocation): its document
                # is the one just rewritten, same key, same content; nothing to undo, and the owner was told once
                logger.info("map already complete: a repeated Levels step")
                return {"mapKey": map_key, "counts": counts}
            runtime.s3.delete_object(Bucket=bucket, Key=map_key)
            raise MapNotFound(STOPPED)
    _after_complete(user_id, map_id, source, float(doc["tempoBpm"]))
    title = source.get("title") or "your recording"
    notifier.try_notify(user_id, kind="map-finished", subject=f"Your drum map of {title} is ready",
                        text=f"The drum map of {title} is ready at four difficulties ({float(doc['tempoBpm']):.0f} BPM). "
                             f"Open it in SoundCanvas: map {map_id}.", entity={"kind": "map", "id": map_id})
    metrics.add_metric(name="MapsCompleted", unit=MetricUnit.Count, value=1)
    logger.info("map complete", extra={"counts": counts, "ms": elapsed["ms"]})
    return {"mapKey": map_key, "counts": counts}
