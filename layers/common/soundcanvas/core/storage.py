"""Where a job's objects live in the media bucket, and the S3 operations on them.

    images/{userId}/{jobId}/input.<ext>          where the upload form puts the picture (its arrival starts
                                                 the workflow; the job then copies it and removes this one)
    images/{userId}/{jobId}/picture.{version}.<ext>   the job's copy of the picture it claimed
    analysis/{userId}/{jobId}/features.json      what Analyze measured
    midi/{userId}/{jobId}/composition.mid        what Compose wrote
    audio/{userId}/{jobId}/output.wav            what Render produced (44.1 kHz stereo 16-bit)
    audio/{userId}/{jobId}/preview.mp3           the streaming preview

The track library keeps each track under one prefix; every object but the upload key carries the
version (from the uploaded object's ETag) it belongs to, so a re-upload never mixes with a stale
result:

    library/{userId}/{trackId}/original.<ext>             where an upload lands (form, direct, copy); transient
    library/{userId}/{trackId}/source.{version}.<ext>     the claimed upload, kept as it is (no form can write it)
    library/{userId}/{trackId}/audio.{version}.mp3        the 320 kbps MP3 (absent for MP3 uploads)
    library/{userId}/{trackId}/cover.{version}.<jpg|png>  embedded cover art re-encoded, when the file has one

InspectTrack copies what it claimed from the upload key to the source key and removes the upload
key; only the upload key matches the EventBridge rule (`library/*/*/original.*`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

IMAGE_CONTENT_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
AUDIO_CONTENT_TYPES: dict[str, str] = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/aiff": "aiff",
    "audio/x-aiff": "aiff",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
}
PREFIXES = ("images", "analysis", "midi", "audio")
_ID = r"[A-Za-z0-9_.:@+-]{1,128}"
IMAGE_KEY_RE = re.compile(rf"^images/(?P<userId>{_ID})/(?P<jobId>{_ID})/input\.(?P<ext>[a-z]{{3,4}})$")
ORIGINAL_KEY_RE = re.compile(rf"^library/(?P<userId>{_ID})/(?P<trackId>{_ID})/original\.(?P<ext>[a-z0-9]{{2,4}})$")
SOURCE_KEY_RE = re.compile(
    rf"^library/(?P<userId>{_ID})/(?P<trackId>{_ID})/source\.(?P<version>[0-9a-f]{{1,16}})\.(?P<ext>[a-z0-9]{{2,4}})$"
)


def image_key(user_id: str, job_id: str, content_type: str) -> str:
    return f"images/{user_id}/{job_id}/input.{IMAGE_CONTENT_TYPES[content_type]}"


def picture_key(user_id: str, job_id: str, version: str, ext: str) -> str:
    """The job's own copy of the picture it claimed (its upload form cannot write here)."""
    return f"images/{user_id}/{job_id}/picture.{version}.{ext}"


def features_key(user_id: str, job_id: str) -> str:
    return f"analysis/{user_id}/{job_id}/features.json"


def midi_key(user_id: str, job_id: str) -> str:
    return f"midi/{user_id}/{job_id}/composition.mid"


def audio_key(user_id: str, job_id: str) -> str:
    return f"audio/{user_id}/{job_id}/output.wav"


def preview_key(user_id: str, job_id: str) -> str:
    return f"audio/{user_id}/{job_id}/preview.mp3"


def parse_image_key(key: str) -> tuple[str, str] | None:
    """(userId, jobId) of an uploaded picture's key, or None for any other key."""
    match = IMAGE_KEY_RE.match(key)
    return (match["userId"], match["jobId"]) if match else None


def track_prefix(user_id: str, track_id: str) -> str:
    return f"library/{user_id}/{track_id}/"


def original_key(user_id: str, track_id: str, ext: str) -> str:
    return f"library/{user_id}/{track_id}/original.{ext}"


def object_version(etag: str) -> str:
    """A short, key-safe version label from an object's ETag (quotes and multipart suffix dropped)."""
    return re.sub(r"[^0-9a-f]", "", etag.strip('"').split("-")[0].lower())[:16] or "0"


def source_key(user_id: str, track_id: str, version: str, ext: str) -> str:
    """Where a claimed upload is kept: named by its version, so no upload form can overwrite it."""
    return f"library/{user_id}/{track_id}/source.{version}.{ext}"


def parse_source_key(key: str) -> tuple[str, str, str, str] | None:
    """(userId, trackId, version, ext) of a kept track original's key, or None for any other key."""
    match = SOURCE_KEY_RE.match(key)
    return (match["userId"], match["trackId"], match["version"], match["ext"]) if match else None


def track_mp3_key(user_id: str, track_id: str, version: str) -> str:
    return f"library/{user_id}/{track_id}/audio.{version}.mp3"


def cover_key(user_id: str, track_id: str, version: str, ext: str) -> str:
    return f"library/{user_id}/{track_id}/cover.{version}.{ext}"


def parse_original_key(key: str) -> tuple[str, str, str] | None:
    """(userId, trackId, ext) of an uploaded track original's key, or None for any other key."""
    match = ORIGINAL_KEY_RE.match(key)
    return (match["userId"], match["trackId"], match["ext"]) if match else None


def delete_prefix(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    keep: frozenset[str] = frozenset(),
    only_version: str | None = None,
    keep_uploads: bool = False,
) -> int:
    """Delete every object under a prefix except the keys in `keep` (with `only_version`, only the
    objects derived from that version of a track; with `keep_uploads`, not the track upload keys,
    which belong to a workflow that has not claimed them yet); returns how many were deleted."""
    deleted = 0
    marker = f".{only_version}." if only_version else ""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects = [
            {"Key": item["Key"]}
            for item in page.get("Contents", [])
            if item["Key"] not in keep and marker in item["Key"].rsplit("/", 1)[-1]
            and not (keep_uploads and parse_original_key(item["Key"]))
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


MISSING = ("404", "NoSuchKey", "NotFound")  # S3 error codes: no object at the key
CHANGED = ("412", "PreconditionFailed")  # the object is no longer the one the request named
GONE = (*MISSING, *CHANGED)  # an upload its event named has been used, deleted or replaced since


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def delete_if_unchanged(s3: Any, bucket: str, key: str, etag: str) -> None:
    """Delete the object at `key` if it still holds `etag` (S3's conditional delete): an upload that is
    gone already, or was replaced by a newer one (which has its own event), is left alone."""
    try:
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as exc:
        if error_code(exc) not in GONE:
            raise


def delete_job_objects(s3: Any, bucket: str, user_id: str, job_id: str) -> int:
    """Delete every object of one job under every prefix; returns how many were deleted."""
    return sum(delete_prefix(s3, bucket, f"{prefix}/{user_id}/{job_id}/") for prefix in PREFIXES)


def presign_get(
    s3: Any, bucket: str, key: str | None, ttl_seconds: int, *, download_as: str | None = None
) -> str | None:
    """A presigned GET; with `download_as`, browsers save the object under that file name."""
    if not key:
        return None
    params = {"Bucket": bucket, "Key": key}
    if download_as:
        params["ResponseContentDisposition"] = content_disposition(download_as)
    url: str = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)
    return url


def content_disposition(file_name: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    ascii_name = re.sub(r'[^A-Za-z0-9 ._()\[\]-]', "_", file_name) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"
