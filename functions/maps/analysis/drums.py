"""Drums: onsets, then each hit classified into a lane (kick, snare, hi-hat, toms, cymbals) by
soundcanvas.maps.drums. Audio with no drums in it fails the map with a message (MapRejected)."""

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
NO_DRUMS = ("no drums were found in this recording; drum maps are made of songs with a drum kit playing "
            "(check the recording is the song itself and not silence or speech)")


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, map_id = str(event["userId"]), str(event["mapId"])
    logger.append_keys(map_id=map_id)
    with stopwatch() as elapsed:
        with transient_aws_errors():
            samples = runtime.files.get_array(event["decoded"]["audioKey"])
        hits = drums.transcribe_drums(samples, drums.SAMPLE_RATE_HZ)
        if len(hits) < grid.MIN_HITS:
            raise MapRejected(NO_DRUMS)
        with transient_aws_errors():
            hits_key = runtime.files.put_json(drum_maps.work_key(user_id, map_id, "hits.json"),
                                              [asdict(hit) for hit in hits])
    with transient_aws_errors():
        moved = runtime.maps.advance(user_id, map_id, finished="drums", elapsed_ms=elapsed["ms"], next_stage="grid",
                                     summary={"hits": len(hits)})
    if not moved:
        runtime.files.discard(hits_key)
        raise MapNotFound(STOPPED)
    logger.info("drums transcribed", extra={"hits": len(hits), "ms": elapsed["ms"]})
    return {"hitsKey": hits_key, "hits": len(hits)}
