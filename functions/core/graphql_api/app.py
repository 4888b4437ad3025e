"""GraphQL API (`POST /graphql`): the original design's schema, a thin face over the same domain code as REST.

The schema is the file beside this one (schema.graphql, built once per container with graphql-core). Every
resolver reads or writes through the stores and functions the REST handlers use: a generation is created by
`soundcanvas.generation.creation.create_generation` (quota, seed, presigned upload) as `POST /generations` does,
records are read with each product's store keyed by the caller, so another user's anything is NOT_FOUND. The
products' mutations validate their input with the REST route's own request model and call the one function that
route calls (soundcanvas.library.changes, soundcanvas.listen.creation and .retab, soundcanvas.blend.creation,
soundcanvas.maps.creation and .proposals); those modules, generation's among them, are imported by the first
mutation that needs them, not at cold start. So is pydantic: the request's envelope is checked here (`read_request`)
and GraphQL's own types check the arguments, so a container that only answers queries never builds a model
(docs/clients.md#library-and-cold-start).

Before anything runs, a document is parsed (with a token cap), checked for depth and cost, and validated; errors
come back in GraphQL's `errors` with `extensions.code` (docs/clients.md#graphql). As GraphQL over HTTP asks of
`application/json` answers, every well-formed request is answered 200: a refused document with `errors` alone
(nothing ran), an executed one with `data` and, for what failed, `errors`. A body that is not a GraphQL request
is a 400 like any route's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.language import DocumentNode

from soundcanvas.blend import blends as blend_records
from soundcanvas.core import api, cursors, storage
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.quotas import Quota, QuotaExceeded, QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.generation import jobs
from soundcanvas.library.tracks import READY, TrackConflict, TrackStore, public_fields
from soundcanvas.listen import transcriptions as listen_records
from soundcanvas.maps import drum_maps

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("QUOTAS_TABLE_NAME", "TRACKS_TABLE_NAME", "TRANSCRIPTIONS_TABLE_NAME",
                                   "BLENDS_TABLE_NAME", "MAPS_TABLE_NAME"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
generations = jobs.JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint,
                            clock=lambda: clock())
tracks = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
transcriptions = listen_records.TranscriptionStore(settings.transcriptions_table_name, settings.region,
                                                   host=settings.dynamodb_endpoint, clock=lambda: clock())
blends = blend_records.BlendStore(settings.blends_table_name, settings.region, host=settings.dynamodb_endpoint,
                                  clock=lambda: clock())
maps = drum_maps.MapStore(settings.maps_table_name, settings.region, host=settings.dynamodb_endpoint,
                          clock=lambda: clock())
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint)
GENERATIONS = Quota("generations", settings.generation_quota, settings.generation_quota_window_seconds)
TRACK_UPLOADS = Quota("track uploads", settings.track_upload_quota, settings.track_upload_quota_window_seconds)
BLENDS = Quota("blends", settings.blend_quota, settings.blend_quota_window_seconds)
TRANSCRIPTIONS = Quota("transcriptions", settings.transcription_quota, settings.transcription_quota_window_seconds)
MAPS = Quota("maps", settings.map_quota, settings.map_quota_window_seconds)

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
MAX_QUERY_CHARS = 20_000
MAX_OPERATION_NAME_CHARS = 200
MAX_TOKENS = 2_000  # parse stops here: a document of a million tokens is refused before it costs anything
MAX_DEPTH = 15  # our types nest 4 deep; the standard introspection query needs 15 (its TypeRef fragment)
MAX_COST = 2_000  # every field 1; a list's selection times its limit (20 when not given, 1 for short lists)
PAGE_DEFAULT, PAGE_MAX = 20, 100
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# graphql-core's own document errors are client mistakes: parse and validation (Apollo's names for them)
PARSE_FAILED, VALIDATION_FAILED = "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"

app = api.resolver(validation=False)  # the one route reads its body with read_request: no pydantic at cold start
if TYPE_CHECKING:
    from pydantic import BaseModel
Model = TypeVar("Model", bound="BaseModel")


@dataclass(frozen=True)
class GraphQLRequest:
    """Body of POST /graphql (GraphQL over HTTP): a document, its variables, the operation to run."""

    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None
    extensions: dict[str, Any] | None = None  # accepted and ignored


# What tools/openapi.py publishes for the body; read_request holds the same rules (a unit test compares them).
REQUEST_SCHEMA: dict[str, Any] = {
    "title": "GraphQLRequest",
    "description": GraphQLRequest.__doc__,
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS,
                  "description": "The GraphQL document."},
        "variables": {"anyOf": [{"type": "object"}, {"type": "null"}],
                      "description": "Values of the document's variables."},
        "operationName": {"anyOf": [{"type": "string", "maxLength": MAX_OPERATION_NAME_CHARS}, {"type": "null"}],
                          "description": "Which operation to run."},
        "extensions": {"anyOf": [{"type": "object"}, {"type": "null"}], "description": "Accepted and ignored."},
    },
    "required": ["query"],
    "additionalProperties": False,
}
OPENAPI_BODIES = {"/graphql": {"application/json": REQUEST_SCHEMA}}


def read_request(body: Any) -> GraphQLRequest:
    """The request a JSON body holds, or `FieldError` naming the first field that breaks REQUEST_SCHEMA's rules
    (a 400 like every route's)."""
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object with a `query`")
    for name in body:
        if name not in REQUEST_SCHEMA["properties"]:
            raise FieldError(str(name), "is not a field of a GraphQL request (query, variables, operationName, "
                                        "extensions)")
    query = body.get("query")
    if not isinstance(query, str):
        raise FieldError("query", "is required" if query is None else "must be a string")
    if not 1 <= len(query) <= MAX_QUERY_CHARS:
        raise FieldError("query", f"should have at least 1 and at most {MAX_QUERY_CHARS} characters")
    for name in ("variables", "extensions"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise FieldError(name, "must be a JSON object or null")
    operation = body.get("operationName")
    if operation is not None and not (isinstance(operation, str) and len(operation) <= MAX_OPERATION_NAME_CHARS):
        raise FieldError("operationName", f"must be a string of at most {MAX_OPERATION_NAME_CHARS} characters or null")
    return GraphQLRequest(query, body.get("variables"), operation, body.get("extensions"))


# --- errors: one code per kind of failure ---------------------------------------------------------
class NotFound(LookupError):
    """Nothing of that id is the caller's (missing, expired, or another user's)."""


class BadInput(ValueError):
    """An argument the schema's types allow but the rules do not; `field` names it as the client wrote it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Forbidden(PermissionError):
    """The caller's role, karma or standing does not allow it (REST's 403)."""


class Conflict(Exception):
    """A product's conflict whose module is imported on first use (REST's 409)."""


def _extensions(original: BaseException | None) -> dict[str, Any]:
    """`extensions` of an error raised by a resolver: its code and what the client needs to act on it."""
    if isinstance(original, NotFound):
        return {"code": "NOT_FOUND"}
    if isinstance(original, Forbidden):
        return {"code": "FORBIDDEN"}
    if isinstance(original, Conflict):
        return {"code": "CONFLICT"}
    if isinstance(original, BadInput):
        return {"code": "BAD_USER_INPUT", "field": original.field}
    if isinstance(original, cursors.InvalidCursor):
        return {"code": "BAD_USER_INPUT", "field": "cursor"}
    if isinstance(original, QuotaExceeded):
        return {"code": "RATE_LIMITED", "retryAfterSeconds": original.retry_after}
    if isinstance(original, UnauthorizedError):
        return {"code": "UNAUTHENTICATED"}
    if isinstance(original, (jobs.JobConflict, TrackConflict, listen_records.TranscriptionConflict,
                             blend_records.BlendConflict, drum_maps.MapConflict)):
        return {"code": "CONFLICT"}
    return {"code": "INTERNAL_SERVER_ERROR"}


def _error(error: GraphQLError) -> dict[str, Any]:
    """An error as the response carries it: message, where, and `extensions.code`; internals never leave."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):  # graphql-core's own: a variable that does not
        # coerce, no operation chosen (no path: before any field ran); with a path, a field broke its type
        extensions = {"code": "BAD_USER_INPUT" if not error.path else "INTERNAL_SERVER_ERROR"}
        message = error.message
    else:
        extensions = _extensions(original)
        message = "internal error" if extensions["code"] == "INTERNAL_SERVER_ERROR" else str(original)
        if extensions["code"] == "INTERNAL_SERVER_ERROR":
            logger.exception("resolver failed", exc_info=original)
    body: dict[str, Any] = {"message": message, "extensions": extensions}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    return body


def _refusal(code: str, messages: list[str], status: int = 200) -> Response[dict[str, Any]]:
    return Response(status, "application/json", {"errors": [{"message": m, "extensions": {"code": code}}
                                                             for m in messages]})


# --- limits: depth and cost of a document, fragments followed -------------------------------------
def measure(document: DocumentNode, operation_name: str | None,
            variables: dict[str, Any] | None = None) -> tuple[int, int]:
    """(depth, cost) of the operation that would run. Depth counts nested fields; cost counts every field once,
    and a field with a `limit` argument multiplies its selection by that limit (PAGE_DEFAULT when not given, as
    the resolvers do). A fragment spread cycle is left to validation (it refuses it)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (op.name and op.name.value == operation_name)]
    if not chosen:
        return 0, 0
    op = chosen[0]

    def walk(selection_set: SelectionSetNode | None, depth: int, seen: frozenset[str]) -> tuple[int, int]:
        if selection_set is None:
            return depth, 0
        deepest, cost = depth, 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                child_depth, child_cost = walk(node.selection_set, depth + 1, seen)
                deepest, cost = max(deepest, child_depth), cost + 1 + _multiplier(node, variables) * child_cost
            elif isinstance(node, InlineFragmentNode):
                child_depth, child_cost = walk(node.selection_set, depth, seen)
                deepest, cost = max(deepest, child_depth), cost + child_cost
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments and node.name.value not in seen:
                fragment = fragments[node.name.value]
                child_depth, child_cost = walk(fragment.selection_set, depth, seen | {node.name.value})
                deepest, cost = max(deepest, child_depth), cost + child_cost
        return deepest, cost

    return walk(op.selection_set, 0, frozenset())


def _multiplier(node: FieldNode, variables: dict[str, Any] | None) -> int:
    """How many items a field's selection may run for: its `limit` argument (a literal or a variable)."""
    for argument in node.arguments or ():
        if argument.name.value == "limit":
            value: Any = getattr(argument.value, "value", None)
            if argument.value.kind == "variable":
                value = (variables or {}).get(argument.value.name.value)  # type: ignore[attr-defined]
            try:
                return max(1, min(int(value), PAGE_MAX))
            except (TypeError, ValueError):
                return PAGE_MAX
    return PAGE_DEFAULT if node.name.value in PAGED_FIELDS else 1


# --- views: records as the schema's types; URLs signed only when a client asks for them -------------
def _url(key: str | None, download_as: str | None = None) -> str | None:
    return storage.presign_get(s3, settings.bucket_name, key, settings.url_ttl_seconds, download_as=download_as)


def _number(value: Any) -> Any:
    """DynamoDB numbers (Decimal) as JSON numbers, inside any structure."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def _generation(job: dict[str, Any]) -> dict[str, Any]:
    finished = job["status"] == jobs.COMPLETE
    options = job.get("options") or {}
    return {
        "jobId": job["jobId"], "status": job["status"], "stage": job["stage"], "progress": int(job["progress"]),
        "genreOverride": options.get("genre"), "mode": options.get("mode"),
        "durationSeconds": options.get("durationSeconds"), "seed": options.get("seed"),
        "params": _number(job.get("params")) or None,
        "imageUrl": lambda *_: _url(job["imageKey"]) if job["stage"] != "upload" else None,
        "audioUrl": lambda *_: _url(job.get("audioKey")) if finished else None,
        "previewUrl": lambda *_: _url(job.get("previewKey")) if finished else None,
        "midiUrl": lambda *_: _url(job.get("midiKey")) if finished else None,
        "errorMessage": job.get("errorMessage") or jobs.upload_missed(job, clock()),
        "failedStage": job.get("failedStage"), "createdAt": job["createdAt"], "updatedAt": job["updatedAt"],
    }


def _track(track: dict[str, Any]) -> dict[str, Any]:
    ready = track["status"] == READY
    duplicate = track.get("duplicateOf") or {}
    return {
        **public_fields(track),
        "format": track.get("format"),
        "durationSeconds": float(track["durationSeconds"]) if track.get("durationSeconds") is not None else None,
        "sizeBytes": int(track["sizeBytes"]) if track.get("sizeBytes") is not None else None,
        "source": track.get("source"), "generationId": track.get("generationId"),
        "duplicateOf": duplicate.get("trackId"), "errorMessage": track.get("errorMessage"),
        "streamUrl": lambda *_: _url(track.get("mp3Key")) if ready else None,
        "downloadUrl": lambda *_: _url(track.get("originalKey"), download_as=track["fileName"]) if ready else None,
        "coverUrl": lambda *_: _url(track.get("coverKey")) if ready else None,
        "createdAt": track["createdAt"], "updatedAt": track["updatedAt"],
    }


def _transcription(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == listen_records.COMPLETE else {}
    summary, options = record.get("summary") or {}, record.get("options") or {}
    return {
        "transcriptionId": record["transcriptionId"], "status": record["status"], "stage": record["stage"],
        "progress": int(record["progress"]), "instrument": options.get("instrument"),
        "capo": int(options["capo"]) if options.get("capo") is not None else None,
        "durationSeconds": summary.get("durationSeconds"), "tempoBpm": summary.get("tempoBpm"),
        "key": _number(summary.get("key")), "noteCount": summary.get("noteCount"),
        "chordCount": summary.get("chordCount"),
        "midiUrl": lambda *_: _url(outputs.get("midiKey")), "tabUrl": lambda *_: _url(outputs.get("tabKey")),
        "resultUrl": lambda *_: _url(outputs.get("resultKey")),
        "errorMessage": record.get("errorMessage"), "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
    }


def _blend(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == blend_records.COMPLETE else {}
    summary = record.get("summary") or {}
    return {
        "blendId": record["blendId"], "status": record["status"], "stage": record["stage"],
        "progress": int(record["progress"]),
        "songs": [{"songId": s["songId"], "title": s.get("title"), "artist": s.get("artist"),
                   "weight": float(s["weight"])} for s in record.get("songs") or []],
        "options": _number(record.get("options") or {}), "key": summary.get("key"),
        "tempoBpm": summary.get("tempoBpm"), "durationSeconds": summary.get("durationSeconds"),
        "attribution": _number(summary.get("attribution")),
        "midiUrl": lambda *_: _url(outputs.get("midiKey"), download_as=f"blend-{record['blendId']}.mid"),
        "audioUrl": lambda *_: _url(outputs.get("mp3Key")),
        "errorMessage": record.get("errorMessage"), "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
    }


def _drum_map(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == drum_maps.COMPLETE else {}
    summary, source = record.get("summary") or {}, record.get("source") or {}
    return {
        "mapId": record["mapId"], "status": record["status"], "stage": record["stage"],
        "progress": int(record["progress"]), "state": record.get("state"), "songId": record.get("songId"),
        "sourceKind": source.get("kind"), "sourceId": source.get("id"), "title": source.get("title"),
        "difficulty": record.get("difficulty"), "tempoBpm": summary.get("tempoBpm"),
        "durationSeconds": summary.get("durationSeconds"), "public": bool(record.get("publicSongId")),
        "version": int(record.get("version") or 1), "mapUrl": lambda *_: _url(outputs.get("mapKey")),
        "errorMessage": record.get("errorMessage"), "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
    }


# --- resolvers: (caller, arguments) -> data, through the products' own stores ------------------------
def _id(value: str, field: str) -> str:
    if not ID_RE.fullmatch(value):
        raise BadInput(field, "must be 1-64 letters, digits, '_' or '-'")
    return value


def _owned(store: Any, user_id: str, item_id: str, field: str, what: str) -> dict[str, Any]:
    record: dict[str, Any] | None = store.get(user_id, _id(item_id, field))
    if record is None:
        raise NotFound(f"{what} {item_id} not found")
    return record


def _page(limit: int | None, cursor: str | None) -> tuple[int, str | None]:
    limit = PAGE_DEFAULT if limit is None else limit
    if not 1 <= limit <= PAGE_MAX:
        raise BadInput("limit", f"must be between 1 and {PAGE_MAX}")
    if cursor is not None and len(cursor) > 2048:
        raise BadInput("cursor", "is longer than 2048 characters")
    return limit, cursor


def _connection(store: Any, view: Callable[[dict[str, Any]], dict[str, Any]], user_id: str, limit: int | None,
                cursor: str | None, **filters: Any) -> dict[str, Any]:
    page_limit, cursor = _page(limit, cursor)
    items, next_cursor = store.list(user_id, limit=page_limit, cursor=cursor, **filters)
    return {"items": [view(item) for item in items], "nextCursor": next_cursor}


def generation_status(user_id: str, jobId: str) -> dict[str, Any]:
    view = _generation(_owned(generations, user_id, jobId, "jobId", "generation"))
    return {name: view[name] for name in ("status", "audioUrl", "imageUrl", "params", "errorMessage", "stage",
                                          "progress")}


def my_generations(user_id: str, limit: int) -> list[dict[str, Any]]:
    items, _ = generations.list(user_id, limit=_page(limit, None)[0], cursor=None)
    return [_generation(item) for item in items]


def create_generation(user_id: str, input: dict[str, Any]) -> dict[str, Any]:
    """The original design's mutation: the same rules as POST /generations, a presigned PUT instead of a form."""
    from pydantic import ValidationError

    from soundcanvas.generation import creation

    renamed = {"genreOverride": "genre"}
    body = {renamed.get(k, k): v for k, v in input.items() if v is not None and k != "sizeBytes"}
    try:
        request = creation.GenerationRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = next((k for k, v in renamed.items() if v == first["loc"][0]), str(first["loc"][0]))
        raise BadInput(f"input.{field}", str(first["msg"])) from exc
    limits = creation.UploadLimits(settings.bucket_name, settings.upload_max_bytes, settings.upload_expiry_seconds,
                                   settings.job_retention_days)
    try:
        created = creation.create_generation(user_id=user_id, request=request, s3=s3, store=generations,
                                             quotas=quotas, quota=GENERATIONS, limits=limits, clock=clock,
                                             upload="put", size_bytes=input.get("sizeBytes"))
    except creation.SizeOutOfRange as exc:
        raise BadInput("input.sizeBytes", str(exc)) from exc
    logger.append_keys(job_id=created.job["jobId"])
    metrics.add_metric(name="GenerationsCreated", unit=MetricUnit.Count, value=1)
    logger.info("generation created", extra={"options": created.job["options"], "api": "graphql"})
    return {"jobId": created.job["jobId"], "imageUploadUrl": created.put_url, "imageId": created.image_key,
            "uploadHeaders": [{"name": k, "value": v} for k, v in (created.put_headers or {}).items()],
            "maxBytes": limits.max_bytes, "expiresAt": created.expires_at, "status": created.job["status"]}


def start_generation(user_id: str, jobId: str) -> dict[str, Any]:
    """Accepted and harmless: the upload starts the workflow, so this only reports the job's state."""
    job = _owned(generations, user_id, jobId, "jobId", "generation")
    return {"success": True, "status": job["status"],
            "message": "the picture's upload starts the generation; nothing else is needed"}


def delete_generation(user_id: str, jobId: str) -> dict[str, Any]:
    job = _owned(generations, user_id, jobId, "jobId", "generation")
    generations.delete(user_id, job["jobId"])
    removed = storage.delete_job_objects(s3, settings.bucket_name, user_id, job["jobId"])
    logger.info("generation deleted", extra={"objects_removed": removed, "api": "graphql"})
    return {"success": True, "message": f"generation {jobId} deleted", "status": None}


# --- the products' own mutations: each calls the function its REST route calls, imported on first use (a query
# never loads them); their not-found and bad-input errors are translated to this API's by `_faults`
def _validated(model: type[Model], data: dict[str, Any], prefix: str = "input.") -> Model:
    """`data` as the REST route's request model; the first refusal as BAD_USER_INPUT naming the field the way
    REST does (`input.files.0.sizeBytes`), a rule over the whole input as `input`."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadInput(f"{prefix}{where}" if where else prefix.rstrip("."),
                       str(first["msg"]).removeprefix("Value error, ")) from exc


@contextmanager
def _faults(not_found: tuple[type[Exception], ...] = (), forbidden: tuple[type[Exception], ...] = (),
            conflict: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """A product's own errors as this API's: NOT_FOUND, BAD_USER_INPUT for a field its rules refuse (a FieldError,
    named under `input.`), FORBIDDEN and CONFLICT (the conflicts of the record modules imported above are CONFLICT
    in `_extensions`)."""
    try:
        yield
    except not_found as exc:
        raise NotFound(str(exc)) from exc
    except FieldError as exc:
        raise BadInput(f"input.{exc.field}", str(exc)) from exc
    except forbidden as exc:
        raise Forbidden(str(exc)) from exc
    except conflict as exc:
        raise Conflict(str(exc)) from exc


def _done(message: str) -> dict[str, Any]:
    return {"success": True, "message": message, "status": None}


@cache
def _stepfunctions() -> Any:
    return aws.create_client("stepfunctions", region_name=settings.region)


@cache
def _dynamodb() -> Any:
    return aws.create_client("dynamodb", region_name=settings.region)


def create_track_uploads(user_id: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /tracks/uploads: one single-use presigned POST form per file, the same quota."""
    from soundcanvas.library import changes

    request = _validated(changes.upload_request_model(settings.track_upload_max_bytes), input)
    limits = changes.UploadLimits(settings.bucket_name, settings.track_upload_max_bytes,
                                  settings.upload_expiry_seconds)
    items = changes.create_uploads(user_id=user_id, files=request.files, s3=s3,  # type: ignore[attr-defined]
                                   store=tracks, quotas=quotas, quota=TRACK_UPLOADS, limits=limits, clock=clock)
    metrics.add_metric(name="TrackUploadsIssued", unit=MetricUnit.Count, value=len(items))
    logger.info("upload forms issued", extra={"files": len(items), "api": "graphql"})
    return {"files": items}


def update_track(user_id: str, trackId: str, input: dict[str, Any]) -> dict[str, Any]:
    """PATCH /tracks/{trackId}: the fields given change, an explicit null clears one."""
    from soundcanvas.library import changes

    request = _validated(changes.EditRequest, input)
    with _faults(not_found=(changes.TrackNotFound,)):
        return _track(changes.edit_track(tracks, user_id, _id(trackId, "trackId"), request))


def delete_track(user_id: str, trackId: str) -> dict[str, Any]:
    """DELETE /tracks/{trackId}: the record, its objects, and (the seam to Maps) its fingerprint."""
    from soundcanvas.library import changes
    from soundcanvas.maps import fpkeys

    with _faults(not_found=(changes.TrackNotFound,)):
        removed = changes.delete_track(tracks, s3, settings.bucket_name, user_id, _id(trackId, "trackId"))
    if settings.fingerprints_table_name:
        fpkeys.delete_audio_items(_dynamodb(), settings.fingerprints_table_name, user_id, [("track", trackId)])
    logger.info("track deleted", extra={"track_id": trackId, "objects_removed": removed, "api": "graphql"})
    return _done(f"track {trackId} deleted")


@cache
def _user_settings() -> Any:
    from soundcanvas.library.tracks import UserSettingsStore

    return UserSettingsStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)


def grade_track(user_id: str, trackId: str, grade: int) -> dict[str, Any]:
    """POST /grade: one review of a READY track and its new schedule."""
    from soundcanvas.library import changes

    request = _validated(changes.GradeRequest, {"trackId": trackId, "grade": grade}, prefix="")
    with _faults(not_found=(changes.TrackNotFound,)):
        graded = changes.grade_track(tracks, _user_settings(), user_id, request, clock())
    metrics.add_metric(name="TracksGraded", unit=MetricUnit.Count, value=1)
    return {"trackId": graded["trackId"], "grade": graded["grade"], "scheduler": graded["scheduler"],
            "dueAt": graded["dueAt"], "schedule": graded}


@cache
def _listen() -> tuple[Any, Any]:
    """Listen's preferences store and what a new transcription spends (the quota and the plan's allowance)."""
    from soundcanvas.listen import creation as listen_creation
    from soundcanvas.listen.preferences import PreferencesStore

    preferences = PreferencesStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
    return preferences, listen_creation.Spending(quotas, TRANSCRIPTIONS, _allowances())


def create_transcription(user_id: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /transcriptions: an upload form (no trackId), or a READY library track (read here: the seam) copied
    and its workflow started. Options left out come from the user's Listen preferences."""
    from soundcanvas.listen import creation as listen_creation

    model = listen_creation.transcription_request_model(settings.transcription_upload_max_bytes)
    request: Any = _validated(model, {k: v for k, v in input.items() if v is not None})
    preferences, spending = _listen()
    preferred = preferences.get(user_id)["guitarTuning"]
    defaults, stale = listen_creation.default_options(preferred)
    if stale:
        logger.warning("preferred tuning no longer parses; using standard", extra={"tuning": preferred})
    options = listen_creation.options(request, defaults)
    limits = listen_creation.Limits(settings.bucket_name, settings.transcription_upload_max_bytes,
                                    settings.upload_expiry_seconds, settings.job_retention_days,
                                    settings.transcription_max_seconds)
    with _faults(not_found=(listen_creation.TranscriptionNotFound,)):
        if request.trackId is None:
            created = listen_creation.create_with_upload(user_id=user_id, content_type=request.contentType,
                                                         options=options, s3=s3, store=transcriptions,
                                                         spending=spending, limits=limits, clock=clock)
        else:
            created = listen_creation.create_from_track(
                user_id=user_id, track_id=request.trackId, track=tracks.get(user_id, request.trackId),
                options=options, s3=s3, store=transcriptions, spending=spending, limits=limits,
                stepfunctions=_stepfunctions(), state_machine_arn=settings.listen_state_machine_arn)
    metrics.add_metric(name="TranscriptionsCreated", unit=MetricUnit.Count, value=1)
    logger.info("transcription created", extra={"transcription_id": created["transcriptionId"], "options": options,
                                                "api": "graphql"})
    return {"transcriptionId": created["transcriptionId"], "status": created["status"],
            "upload": created.get("upload"), "source": created.get("source") or {"kind": "upload"}}


def delete_transcription(user_id: str, transcriptionId: str) -> dict[str, Any]:
    """DELETE /transcriptions/{transcriptionId}: the record and its files."""
    from soundcanvas.listen import creation as listen_creation

    with _faults(not_found=(listen_creation.TranscriptionNotFound,)):
        listen_creation.delete_transcription(transcriptions, s3, settings.bucket_name, user_id,
                                             _id(transcriptionId, "transcriptionId"))
    return _done(f"transcription {transcriptionId} deleted")


def retab_transcription(user_id: str, transcriptionId: str, input: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST /transcriptions/{transcriptionId}/tab: the notes placed again; PyGuitarPro loads with the first one."""
    from soundcanvas.listen import creation as listen_creation
    from soundcanvas.listen import retab

    request = _validated(retab.RetabRequest, {k: v for k, v in (input or {}).items() if v is not None})
    with _faults(not_found=(listen_creation.TranscriptionNotFound,)):
        record = listen_creation.owned_transcription(transcriptions, user_id, _id(transcriptionId, "transcriptionId"))
    done = retab.retab(store=transcriptions, s3=s3, bucket=settings.bucket_name, record=record, request=request)
    metrics.add_metric(name="TranscriptionsRetabbed", unit=MetricUnit.Count, value=1)
    logger.info("transcription re-tabbed", extra={"transcription_id": transcriptionId, "api": "graphql"})
    return {"transcriptionId": transcriptionId, "tuning": done["options"]["tuning"],
            "capo": int(done["options"]["capo"]), "tab": _number(done["tab"]),
            "tabUrl": lambda *_: _url(done["tabKey"]),
            "tabFileUrl": lambda *_: _url(done["tabFileKey"], download_as=f"{transcriptionId}.gp5")}


@cache
def _allowances() -> Any:
    """The plans' monthly allowances (transcriptions, maps), on the UsersTable and QuotasTable."""
    from soundcanvas.core.entitlements import Allowances

    return Allowances.from_settings(settings, clock=lambda: clock())


@cache
def _song_audio() -> Any:
    from soundcanvas.maps.song_audio import SongAudioStore

    return SongAudioStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint,
                          clock=lambda: clock())


def create_map(user_id: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /maps: a song with a recording, or a READY library track (read here: the seam), mapped; the map
    quota and the plan's allowance; a PENDING map and its workflow started."""
    from soundcanvas.maps import creation as map_creation

    request = _validated(map_creation.MapRequest, {k: v for k, v in input.items() if v is not None})
    spending = map_creation.Spending(quotas, MAPS, _allowances())
    map_id = map_creation.new_map_id()
    with _faults(not_found=(map_creation.MapNotFound,)):
        if request.trackId is not None:
            source = map_creation.track_source(user_id=user_id, track_id=request.trackId,
                                               track=tracks.get(user_id, request.trackId), map_id=map_id, s3=s3,
                                               bucket=settings.bucket_name, max_seconds=settings.map_max_seconds)
        else:
            source = map_creation.song_source(_song_audio(), user_id, str(request.songId))
        created = map_creation.create_map(user_id=user_id, map_id=map_id, source=source,
                                          difficulty=request.difficulty, s3=s3, bucket=settings.bucket_name,
                                          store=maps, spending=spending, stepfunctions=_stepfunctions(),
                                          state_machine_arn=settings.map_state_machine_arn)
    metrics.add_metric(name="MapsCreated", unit=MetricUnit.Count, value=1)
    logger.info("map created", extra={"map_id": map_id, "source": source["kind"], "api": "graphql"})
    return {"mapId": created["mapId"], "status": created["status"], "sourceKind": created["source"]["kind"],
            "sourceId": created["source"]["id"]}


def delete_map(user_id: str, mapId: str) -> dict[str, Any]:
    """DELETE /maps/{mapId}: the caller's own map and its files, unless the community has it (CONFLICT)."""
    from soundcanvas.maps import creation as map_creation

    with _faults(not_found=(map_creation.MapNotFound,)):
        map_creation.delete_map(maps, s3, settings.bucket_name, user_id, _id(mapId, "mapId"))
    return _done(f"map {mapId} deleted")


@cache
def _songs() -> Any:
    from soundcanvas.blend.songs import SongStore

    return SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())


def create_blend(user_id: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /blends: the songs checked, the blends quota, a PENDING blend and its workflow started."""
    from soundcanvas.blend import creation as blend_creation

    request = _validated(blend_creation.BlendRequest, {k: v for k, v in input.items() if v is not None})
    with _faults(not_found=(blend_creation.BlendNotFound,)):
        created = blend_creation.create_blend(user_id=user_id, request=request, catalog=_songs(), store=blends,
                                              quotas=quotas, quota=BLENDS, stepfunctions=_stepfunctions(),
                                              state_machine_arn=settings.blend_state_machine_arn)
    metrics.add_metric(name="BlendsCreated", unit=MetricUnit.Count, value=1)
    logger.info("blend created", extra={"blend_id": created["blendId"], "options": created["options"],
                                        "api": "graphql"})
    return {"blendId": created["blendId"], "status": created["status"], "options": created["options"]}


def delete_blend(user_id: str, blendId: str) -> dict[str, Any]:
    """DELETE /blends/{blendId}: the record and its files."""
    from soundcanvas.blend import creation as blend_creation

    with _faults(not_found=(blend_creation.BlendNotFound,)):
        blend_creation.delete_blend(blends, s3, settings.bucket_name, user_id, _id(blendId, "blendId"))
    return _done(f"blend {blendId} deleted")


@cache
def _community() -> tuple[Any, Any, Any]:
    """The community's karma and edit stores (CommunityTable) and the notifier that tells authors, made on first use."""
    from soundcanvas.core.notifications import Notifier
    from soundcanvas.maps.edits import EditStore
    from soundcanvas.maps.karma import KarmaStore

    host = settings.dynamodb_endpoint
    karma_store = KarmaStore(settings.community_table_name, settings.region, host=host, clock=lambda: clock())
    store = EditStore(settings.community_table_name, settings.region, maps=maps, karma_store=karma_store, s3=s3,
                      bucket=settings.bucket_name, host=host, clock=lambda: clock())
    return karma_store, store, Notifier.from_settings(settings, clock=lambda: clock(), metrics=metrics, aws=aws)


def _standing(user_id: str) -> Any:
    """The caller's community standing (karma, account age, the token's groups), as the community API reads it;
    their token's address is kept for the e-mails a decision sends them later."""
    karma_store, _, notifier = _community()
    notifier.remember_email(user_id, api.caller_email(app))
    return karma_store.standing(user_id, api.caller_groups(app))


def _community_faults() -> Any:
    from soundcanvas.maps import edits

    return _faults(not_found=(edits.EditNotFound,), forbidden=(edits.EditForbidden,), conflict=(edits.EditConflict,))


def propose_map_edit(user_id: str, mapId: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /maps/{mapId}/edits: a pending edit of a map the caller can see, within the role's daily limit."""
    from soundcanvas.maps import proposals

    request = _validated(proposals.EditRequest, {k: v for k, v in input.items() if v is not None})
    standing = _standing(user_id)
    record = maps.visible(user_id, _id(mapId, "mapId"))
    if record is None:
        raise NotFound(f"map {mapId} not found")
    _, store, _ = _community()
    with _community_faults():
        edit = proposals.propose(store=store, quotas=quotas, standing=standing, record=record, now=clock(),
                                 base_version=request.baseVersion, operations=[op.as_rfc6902() for op in request.patch],
                                 comment=request.comment)
    metrics.add_metric(name="MapEditsProposed", unit=MetricUnit.Count, value=1)
    logger.info("edit proposed", extra={"edit_id": edit["editId"], "map_id": mapId, "api": "graphql"})
    return {"editId": edit["editId"], "state": edit["state"], "diff": _number(edit["diff"])}


def vote_on_edit(user_id: str, editId: str, input: dict[str, Any]) -> dict[str, Any]:
    """POST /edits/{editId}/votes: approve or reject (verifiers and above; not your own edit; once)."""
    from soundcanvas.maps import proposals

    request = _validated(proposals.VoteRequest, {k: v for k, v in input.items() if v is not None})
    standing = _standing(user_id)
    _, store, notifier = _community()
    with _community_faults():
        decided = proposals.vote(store=store, quotas=quotas, notifier=notifier, standing=standing,
                                 edit_id=_id(editId, "editId"), decision=request.decision, reason=request.reason)
    metrics.add_metric(name="MapEditVotes", unit=MetricUnit.Count, value=1)
    if decided.outcome:
        metrics.add_metric(name=f"MapEdits{decided.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("edit voted", extra={"edit_id": editId, "outcome": decided.outcome, "api": "graphql"})
    edit = decided.edit
    return {"editId": editId, "decision": request.decision, "state": edit["state"],
            "approvals": int(edit["approvals"]), "rejections": int(edit["rejections"]),
            "appliedVersion": int(edit["appliedVersion"]) if edit.get("appliedVersion") is not None else None}


def drum_map(user_id: str, mapId: str) -> dict[str, Any]:
    """The caller's own map or anyone's public one (the rule of GET /maps/{mapId}: MapStore.visible)."""
    record = maps.visible(user_id, _id(mapId, "mapId"))
    if record is None:
        raise NotFound(f"map {mapId} not found")
    return _drum_map(record)


ROOT: dict[str, dict[str, Callable[..., Any]]] = {
    "Query": {
        "generationStatus": generation_status,
        "myGenerations": my_generations,
        "generation": lambda u, jobId: _generation(_owned(generations, u, jobId, "jobId", "generation")),
        "generations": lambda u, limit=None, cursor=None: _connection(generations, _generation, u, limit, cursor),
        "track": lambda u, trackId: _track(_owned(tracks, u, trackId, "trackId", "track")),
        "tracks": lambda u, limit=None, cursor=None, artist=None, q=None, duplicates=False: _connection(
            tracks, _track, u, limit, cursor, artist=artist, q=q, duplicates=bool(duplicates)),
        "transcription": lambda u, transcriptionId: _transcription(
            _owned(transcriptions, u, transcriptionId, "transcriptionId", "transcription")),
        "transcriptions": lambda u, limit=None, cursor=None: _connection(transcriptions, _transcription, u, limit,
                                                                         cursor),
        "blend": lambda u, blendId: _blend(_owned(blends, u, blendId, "blendId", "blend")),
        "blends": lambda u, limit=None, cursor=None: _connection(blends, _blend, u, limit, cursor),
        "map": drum_map,
        "maps": lambda u, limit=None, cursor=None: _connection(maps, _drum_map, u, limit, cursor),
    },
    "Mutation": {
        "createGeneration": create_generation,
        "startGeneration": start_generation,
        "deleteGeneration": delete_generation,
        "createTranscription": create_transcription,
        "deleteTranscription": delete_transcription,
        "retabTranscription": retab_transcription,
        "createTrackUploads": create_track_uploads,
        "updateTrack": update_track,
        "deleteTrack": delete_track,
        "gradeTrack": grade_track,
        "createBlend": create_blend,
        "deleteBlend": delete_blend,
        "createMap": create_map,
        "deleteMap": delete_map,
        "proposeMapEdit": propose_map_edit,
        "voteOnEdit": vote_on_edit,
    },
}
PAGED_FIELDS = frozenset({"myGenerations", "generations", "tracks", "transcriptions", "blends", "maps"})


def _field_resolver(value: Any, info: Any, **args: Any) -> Any:
    """Dict keys as fields; a callable value (a URL to sign) is called only when the client asks for it."""
    found = value.get(info.field_name) if isinstance(value, dict) else getattr(value, info.field_name, None)
    return found(value, info) if callable(found) else found


@cache
def schema() -> GraphQLSchema:
    """schema.graphql with the root resolvers attached; each receives the caller and the field's arguments.

    The SDL is not validated again here (a third of the build): the unit tests build it with full validation and
    compare it with what this function serves, so a file that is not a valid schema never ships."""
    built = build_schema(SCHEMA_FILE.read_text(), assume_valid_sdl=True, no_location=True)
    for type_name, fields in ROOT.items():
        gql_type = built.get_type(type_name)
        for name, resolve in fields.items():
            gql_type.fields[name].resolve = (  # type: ignore[union-attr]
                lambda _root, info, _fn=resolve, **args: _fn(info.context["user_id"], **args))
    return built


schema()  # built at import: in the cold start, measured in docs/clients.md


# --- the route -------------------------------------------------------------------------------------
@app.post("/graphql")
def graphql_endpoint() -> Response[dict[str, Any]]:
    """Run a GraphQL document (schema: functions/core/graphql_api/schema.graphql, docs/clients.md#graphql).
    200 with `data` and `errors` once it runs, 200 with `errors` alone when the document is refused (parse,
    validation, depth, cost: nothing ran)."""
    if api.sent_as_another_type(app):  # refused before it is parsed (api.resolve checked only JSON bodies' size)
        raise RequestUnsupportedContentType(api.NOT_JSON, errors=[])
    try:
        payload = app.current_event.json_body
    except ValueError as exc:
        raise FieldError("body", "is not valid JSON") from exc
    body = read_request(payload)
    try:
        user_id = api.caller(app)
    except UnauthorizedError as exc:
        return _refusal("UNAUTHENTICATED", [str(exc)], status=401)
    try:
        document = parse(body.query, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        return _refusal(PARSE_FAILED, [exc.message])
    depth, cost = measure(document, body.operationName, body.variables)
    if depth > MAX_DEPTH:
        return _refusal("QUERY_TOO_DEEP", [f"the query is {depth} fields deep; the limit is {MAX_DEPTH}"])
    if cost > MAX_COST:
        return _refusal("QUERY_TOO_COSTLY", [f"the query costs {cost}; the limit is {MAX_COST} (every field "
                                                  "1, a list's fields times its limit)"])
    problems = validate(schema(), document)
    if problems:
        return _refusal(VALIDATION_FAILED, [p.message for p in problems])
    result = execute(schema(), document, variable_values=body.variables, operation_name=body.operationName,
                     context_value={"user_id": user_id}, field_resolver=_field_resolver)
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [_error(error) for error in result.errors]
        metrics.add_metric(name="GraphQLErrors", unit=MetricUnit.Count, value=len(result.errors))
    logger.info("graphql answered", extra={"operation": body.operationName, "depth": depth, "cost": cost,
                                           "errors": [e["extensions"]["code"] for e in answer.get("errors", [])]})
    return Response(200, "application/json", answer)


api.install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
