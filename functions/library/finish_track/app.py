"""FinishTrack: the track workflow's last step. Marks this version READY (with its MP3: the
transcode, or the original itself for MP3 uploads) and due for Guess the Track, then removes
what earlier versions of the track left behind (never an upload key: an upload waiting there
belongs to a newer workflow).

Run again after this version became READY (a retry after a failed clean-up, a replay), it finishes the
clean-up and changes nothing else. If a newer upload claimed the track meanwhile (or it was deleted), this
version's own objects (its fingerprint too) are removed instead and the record is left to the newer upload;
a deleted track's fingerprint also leaves Maps' index, which the Fingerprint step may have written after
the DELETE cleared it.
Returns only its own result: `{ready, mp3Key, dueAt, removed}`.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.library import training
from soundcanvas.library.steps import TrackRuntime
from soundcanvas.library.tracks import READY
from soundcanvas.maps import fpkeys  # the seam: a track deleted while fingerprinted leaves the index

logger = Logger()
metrics = Metrics()
runtime = TrackRuntime.from_env()
clock = time.time  # the local stack sets its own clock here


def _leave_fingerprint_index(user_id: str, track_id: str) -> None:
    """The seam (docs/architecture.md): a track deleted while Maps' Fingerprint step read it was put back in the
    fingerprint index after its DELETE took it out; it leaves again here, as the DELETE does it."""
    if runtime.settings.fingerprints_table_name:
        dynamodb = boto3.client("dynamodb", region_name=runtime.settings.region)
        fpkeys.delete_audio_items(dynamodb, runtime.settings.fingerprints_table_name, user_id, [("track", track_id)])


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    track = event["track"]
    user_id, track_id, version = track["userId"], track["trackId"], track["version"]
    logger.append_keys(track_id=track_id)
    bucket = runtime.settings.bucket_name
    transcoded = (track.get("transcode") or {}).get("mp3Key")
    fingerprint = track.get("fingerprint") or {}  # Maps' Fingerprint step; absent when it failed (not fatal)
    mp3_key = transcoded or track["originalKey"]
    with transient_aws_errors():
        record = runtime.store.get(user_id, track_id)
        due_at = training.due_at_when_ready(record or {}, clock())
        ready = record is not None and runtime.store.mark_ready(
            user_id, track_id, version, mp3_key=mp3_key, due_at=due_at,
            fingerprint_key=fingerprint.get("fingerprintKey"), duplicate_of=fingerprint.get("duplicateOf"))
        if not ready and (current := runtime.store.get(user_id, track_id)) is not None \
                and current.get("version") == version and current.get("status") == READY:
            ready, due_at = True, int(current.get("dueAt") or due_at)  # a retry after this version was marked READY
            logger.info("this version is READY already (the step was retried): finishing its clean-up")
        if not ready:
            prefix = storage.track_prefix(user_id, track_id)
            storage.delete_prefix(runtime.s3, bucket, prefix, only_version=version)
            if fingerprint.get("fingerprintKey"):  # this version's, named apart from the version-marked objects
                runtime.s3.delete_object(Bucket=bucket, Key=fingerprint["fingerprintKey"])
            if current is None:  # deleted, not replaced
                _leave_fingerprint_index(user_id, track_id)
            logger.info("track deleted or replaced while processing: this version discarded")
            return {"ready": False, "reason": "deleted or replaced by a newer upload"}
        keep = frozenset(k for k in (track["originalKey"], mp3_key, track.get("coverKey"),
                                     fingerprint.get("fingerprintKey")) if k)
        removed = storage.delete_prefix(runtime.s3, bucket, storage.track_prefix(user_id, track_id), keep=keep,
                                        keep_uploads=True)  # a newer upload waiting for its own claim
    metrics.add_metric(name="TracksReady", unit=MetricUnit.Count, value=1)
    logger.info("track ready", extra={"mp3_key": mp3_key, "stale_objects_removed": removed,
                                      "duplicate_of": fingerprint.get("duplicateOf")})
    return {"ready": True, "mp3Key": mp3_key, "dueAt": due_at, "removed": removed}
