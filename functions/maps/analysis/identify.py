"""Identify API: which song (of the public catalog) or track (of the caller's library) a recording is.

`POST /identify` takes either multipart/form-data with the audio in a part named `file` (at most
4 MB, 5 to 30 seconds), or `{"uploadId": ...}` for a longer recording sent with a form from
`POST /identify/uploads`. The audio is decoded and fingerprinted here (ffmpeg and Chromaprint are
in this image) and looked up in the fingerprint index, in two scopes only: "public" and the
caller's own. `200 {matches: [...]}`, best first, empty when nothing passes the thresholds.

A long upload is first compared whole against whole tracks (the same recording in any encoding),
then, failing that, by its middle SNIPPET_MAX_SECONDS as a snippet. A snippet nothing matches goes through
the speed search (`FingerprintIndex.identify_speeds`: the recording as if played up to 4 % slower or faster,
a resampled or sped-up copy) before the answer is "no match"; a match says the speed it was found at.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from soundcanvas.core import api, audio, inputs, storage
from soundcanvas.core.errors import AudioRejected
from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.maps import fingerprints, identify_uploads
from soundcanvas.maps.fpindex import Match, accepted, needs_speed_search
from soundcanvas.maps.fpkeys import PUBLIC_SCOPE
from soundcanvas.maps.steps import MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()
index = runtime.index()
quotas = QuotaStore(runtime.settings.quotas_table_name, runtime.settings.region, host=runtime.settings.dynamodb_endpoint)
IDENTIFY = Quota("identify", runtime.settings.identify_quota, runtime.settings.identify_quota_window_seconds)
SNIPPET_MIN_SECONDS = 5.0
SNIPPET_MAX_SECONDS = 30.0
UPLOAD_MAX_SECONDS = 3600.0
UPLOAD_ID_PATTERN = r"^[a-f0-9]{32}$"

app = api.resolver()


class IdentifyRequest(BaseModel):
    """JSON body of POST /identify: a recording uploaded with a form from POST /identify/uploads."""

    model_config = ConfigDict(extra="forbid")
    uploadId: Annotated[str, StringConstraints(pattern=UPLOAD_ID_PATTERN)]


# What tools/openapi.py publishes for the body the route reads itself: either type, and its own 413 and 415.
OPENAPI_BODIES = {"/identify": {
    "multipart/form-data": inputs.audio_form_schema(
        "IdentifyForm",
        f"A recording of {SNIPPET_MIN_SECONDS:g} to {SNIPPET_MAX_SECONDS:g} seconds in a part named `file`; the "
        f"whole body at most {inputs.DIRECT_MAX_BYTES // 1048576} MB (a longer or larger recording goes through POST "
        "/identify/uploads).",
        "The file name to use instead of the `file` part's."),
    "application/json": {
        "title": "IdentifyRequest",
        "description": f"{IdentifyRequest.__doc__} A recording of {SNIPPET_MIN_SECONDS:g} to {UPLOAD_MAX_SECONDS:g} "
                       "seconds; the upload is deleted once read, so an id is used once.",
        "type": "object",
        "properties": {"uploadId": {"type": "string", "pattern": UPLOAD_ID_PATTERN,
                                    "description": "The `uploadId` POST /identify/uploads answered."}},
        "required": ["uploadId"],
        "additionalProperties": False,
    },
}}
OPENAPI_ERRORS = {"/identify": {
    "413": f"The multipart body is over {inputs.DIRECT_MAX_BYTES // 1048576} MB: send the recording through POST "
           "/identify/uploads (`errors` names the field file); or a JSON body is over 256 KB (core/inputs.py "
           "JSON_MAX_BYTES; `errors` names the field body).",
    "415": "The body is neither multipart/form-data nor JSON (`errors` names the field Content-Type), or the part "
           "named file is not audio of a type the API reads (`errors` names the field file).",
}}


class BadRequest(ValueError):
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


class UploadNotFound(LookupError):
    """No upload of this caller's under that id (never sent, expired, or already used)."""


def _view(match: Match) -> dict[str, Any]:
    return {("songId" if match.kind == "song" else "trackId"): match.id, "kind": match.kind, "title": match.title,
            "artist": match.artist, "score": round(match.score, 4), "offsetSeconds": round(match.offset_seconds, 2),
            "speed": round(match.speed, 4)}


def _decode(data_path: Path, max_seconds: float) -> np.ndarray:
    return audio.decode(data_path, sample_rate_hz=fingerprints.SAMPLE_RATE_HZ, max_duration_seconds=max_seconds)


def _items(samples: np.ndarray) -> np.ndarray:
    try:
        return fingerprints.fingerprint_samples(samples, fingerprints.SAMPLE_RATE_HZ)
    except fingerprints.FingerprintError as exc:
        raise BadRequest("file", str(exc)) from exc


def _snippet_matches(samples: np.ndarray, items: np.ndarray, scopes: list[str]) -> list[Match]:
    """identify, then, when nothing matched and the snippet had music enough to vote, the speed search over the
    same samples."""
    rescored = index.rescore(items, scopes)
    matches = accepted(rescored)
    if not needs_speed_search(rescored, matches):
        return matches
    metrics.add_metric(name="SpeedSearches", unit=MetricUnit.Count, value=1)
    return index.identify_speeds(fingerprints.speed_variants(samples, fingerprints.SAMPLE_RATE_HZ), scopes)


def _answer(matches: list[Match], seconds: float, started: float) -> dict[str, Any]:
    metrics.add_metric(name="Identified" if matches else "NotIdentified", unit=MetricUnit.Count, value=1)
    logger.info("identify", extra={"matches": len(matches), "seconds": round(seconds, 1),
                                   "speed": matches[0].speed if matches else None,
                                   "ms": int((time.perf_counter() - started) * 1000)})
    return {"matches": [_view(m) for m in matches], "querySeconds": round(seconds, 2)}


@app.post("/identify")
def identify() -> dict[str, Any]:
    user_id = api.caller(app)
    started = time.perf_counter()
    scopes = [PUBLIC_SCOPE, user_id]
    event = app.current_event
    content_type = event.headers.get("content-type") or ""
    with quotas.spend(user_id, IDENTIFY):
        if content_type.lower().startswith("multipart/form-data"):
            return _identify_direct(content_type, scopes, started)
        if api.sent_as_another_type(app):  # a urlencoded form, text: refused before it is parsed
            raise BadRequest("Content-Type", "send the audio as multipart/form-data (a part named file) or JSON "
                                             "{\"uploadId\"} with Content-Type: application/json", 415)
        try:
            payload = event.json_body
        except ValueError as exc:
            raise BadRequest("body", "is not valid JSON") from exc
        try:
            body = IdentifyRequest.model_validate(payload or {})
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(part) for part in problem["loc"]) or "body"
            raise BadRequest(field, "send the audio as multipart/form-data (a part named file) or JSON "
                                    f"{{\"uploadId\"}} from POST /identify/uploads: {problem['msg']}") from exc
        return _identify_upload(user_id, body.uploadId, scopes, started)


def _identify_direct(content_type: str, scopes: list[str], started: float) -> dict[str, Any]:
    event = app.current_event
    try:
        file_name, _, data = inputs.audio_part(content_type, event.body, event.is_base64_encoded,
                                               max_bytes=inputs.DIRECT_MAX_BYTES, instead="POST /identify/uploads")
    except inputs.FieldProblem as exc:
        raise BadRequest(exc.field, str(exc), exc.status) from exc
    with tempfile.TemporaryDirectory(prefix="identify-") as tmp:
        ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
        # the client's extension is only a hint to the decoder, and never a path: a long or non-ASCII one (a file
        # name of 255 characters can pass 255 bytes) would fail to open, a 500 instead of an answer
        path = Path(tmp) / ("snippet." + (ext if ext.isascii() and ext.isalnum() and len(ext) <= 5 else "bin"))
        path.write_bytes(data)
        try:
            samples = _decode(path, SNIPPET_MAX_SECONDS + 0.5)
        except AudioRejected as exc:
            raise BadRequest("file", f"{exc}; send {SNIPPET_MIN_SECONDS:g} to {SNIPPET_MAX_SECONDS:g} s, or a longer "
                                     "recording through POST /identify/uploads" if "long" in str(exc) else str(exc)) from exc
    seconds = samples.size / fingerprints.SAMPLE_RATE_HZ
    if seconds < SNIPPET_MIN_SECONDS:
        raise BadRequest("file", f"the recording is {seconds:.1f} s long; send at least {SNIPPET_MIN_SECONDS:g} s")
    return _answer(_snippet_matches(samples, _items(samples), scopes), seconds, started)


def _identify_upload(user_id: str, upload_id: str, scopes: list[str], started: float) -> dict[str, Any]:
    bucket = runtime.settings.bucket_name
    listed = runtime.s3.list_objects_v2(Bucket=bucket, Prefix=identify_uploads.key(user_id, upload_id, ""), MaxKeys=3)
    recordings = [obj for obj in listed.get("Contents", []) if identify_uploads.is_recording(obj["Key"])]
    if not recordings:
        raise UploadNotFound(f"upload {upload_id} not found (send the file with its form first; forms are used once)")
    recording = str(recordings[0]["Key"])
    marker = identify_uploads.used_key(user_id, upload_id)
    try:  # the upload is this request's only if its marker was not there yet (identify_uploads)
        runtime.s3.put_object(Bucket=bucket, Key=marker, Body=b"", IfNoneMatch="*")
    except ClientError as exc:
        if storage.error_code(exc) not in (*storage.CHANGED, "ConditionalRequestConflict"):
            raise
        # its form posted again after the first use: that file goes (not one an identify still running reads)
        if recordings[0]["LastModified"] > runtime.s3.head_object(Bucket=bucket, Key=marker)["LastModified"]:
            runtime.s3.delete_object(Bucket=bucket, Key=recording)
        raise UploadNotFound(f"upload {upload_id} was already identified (forms are used once)") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="identify-") as tmp:
            path = Path(tmp) / Path(recording).name
            try:
                runtime.s3.download_file(bucket, recording, str(path))
            except ClientError as exc:  # a second identify of the same upload, at the same moment, took it
                if storage.error_code(exc) not in storage.MISSING:
                    raise
                raise UploadNotFound(f"upload {upload_id} not found (forms are used once)") from exc
            try:
                samples = _decode(path, UPLOAD_MAX_SECONDS)
            except AudioRejected as exc:
                raise BadRequest("uploadId", str(exc)) from exc
    finally:
        runtime.s3.delete_object(Bucket=bucket, Key=recording)
    seconds = samples.size / fingerprints.SAMPLE_RATE_HZ
    if seconds < SNIPPET_MIN_SECONDS:
        raise BadRequest("uploadId", f"the recording is {seconds:.1f} s long; send at least {SNIPPET_MIN_SECONDS:g} s")
    items = _items(samples)
    matches = index.find_duplicates(items, scopes) if seconds > SNIPPET_MAX_SECONDS else []
    if not matches:
        if seconds > SNIPPET_MAX_SECONDS:
            middle = samples.size // 2
            half = int(SNIPPET_MAX_SECONDS / 2 * fingerprints.SAMPLE_RATE_HZ)
            samples = samples[max(0, middle - half): middle + half]
            items = _items(samples)
        matches = _snippet_matches(samples, items, scopes)
    return _answer(matches, seconds, started)


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(UploadNotFound,), conflict=())


@app.exception_handler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    return api.field_error(exc.status, exc.field, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
