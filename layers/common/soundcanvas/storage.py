"""Where a job's objects live in the media bucket, and the S3 operations on them.

    images/{userId}/{jobId}/input.<ext>          the uploaded picture (its upload starts the workflow)
    analysis/{userId}/{jobId}/features.json      what Analyze measured
    midi/{userId}/{jobId}/composition.mid        what Compose wrote
    audio/{userId}/{jobId}/output.wav            what Render produced (44.1 kHz stereo 16-bit)
    audio/{userId}/{jobId}/preview.mp3           the streaming preview
"""

from __future__ import annotations

import re
from typing import Any

IMAGE_CONTENT_TYPES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
PREFIXES = ("images", "analysis", "midi", "audio")
_ID = r"[A-Za-z0-9_.:@+-]{1,128}"
IMAGE_KEY_RE = re.compile(rf"^images/(?P<userId>{_ID})/(?P<jobId>{_ID})/input\.(?P<ext>[a-z]{{3,4}})$")


def image_key(user_id: str, job_id: str, content_type: str) -> str:
    return f"images/{user_id}/{job_id}/input.{IMAGE_CONTENT_TYPES[content_type]}"


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


def delete_job_objects(s3: Any, bucket: str, user_id: str, job_id: str) -> int:
    """Delete every object of one job under every prefix; returns how many were deleted."""
    deleted = 0
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in PREFIXES:
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/{user_id}/{job_id}/"):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                deleted += len(objects)
    return deleted


def presign_get(s3: Any, bucket: str, key: str | None, ttl_seconds: int) -> str | None:
    if not key:
        return None
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_seconds)
    return url
