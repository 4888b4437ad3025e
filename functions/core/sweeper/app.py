"""Sweeper: on a schedule, marks generations, tracks, transcriptions, blends and maps that stopped moving as FAILED,
so nothing stays RUNNING or PROCESSING, nor PENDING when the API's call that started its workflow died; and expires
map edits left undecided for 7 days.

A RUNNING job's record changes at every stage and a PROCESSING track's at every step; both
workflows give up after 20 minutes and every task has its own timeout, so a record unchanged for
STALLED_AFTER_SECONDS lost its execution (an execution timeout skips the Catch, an operator
stopped it, a bug). The sweeper reads each table's sparse ByActivity index (only work in progress
is in it), never the whole table, and marks with conditional writes, so work that finishes at the
same moment keeps its result. A stalled track's objects go with it, as TrackFailed does.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import blends
from soundcanvas.blend.steps import BlendRuntime
from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.steps import StepRuntime
from soundcanvas.library.steps import TrackRuntime
from soundcanvas.listen import transcriptions
from soundcanvas.listen.steps import ListenRuntime
from soundcanvas.maps import drum_maps, edits
from soundcanvas.maps.karma import KarmaStore
from soundcanvas.maps.steps import MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = StepRuntime.from_env()
track_runtime = TrackRuntime.from_env()
listen_runtime = ListenRuntime.from_env()
blend_runtime = BlendRuntime.from_env()
maps_runtime = MapsRuntime.from_env()
clock = time.time  # the local stack sets its own clock here
_community = maps_runtime.settings.community_table_name
_host = maps_runtime.settings.dynamodb_endpoint
edit_store = edits.EditStore(
    _community, maps_runtime.settings.region, maps=maps_runtime.maps, s3=maps_runtime.s3,
    bucket=maps_runtime.settings.bucket_name, host=_host, clock=lambda: clock(),
    karma_store=KarmaStore(_community, maps_runtime.settings.region, host=_host, clock=lambda: clock()))
STALLED_AFTER_SECONDS = int(os.environ.get("STALLED_AFTER_SECONDS", "1800"))


def message(stage: str, retry: str = "regenerate to try again", *, status: str = "RUNNING") -> str:
    """What a swept record tells its owner: the stage it stopped in, or (PENDING) that its workflow never began."""
    minutes = STALLED_AFTER_SECONDS // 60
    if status == "PENDING":
        return f"its workflow did not start within {minutes} minutes; {retry}"
    return f"the {stage} stage stopped and was given up after {minutes} minutes; {retry}"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cutoff = clock() - STALLED_AFTER_SECONDS
    swept: list[str] = []
    with transient_aws_errors():
        for job in runtime.store.stalled(older_than=cutoff):
            stage = str(job.get("stage") or "analyze")
            if runtime.store.fail(job["userId"], job["jobId"], stage=stage, message=message(stage, status=job["status"])):
                logger.warning("stalled job marked FAILED", extra={"job_id": job["jobId"], "stage": stage,
                                                                    "last_update": job["updatedAt"]})
                swept.append(job["jobId"])
        tracks = track_runtime.store
        for track in tracks.stalled(older_than=cutoff):
            user_id, track_id = track["userId"], track["trackId"]
            text = message("processing", "upload the file again")
            if tracks.mark_failed(user_id, track_id, track.get("version"), message=text):
                storage.delete_prefix(track_runtime.s3, track_runtime.settings.bucket_name,
                                      storage.track_prefix(user_id, track_id))
                logger.warning("stalled track marked FAILED", extra={"track_id": track_id})
                swept.append(track_id)
        swept += _sweep_transcriptions(cutoff)
        swept += _sweep_blends(cutoff)
        swept += _sweep_maps(cutoff)
        expired = _expire_edits()
    if swept:
        metrics.add_metric(name="StalledWorkFailed", unit=MetricUnit.Count, value=len(swept))
    if expired:
        metrics.add_metric(name="MapEditsExpired", unit=MetricUnit.Count, value=len(expired))
    return {"failed": swept, "expiredEdits": expired}


def _sweep_transcriptions(cutoff: float) -> list[str]:
    """Stalled transcriptions: FAILED with the stage they stopped in; everything but the source removed."""
    store, swept = listen_runtime.store, []
    for record in store.stalled(older_than=cutoff):
        user_id, transcription_id = record["userId"], record["transcriptionId"]
        stage = str(record.get("stage") or "decode")
        text = message(stage, "try again with POST /transcriptions", status=record["status"])
        if store.fail(user_id, transcription_id, stage=stage, message=text):
            kept = store.get(user_id, transcription_id) or {}
            keep = frozenset({str(kept["sourceKey"])}) if kept.get("sourceKey") else frozenset()
            storage.delete_prefix(listen_runtime.s3, listen_runtime.settings.bucket_name,
                                  transcriptions.prefix(user_id, transcription_id), keep=keep)
            logger.warning("stalled transcription marked FAILED", extra={"transcription_id": transcription_id})
            swept.append(transcription_id)
    return swept


def _sweep_blends(cutoff: float) -> list[str]:
    """Stalled blends: FAILED with the stage they stopped in; their files removed."""
    store, swept = blend_runtime.blends, []
    for record in store.stalled(older_than=cutoff):
        user_id, blend_id = record["userId"], record["blendId"]
        stage = str(record.get("stage") or "prepare")
        text = message(stage, "try again with POST /blends", status=record["status"])
        if store.fail(user_id, blend_id, stage=stage, message=text):
            storage.delete_prefix(blend_runtime.s3, blend_runtime.settings.bucket_name, blends.prefix(user_id, blend_id))
            logger.warning("stalled blend marked FAILED", extra={"blend_id": blend_id})
            swept.append(blend_id)
    return swept


def _sweep_maps(cutoff: float) -> list[str]:
    """Stalled drum maps: FAILED with the stage they stopped in; their work files removed."""
    store, swept = maps_runtime.maps, []
    for record in store.stalled(older_than=cutoff):
        user_id, map_id = record["userId"], record["mapId"]
        stage = str(record.get("stage") or "decode")
        text = message(stage, "try again with POST /maps", status=record["status"])
        if store.fail(user_id, map_id, stage=stage, message=text):
            storage.delete_prefix(maps_runtime.s3, maps_runtime.settings.bucket_name,
                                  drum_maps.work_prefix(user_id, map_id))
            logger.warning("stalled map marked FAILED", extra={"map_id": map_id})
            swept.append(map_id)
    return swept


def _expire_edits() -> list[str]:
    """Map edits left undecided for 7 days become `expired` (conditional: a vote deciding one at the same
    moment wins)."""
    expired = [edit["editId"] for edit in edit_store.expire_stale(older_than=clock() - edits.PENDING_SECONDS)]
    for edit_id in expired:
        logger.info("undecided map edit expired", extra={"edit_id": edit_id})
    return expired
