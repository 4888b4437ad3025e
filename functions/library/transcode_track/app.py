"""TranscodeTrack (container image with ffmpeg): a track's FLAC, WAV, AIFF, OGG or M4A original -> 320 kbps MP3.

Input from the track workflow: `{userId, trackId, bucket, originalKey, version, format}` (the kept
`source.{version}.<ext>` key; the upload key `original.<ext>` is accepted too). Downloads
the original into a temporary directory under /tmp, transcodes it (soundcanvas.library.transcode), uploads
`library/{userId}/{trackId}/audio.{version}.mp3` and removes the temporary files whatever happens.
Records nothing: FinishTrack stamps the track. Returns only its own result:
`{mp3Key, mp3Bytes, transcodeMs}`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from soundcanvas.core import storage
from soundcanvas.core.errors import TrackNotFound
from soundcanvas.core.settings import Settings
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.library import transcode

logger = Logger()
metrics = Metrics()
settings = Settings.from_env()
s3 = boto3.client("s3", region_name=settings.region)
transcode.require_tools()  # fail at cold start, loudly, if the image has no ffmpeg

# Seconds of the invocation kept for the upload after the transcode: the transcode is stopped
# (and its files removed) before Lambda's own timeout could kill the function mid-cleanup.
UPLOAD_RESERVE_SECONDS = 30.0
MIN_TRANSCODE_SECONDS = 5.0


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, track_id, key = event["userId"], event["trackId"], event["originalKey"]
    logger.append_keys(track_id=track_id)
    ids = storage.parse_source_key(key) or storage.parse_original_key(key)
    if ids is None or (ids[0], ids[1]) != (user_id, track_id):
        raise ValueError(f"{key} is not the original of track {track_id}")
    bucket = event["bucket"]
    mp3_key = storage.track_mp3_key(user_id, track_id, event["version"])
    with tempfile.TemporaryDirectory(prefix="transcode-") as tmp:
        original, mp3 = Path(tmp, f"original.{key.rsplit('.', 1)[-1]}"), Path(tmp, "audio.mp3")
        with transient_aws_errors():
            try:
                s3.download_file(bucket, key, str(original))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    raise TrackNotFound(f"the uploaded file {original.name} is no longer in the library") from exc
                raise
        remaining = context.get_remaining_time_in_millis() / 1000
        result = transcode.transcode_to_mp3(
            original, mp3, timeout_seconds=max(MIN_TRANSCODE_SECONDS, remaining - UPLOAD_RESERVE_SECONDS)
        )
        with transient_aws_errors():
            s3.upload_file(str(mp3), bucket, mp3_key, ExtraArgs={"ContentType": "audio/mpeg"})
    metrics.add_metric(name="TranscodeMilliseconds", unit=MetricUnit.Milliseconds, value=result.elapsed_ms)
    logger.info(
        "track transcoded",
        extra={
            "format": event.get("format"),
            "source_codec": result.source_codec,
            "seconds": round(result.duration_seconds, 3),
            "mp3_bytes": result.output_bytes,
            "elapsed_ms": result.elapsed_ms,
        },
    )
    return {"mp3Key": mp3_key, "mp3Bytes": result.output_bytes, "transcodeMs": result.elapsed_ms}
