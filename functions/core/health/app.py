"""GET /health: a liveness answer with no AWS calls, for load balancers and uptime checks;
GET /health/ready: readiness, for deploy gates and monitors: every environment variable the stack's functions need
is set, and every table (DescribeTable) and the bucket (HeadBucket) answer; 200, or 503 naming what failed;
GET /health/detailed: every table, the bucket and every state machine (DescribeStateMachine), each with its status
and latency, the overall status and the version; and
GET /openapi.json: the API's OpenAPI document, generated from the code by tools/openapi.py.

The two check routes import botocore on their first call only, so /health's cold start stays free of it. Their checks
run at once on a small thread pool, each call with short timeouts and at most one retry, all of them within a
deadline. Answers name resources by their logical ids in template.yaml and give a short reason for a failure; the
physical names, ARNs and the exception go to the log only.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=600))  # uptime pages in browsers
VERSION = os.environ.get("SOUNDCANVAS_VERSION", "dev")
OPENAPI = (Path(__file__).parent / "openapi.json").read_text()

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 2.0
MAX_ATTEMPTS = 2  # the first try and one retry
DEADLINE_SECONDS = 5.0  # for all the checks together; one not answered by then has failed
WORKERS = 8
JSON = "application/json"


@dataclass(frozen=True)
class Dependency:
    """A resource of template.yaml a function needs: its logical id, its kind, the variable naming it."""

    name: str
    kind: str  # "table" | "bucket" | "stateMachine"
    variable: str


DEPENDENCIES = (
    Dependency("GenerationsTable", "table", "TABLE_NAME"),
    Dependency("TracksTable", "table", "TRACKS_TABLE_NAME"),
    Dependency("UsersTable", "table", "USERS_TABLE_NAME"),
    Dependency("QuotasTable", "table", "QUOTAS_TABLE_NAME"),
    Dependency("TranscriptionsTable", "table", "TRANSCRIPTIONS_TABLE_NAME"),
    Dependency("SongsTable", "table", "SONGS_TABLE_NAME"),
    Dependency("BlendsTable", "table", "BLENDS_TABLE_NAME"),
    Dependency("MapsTable", "table", "MAPS_TABLE_NAME"),
    Dependency("FingerprintsTable", "table", "FINGERPRINTS_TABLE_NAME"),
    Dependency("NotificationsTable", "table", "NOTIFICATIONS_TABLE_NAME"),
    Dependency("BillingTable", "table", "BILLING_TABLE_NAME"),
    Dependency("CommunityTable", "table", "COMMUNITY_TABLE_NAME"),
    Dependency("ConnectionsTable", "table", "CONNECTIONS_TABLE_NAME"),
    Dependency("MediaBucket", "bucket", "BUCKET_NAME"),
    Dependency("GenerationStateMachine", "stateMachine", "GENERATION_STATE_MACHINE_ARN"),
    Dependency("TrackStateMachine", "stateMachine", "TRACK_STATE_MACHINE_ARN"),
    Dependency("ListenStateMachine", "stateMachine", "LISTEN_STATE_MACHINE_ARN"),
    Dependency("SongStateMachine", "stateMachine", "SONG_STATE_MACHINE_ARN"),
    Dependency("BlendStateMachine", "stateMachine", "BLEND_STATE_MACHINE_ARN"),
    Dependency("MapStateMachine", "stateMachine", "MAP_STATE_MACHINE_ARN"),
    Dependency("SongAudioStateMachine", "stateMachine", "SONG_AUDIO_STATE_MACHINE_ARN"),
)
SERVICES = {"table": "dynamodb", "bucket": "s3", "stateMachine": "stepfunctions"}


class NotReady(Exception):
    """A resource answered, but is not in a state to serve (a table being created, a state machine being deleted)."""


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "service": "soundcanvas", "version": VERSION}


@app.get(
    "/health/ready",
    summary="Readiness: configuration present, tables and bucket reachable",
    description='200 `{status: "ready", checks}`, or 503 `{status: "not-ready", message, checks}` naming each '
    "failed check (`configuration` or a resource's logical name) with a short reason.",
    responses={200: {"description": "Ready"}, 503: {"description": "Not ready: the failed checks, each with a reason"}},
)
def ready() -> Response[dict[str, Any]]:
    missing = [d.variable for d in DEPENDENCIES if not os.environ.get(d.variable)]
    checks: dict[str, dict[str, Any]] = {
        "configuration": {"status": "error", "reason": f"missing environment variables: {', '.join(missing)}"}
        if missing
        else {"status": "ok"}
    }
    checks.update(run_checks([d for d in DEPENDENCIES if d.kind in ("table", "bucket")]))
    failed = [name for name, check in checks.items() if check["status"] != "ok"]
    if failed:
        return Response(
            503, JSON, {"status": "not-ready", "message": f"not ready: {', '.join(failed)} failed", "checks": checks}
        )
    return Response(200, JSON, {"status": "ready", "checks": checks})


@app.get(
    "/health/detailed",
    summary="Every table, the bucket and every state machine, each with its status and latency",
    description='`{status: "ok" | "degraded", service, version, elapsedMs, checks}`; each check is '
    '`{kind, status: "ok" | "error", latencyMs, reason?}`. 503 when any check failed.',
    responses={200: {"description": "Every dependency answered"}, 503: {"description": "Some dependency failed"}},
)
def detailed() -> Response[dict[str, Any]]:
    started = time.perf_counter()
    checks = run_checks(list(DEPENDENCIES))
    failed = [name for name, check in checks.items() if check["status"] != "ok"]
    body: dict[str, Any] = {
        "status": "degraded" if failed else "ok",
        "service": "soundcanvas",
        "version": VERSION,
        "elapsedMs": _ms(started),
        "checks": checks,
    }
    if failed:
        body["message"] = f"degraded: {', '.join(failed)} failed"
        return Response(503, JSON, body)
    return Response(200, JSON, body)


@app.get("/openapi.json")
def openapi() -> Response[str]:
    return Response(200, "application/json", OPENAPI)


# ---------------------------------------------------------------------------------------------- the checks
_clients: dict[str, Any] = {}  # service -> botocore client, made on the first check and kept while warm
_clients_lock = threading.Lock()


@cache
def _session() -> Any:
    """One botocore session for the checks' clients: they share the endpoint data it loads once."""
    import botocore.session  # here, not at the top: /health's cold start stays free of botocore

    return botocore.session.Session()


def _client(service: str) -> Any:
    with _clients_lock:
        if service not in _clients:
            from botocore.config import Config

            config = Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            )
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            _clients[service] = _session().create_client(service, region_name=region, config=config)
        return _clients[service]


def run_checks(dependencies: list[Dependency]) -> dict[str, dict[str, Any]]:
    """Each dependency's {kind, status, latencyMs, reason?}, by logical id, in the order given."""
    results: dict[str, dict[str, Any]] = {}
    to_run: list[tuple[Dependency, str]] = []
    for dependency in dependencies:
        identifier = os.environ.get(dependency.variable)
        if identifier:
            to_run.append((dependency, identifier))
        else:
            results[dependency.name] = {
                "kind": dependency.kind,
                "status": "error",
                "reason": f"not configured ({dependency.variable} is not set)",
            }
    if to_run:
        for service in {SERVICES[d.kind] for d, _ in to_run}:
            try:  # made here, one at a time (making clients is not thread-safe), so latencies are the calls' own
                _client(service)
            except Exception:  # each of its checks tries again, and reports the failure
                logger.warning("health check client could not be made", extra={"service": service}, exc_info=True)
        pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(to_run)), thread_name_prefix="health")
        started = time.perf_counter()
        futures: dict[Future[dict[str, Any]], Dependency] = {pool.submit(_check, d, i): d for d, i in to_run}
        wait(futures, timeout=DEADLINE_SECONDS)
        pool.shutdown(wait=False, cancel_futures=True)  # a call still running is left to its own timeouts
        for future, dependency in futures.items():
            if future.done() and not future.cancelled():
                results[dependency.name] = future.result()
            else:
                logger.warning("health check did not answer in time", extra={"check": dependency.name})
                results[dependency.name] = {
                    "kind": dependency.kind,
                    "status": "error",
                    "latencyMs": _ms(started),
                    "reason": f"no answer within {DEADLINE_SECONDS:g} s",
                }
    return {d.name: results[d.name] for d in dependencies}


def _check(dependency: Dependency, identifier: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        _probe(dependency, identifier)
    except Exception as exc:  # every failure is an answer; the details go to the log, not to the caller
        logger.warning("health check failed", extra={"check": dependency.name}, exc_info=True)
        return {"kind": dependency.kind, "status": "error", "latencyMs": _ms(started), "reason": _reason(exc)}
    return {"kind": dependency.kind, "status": "ok", "latencyMs": _ms(started)}


def _probe(dependency: Dependency, identifier: str) -> None:
    client = _client(SERVICES[dependency.kind])
    if dependency.kind == "table":
        status = client.describe_table(TableName=identifier)["Table"].get("TableStatus", "ACTIVE")
        if status not in ("ACTIVE", "UPDATING"):
            raise NotReady(f"table is {status}")
    elif dependency.kind == "bucket":
        client.head_bucket(Bucket=identifier)
    else:
        status = client.describe_state_machine(stateMachineArn=identifier).get("status", "ACTIVE")
        if status != "ACTIVE":
            raise NotReady(f"state machine is {status}")


def _reason(exc: Exception) -> str:
    """A short reason for a failed check that names nothing of the account: no resource name, ARN or message text."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(exc, NotReady):
        return str(exc)
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("ResourceNotFoundException", "StateMachineDoesNotExist", "NoSuchBucket", "404", "NotFound"):
            return "not found"
        if code in ("AccessDenied", "AccessDeniedException", "403", "Forbidden", "UnauthorizedOperation"):
            return "access denied"
        return f"error {code}" if code.isidentifier() or code.isdigit() else "error"
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "timed out"
    if isinstance(exc, EndpointConnectionError):
        return "unreachable"
    if isinstance(exc, NoCredentialsError):
        return "no credentials"
    if isinstance(exc, NoRegionError):
        return "no region configured"
    return f"unexpected error ({type(exc).__name__})"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
