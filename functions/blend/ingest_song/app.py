"""IngestSong: an uploaded MIDI file becomes a private song of its owner's, once.

Input: `{"event": <the bucket's Object Created event for catalog/{songId}/upload.mid>, "executionId"}`.
The upload is read by its ETag (GetObject IfMatch) and validated (soundcanvas.blend.midi_files:
it parses, has notes, lasts at most 30 minutes); an unusable file raises SongRejected, whose message
the SongFailed step puts on the record. A valid one is kept as `catalog/{songId}/song-{version}.mid`
(a key no form can write), the song becomes READY with its key, tempo, metre and length, and the
upload is removed; its preview is rendered next (the workflow's RenderPreview). Forms are single-use:
a song that is no longer PENDING (a second post of its form, a duplicated event) has the upload removed
and nothing else happens.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError

from soundcanvas.blend import songs
from soundcanvas.blend.midi_files import read_song, song_summary
from soundcanvas.blend.steps import BlendRuntime
from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()


def _target(event: dict[str, Any]) -> tuple[str, str, str] | str:
    """(songId, upload key, etag) of an upload event, or why the event is not ours."""
    try:
        parsed = parse(event=event, model=S3EventNotificationEventBridgeModel)
    except ValidationError as exc:
        return f"not an S3 Object Created event: {exc.errors()[0]['msg']}"
    if parsed.detail.bucket.name != runtime.settings.bucket_name:
        return f"event for another bucket ({parsed.detail.bucket.name})"
    key = parsed.detail.object.key
    song_id = songs.parse_upload_key(key)
    if song_id is None:
        return f"not a song upload key: {key}"
    return song_id, key, str(event["detail"]["object"].get("etag") or "")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    target = _target(payload.get("event", payload))
    if isinstance(target, str):
        logger.warning("event ignored", extra={"reason": target})
        return {"ingested": False, "reason": target}
    song_id, key, etag = target
    logger.append_keys(song_id=song_id)
    s3, bucket = runtime.s3, runtime.settings.bucket_name
    with transient_aws_errors():
        record = runtime.songs.get(song_id)
        if record is None or record["status"] != songs.PENDING:
            storage.delete_if_unchanged(s3, bucket, key, etag)
            reason = "no such song (deleted or expired)" if record is None else \
                "the song already has its MIDI: a later post of its form was removed"
            logger.info("upload not ingested", extra={"reason": reason})
            return {"ingested": False, "songId": song_id, "reason": reason}
        try:
            data = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"].read() if etag else \
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if storage.error_code(exc) in storage.GONE:
                return {"ingested": False, "songId": song_id,
                        "reason": "the upload changed or vanished since this event (a newer one has its own event)"}
            raise
    summary = song_summary(read_song(data))  # SongRejected names what is wrong; SongFailed records it
    midi_key = f"{songs.prefix(song_id)}song-{storage.object_version(etag or song_id)}.mid"
    with transient_aws_errors():
        runtime.put_bytes(midi_key, data, "audio/midi")
        if not runtime.songs.mark_ready(song_id, midi_key=midi_key, summary=summary):
            runtime.discard(midi_key)
            storage.delete_if_unchanged(s3, bucket, key, etag)
            return {"ingested": False, "songId": song_id, "reason": "claimed by another event"}
        storage.delete_if_unchanged(s3, bucket, key, etag)
    metrics.add_metric(name="SongsUploaded", unit=MetricUnit.Count, value=1)
    logger.info("song ready")
    preview = songs.preview_request({"songId": song_id, "midiKey": midi_key, **summary})
    return {"ingested": True, "songId": song_id, "preview": preview}
