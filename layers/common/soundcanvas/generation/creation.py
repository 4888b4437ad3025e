"""A new generation: what a request may ask for, and the one place a job is created for it.

Both faces of the API create jobs here: `POST /generations` (REST, functions/generation/generations_api) hands
out a presigned POST form, `createGeneration` (GraphQL, functions/core/graphql_api) a presigned PUT URL. The
rules are the same for both: the request model's bounds, the generations quota (spent only if the job is
written), a random seed when none is given, the picture's key, and an upload that S3 itself holds to the
declared content type and the size limit. The clients (S3, the job and quota stores) come in as arguments.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from soundcanvas.core import storage
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.generation.genres import DEFAULT_DURATION_SECONDS, GENRE_NAMES, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS
from soundcanvas.generation.jobs import JobStore

Genre = Literal[GENRE_NAMES]  # type: ignore[valid-type]
Mode = Literal["heuristic", "model"]
ContentType = Literal[tuple(storage.IMAGE_CONTENT_TYPES)]  # type: ignore[valid-type]


class GenerationRequest(BaseModel):
    """Body of POST /generations (and, renamed, createGeneration's input)."""

    model_config = ConfigDict(extra="forbid")
    genre: Genre | None = None
    mode: Mode = "heuristic"
    durationSeconds: int = Field(DEFAULT_DURATION_SECONDS, ge=MIN_DURATION_SECONDS, le=MAX_DURATION_SECONDS, strict=True)
    seed: int | None = Field(None, ge=0, le=2**31 - 1, strict=True)
    contentType: ContentType = "image/jpeg"  # type: ignore[valid-type]


@dataclass(frozen=True)
class UploadLimits:
    """How long an upload stays open, how large a picture may be, how long a job is kept."""

    bucket: str
    max_bytes: int
    expiry_seconds: int
    retention_days: int


@dataclass(frozen=True)
class Created:
    """A PENDING job and the upload that starts it: a POST form (`form`) or a PUT URL (`put_url`, `put_headers`)."""

    job: dict[str, Any]
    image_key: str
    content_type: str
    expires_at: int
    form: dict[str, Any] | None = None
    put_url: str | None = None
    put_headers: dict[str, str] | None = None


class SizeOutOfRange(ValueError):
    """A declared picture size the upload limit does not allow."""


def create_generation(
    *,
    user_id: str,
    request: GenerationRequest,
    s3: Any,
    store: JobStore,
    quotas: QuotaStore,
    quota: Quota,
    limits: UploadLimits,
    clock: Callable[[], float],
    upload: Literal["post", "put"] = "post",
    size_bytes: int | None = None,
) -> Created:
    """Spend one generation of the quota, write a PENDING job, and sign its picture's upload.

    `upload="post"`: a presigned POST whose policy holds Content-Type and a content-length-range of 1 to
    `max_bytes`. `upload="put"`: a presigned PUT URL that signs Content-Type and, when `size_bytes` is given,
    Content-Length (S3 refuses a PUT whose signed headers differ), so the limit is held by S3 as well.
    Raises `QuotaExceeded` over the quota and `SizeOutOfRange` for a size outside 1..max_bytes.
    """
    if size_bytes is not None and not 1 <= size_bytes <= limits.max_bytes:
        raise SizeOutOfRange(f"must be between 1 and {limits.max_bytes} bytes (the upload limit)")
    with quotas.spend(user_id, quota):
        job_id = uuid.uuid4().hex
        options = request.model_dump(exclude={"contentType"})
        options["seed"] = request.seed if request.seed is not None else secrets.randbelow(2**31)
        key = storage.image_key(user_id, job_id, request.contentType)
        expires_at = int(clock()) + limits.expiry_seconds
        signed: dict[str, Any] = {}
        if upload == "post":
            signed["form"] = s3.generate_presigned_post(
                Bucket=limits.bucket,
                Key=key,
                Fields={"Content-Type": request.contentType},
                Conditions=[{"Content-Type": request.contentType}, ["content-length-range", 1, limits.max_bytes]],
                ExpiresIn=limits.expiry_seconds,
            )
        else:
            params: dict[str, Any] = {"Bucket": limits.bucket, "Key": key, "ContentType": request.contentType}
            headers = {"Content-Type": request.contentType}
            if size_bytes is not None:
                params["ContentLength"] = size_bytes
                headers["Content-Length"] = str(size_bytes)
            signed["put_url"] = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=limits.expiry_seconds)
            signed["put_headers"] = headers
        job = store.create(user_id, job_id, options=options, image_key=key, content_type=request.contentType,
                           retention_days=limits.retention_days, upload_expires_at=expires_at)
    return Created(job=job, image_key=key, content_type=request.contentType, expires_at=expires_at, **signed)
