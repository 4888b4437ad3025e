"""MapFailed: every Catch in the Map workflow lands here. Marks the map FAILED with the stage that
failed and a message a person can act on, and removes its work files (a library track's copied
recording with them), then tells the map's owner (soundcanvas.core.notifications). Idempotent: a second call
finds the map already FAILED and only removes leftovers (and notifies no one).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import failures, storage
from soundcanvas.core.notifications import Notifier
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.maps import drum_maps
from soundcanvas.maps.steps import MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()
notifier = Notifier.from_settings(runtime.settings, metrics=metrics)
RETRY_HINT = "try again with POST /maps"


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, map_id = str(event["userId"]), str(event["mapId"])
    logger.append_keys(map_id=map_id)
    error = event.get("error") or {}
    with transient_aws_errors():
        record = runtime.maps.get(user_id, map_id)
        stage = str(record["stage"]) if record and record["stage"] != "queued" else "decode"
        message = failures.describe(error, stage, retry_hint=RETRY_HINT, reference=f"map {map_id}")
        marked = bool(record) and runtime.maps.fail(user_id, map_id, stage=stage, message=message)
        removed = 0
        if marked or record is None:
            removed = storage.delete_prefix(runtime.s3, runtime.settings.bucket_name,
                                            drum_maps.work_prefix(user_id, map_id))
    if marked:
        title = ((record or {}).get("source") or {}).get("title") or "your recording"
        notifier.try_notify(user_id, kind="map-failed", subject=f"Your drum map of {title} failed",
                            text=f"The drum map of {title} could not be made: {message}",
                            entity={"kind": "map", "id": map_id})
    metrics.add_metric(name="MapsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("map failed", extra={"stage": stage, "error": error.get("Error"), "error_message": message,
                                        "marked": marked, "objects_removed": removed})
    return {"marked": marked, "mapId": map_id, "stage": stage, "message": message}
