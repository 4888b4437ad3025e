"""Fingerprint: Chromaprint fingerprints of the audio that enters, stored beside it and indexed.

One function, three requests (the state machines say which):

- `{"track": {...}}` from the library's track workflow (the seam in docs/architecture.md: no Python
  import either way). Fingerprints the track's original, stores it at
  `library/{userId}/{trackId}/fingerprint-{version}.fp`, looks for the same recording among the
  owner's other tracks (the whole-track index), then indexes this one in the owner's scope.
  Returns `{fingerprintKey, duplicateOf}`; the library's FinishTrack records both.
- `{"songAudio": <S3 Object Created event>}` from the song-audio workflow: a recording arrived for a
  catalog song (`catalog/{songId}/audio-upload.{ext}`). Checked, fingerprinted, moved to
  `catalog/{songId}/audio.{ext}` with `audio.fp` beside it, indexed ("public" scope for a public
  song, the owner's for a private one), the song's audioStatus READY. Audio that cannot be used
  marks it FAILED with a message and returns normally. An upload is used once, and only the one its event
  names (its ETag): a replayed event finds it gone, a late one finds a newer upload in its place, and either
  changes nothing (the newer upload has its own event).
- `{"songAudioFailed": <the same event>, "error": {...}}`: the song-audio workflow's Catch.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from soundcanvas.core import audio, failures, storage
from soundcanvas.core.errors import AudioRejected
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.maps import fingerprints, fpkeys, song_audio
from soundcanvas.maps.fpindex import IndexedAudio
from soundcanvas.maps.steps import MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()
index = runtime.index()
MAX_FINGERPRINT_SECONDS = 4 * 3600  # decoding stops here; the index keeps the first hour
# Decoded a chunk at a time (docs/maps-long-recording-bench.md: 88 MB peak for a 3-hour WAV, 3.5 s, where decoding
# it whole peaked at 1,892 MB, over this function's 1,024 MB; a 3-hour 128 kbps MP3 took 11 s here): the decoder
# gets what is left of the task's 120 s after the download, with room for the index writes.
DECODE_TIMEOUT_SECONDS = 80.0


def fingerprint_object(key: str, etag: str = "") -> tuple[Any, float]:
    """(items, duration in seconds) of the audio object at `key` (with `etag`, only while the object has that
    ETag: ClientError 412 otherwise); AudioRejected or FingerprintError."""
    with tempfile.TemporaryDirectory(prefix="maps-fp-") as tmp:
        path = Path(tmp) / Path(key).name
        with transient_aws_errors():
            if etag:
                body = runtime.s3.get_object(Bucket=runtime.settings.bucket_name, Key=key, IfMatch=etag)["Body"]
                with path.open("wb") as out:
                    shutil.copyfileobj(body, out)
            else:
                runtime.s3.download_file(runtime.settings.bucket_name, key, str(path))
        with closing(audio.pcm16_chunks(path, sample_rate_hz=fingerprints.SAMPLE_RATE_HZ,
                                        max_duration_seconds=MAX_FINGERPRINT_SECONDS,
                                        timeout_seconds=DECODE_TIMEOUT_SECONDS)) as chunks:
            return fingerprints.fingerprint_pcm16(chunks, fingerprints.SAMPLE_RATE_HZ)  # ffmpeg stopped on any exit


def _track(track: dict[str, Any]) -> dict[str, Any]:
    user_id, track_id = str(track["userId"]), str(track["trackId"])
    logger.append_keys(track_id=track_id)
    with stopwatch() as elapsed:
        items, duration_seconds = fingerprint_object(str(track["originalKey"]))
        key = f"{storage.track_prefix(user_id, track_id)}fingerprint-{track['version']}.fp"
        with transient_aws_errors():
            runtime.s3.put_object(Bucket=runtime.settings.bucket_name, Key=key, Body=fingerprints.to_bytes(items),
                                  ContentType="application/octet-stream")
            found = index.find_duplicates(items, [user_id], exclude=("track", track_id))
            title = str(track.get("title") or "")
            indexed = index.add(IndexedAudio(kind="track", id=track_id, scope=user_id, title=title,
                                             artist=str(track.get("artist") or ""), duration_seconds=duration_seconds,
                                             stamp=str(track.get("claimedAt") or "")), items)
    if not indexed:  # a newer upload of the track is indexed already; this version's FinishTrack discards it
        logger.info("an older version of the track: the newer one stays indexed")
        return {"fingerprintKey": key, "duplicateOf": None}
    duplicate = None
    if found:
        best = found[0]
        duplicate = {"trackId": best.id, "similarity": round(best.score, 4),
                     "kind": fingerprints.duplicate_kind(best.bit_error_rate)}
        metrics.add_metric(name="DuplicateTracks", unit=MetricUnit.Count, value=1)
    logger.info("track fingerprinted", extra={"items": int(items.size), "duplicate_of": duplicate, "ms": elapsed["ms"]})
    return {"fingerprintKey": key, "duplicateOf": duplicate}


def _upload(event: dict[str, Any]) -> tuple[str, str]:
    """The (key, ETag) of the upload an S3 Object Created event names."""
    obj = event["detail"]["object"]
    return str(obj["key"]), str(obj.get("etag") or "")


def _discard_upload(upload_key: str, etag: str) -> None:
    """Delete the used upload, unless a newer one has replaced it since (that one has its own event)."""
    bucket = runtime.settings.bucket_name
    if etag:
        storage.delete_if_unchanged(runtime.s3, bucket, upload_key, etag)
    else:
        runtime.s3.delete_object(Bucket=bucket, Key=upload_key)


def _song_audio(event: dict[str, Any]) -> dict[str, Any]:
    upload_key, etag = _upload(event)
    parsed = song_audio.parse_audio_upload_key(upload_key)
    if parsed is None:
        return {"ready": False, "reason": f"not a song recording: {upload_key}"}
    song_id, ext = parsed
    logger.append_keys(song_id=song_id)
    bucket = runtime.settings.bucket_name
    with transient_aws_errors():
        song = runtime.songs.get(song_id)
    if song is None:
        with transient_aws_errors():
            _discard_upload(upload_key, etag)
        return {"ready": False, "reason": "the song was deleted"}
    try:
        items, duration_seconds = fingerprint_object(upload_key, etag)
    except ClientError as exc:
        if storage.error_code(exc) not in storage.GONE:
            raise
        logger.info("song recording used already or replaced (a replayed or late event)")
        return {"ready": False, "reason": "the upload was used already or replaced"}
    except (AudioRejected, fingerprints.FingerprintError) as exc:
        with transient_aws_errors():
            runtime.songs.mark_failed(song_id, message=str(exc))
            _discard_upload(upload_key, etag)
        logger.info("song recording refused", extra={"reason": str(exc)})
        return {"ready": False, "reason": str(exc)}
    audio_key, fp_key = song_audio.audio_key(song_id, ext), song_audio.fingerprint_key(song_id)
    scope = fpkeys.song_scope(song)
    with transient_aws_errors():
        try:
            runtime.s3.copy_object(Bucket=bucket, Key=audio_key, CopySource={"Bucket": bucket, "Key": upload_key},
                                   **({"CopySourceIfMatch": etag} if etag else {}))
        except ClientError as exc:
            if storage.error_code(exc) not in storage.GONE:
                raise
            logger.info("song recording replaced while it was read (a late event)")
            return {"ready": False, "reason": "the upload was replaced"}
        runtime.s3.put_object(Bucket=bucket, Key=fp_key, Body=fingerprints.to_bytes(items),
                              ContentType="application/octet-stream")
        indexed = IndexedAudio(kind="song", id=song_id, scope=scope, title=str(song.get("title") or ""),
                               artist=str(song.get("artist") or ""), duration_seconds=duration_seconds)
        index.add(indexed, items)
        attached = runtime.songs.mark_ready(song_id, audio_key=audio_key, fingerprint_key=fp_key,
                                            duration_seconds=duration_seconds)
        if not attached:  # the song was deleted while its recording was read: leave nothing of it behind
            index.remove(indexed, items)
            for key in (audio_key, fp_key):
                runtime.s3.delete_object(Bucket=bucket, Key=key)
        _discard_upload(upload_key, etag)
    if not attached:
        logger.info("song deleted while its recording was attached")
        return {"ready": False, "reason": "the song was deleted"}
    logger.info("song recording attached", extra={"items": int(items.size), "seconds": round(duration_seconds, 1)})
    return {"ready": True, "songId": song_id, "audioKey": audio_key, "fingerprintKey": fp_key}


def _song_audio_failed(event: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    upload_key, etag = _upload(event)
    parsed = song_audio.parse_audio_upload_key(upload_key)
    if parsed is None:
        return {"marked": False}
    song_id = parsed[0]
    message = failures.describe(error, "fingerprint", retry_hint="upload the recording again",
                                reference=f"song {song_id}")
    with transient_aws_errors():
        marked = runtime.songs.mark_failed(song_id, message=message)
        _discard_upload(upload_key, etag)
    logger.warning("song recording failed", extra={"song_id": song_id, "error": error.get("Error")})
    return {"marked": marked, "message": message}


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "track" in event:
        return _track(event["track"])
    if "songAudio" in event:
        return _song_audio(event["songAudio"])
    if "songAudioFailed" in event:
        return _song_audio_failed(event["songAudioFailed"], event.get("error") or {})
    raise ValueError("expected one of track, songAudio, songAudioFailed")
