"""WebSocket API: live progress of the caller's work (docs/clients.md#live-progress-websocket).

Routes (API Gateway picks one by the message's `action`, RouteSelectionExpression `$request.body.action`):

- `$connect` (`wss://.../v1?token=<ID token>`): the token is verified with the REST authorizer's own check
  (soundcanvas.core.tokens); a missing or bad token is refused with 401 and no connection is made. An
  accepted connection is remembered with its user (soundcanvas.core.live.ConnectionStore, with a TTL).
- `$disconnect`: the connection and its subscriptions are forgotten.
- `subscribe` `{action, kind: generation|track|transcription|blend|map, id}`: only the caller's own record
  (it must exist and be theirs); the answer is the record's current state, and every later stage change is
  pushed by the code that writes the record (soundcanvas.core.live.Publisher).
- `unsubscribe` `{action, kind, id}`: nothing more of that record is pushed.
- `$default` (any other message): an error message naming what is accepted.

Answers to messages go back on the socket (the routes have a route response): `{"action": "subscribed", kind,
id, status, stage, progress, at}`, `{"action": "unsubscribed", kind, id}` or `{"action": "error", "error":
BAD_REQUEST | NOT_FOUND | TOO_MANY_SUBSCRIPTIONS | GONE, "message"}`.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from soundcanvas.core import live
from soundcanvas.core.settings import Settings
from soundcanvas.core.tokens import REJECTED, TokenVerifier

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("CONNECTIONS_TABLE_NAME", "TRACKS_TABLE_NAME", "TRANSCRIPTIONS_TABLE_NAME",
                                   "BLENDS_TABLE_NAME", "MAPS_TABLE_NAME", "TOKEN_ISSUER", "TOKEN_AUDIENCE"))
clock = time.time  # the local stack sets its own clock here
verifier = TokenVerifier.from_env()
connections = live.ConnectionStore(settings.connections_table_name, settings.region,
                                   host=settings.dynamodb_endpoint, clock=lambda: clock())
dynamodb = aws.create_client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint)
TABLES = {"generation": settings.table_name, "track": settings.tracks_table_name,
          "transcription": settings.transcriptions_table_name, "blend": settings.blends_table_name,
          "map": settings.maps_table_name}
MAX_MESSAGE_BYTES = 4096  # a subscribe is under 150 bytes


class Subscription(BaseModel):
    """A subscribe or unsubscribe message."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["subscribe", "unsubscribe"]
    kind: Literal["generation", "track", "transcription", "blend", "map"]
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def _reply(payload: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps(payload, separators=(",", ":"))}


def _error(code: str, message: str) -> dict[str, Any]:
    return _reply({"action": "error", "error": code, "message": message})


def connect(event: dict[str, Any]) -> dict[str, Any]:
    """Accept the connection only with a valid ID token in the `token` query parameter."""
    token = str((event.get("queryStringParameters") or {}).get("token") or "").strip()
    if not token:
        metrics.add_metric(name="WebSocketRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 401, "body": "Unauthorized"}
    try:
        claims = verifier.verify(token)
    except REJECTED as exc:
        logger.info("rejected token", extra={"reason": type(exc).__name__})
        metrics.add_metric(name="WebSocketRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 401, "body": "Unauthorized"}
    connections.connect(event["requestContext"]["connectionId"], str(claims["sub"]))
    return {"statusCode": 200}


def disconnect(event: dict[str, Any]) -> dict[str, Any]:
    connections.disconnect(event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def _parse(event: dict[str, Any]) -> Subscription | dict[str, Any]:
    """The message as a Subscription, or the error answer naming what is wrong."""
    body = event.get("body") or ""
    if len(body) > MAX_MESSAGE_BYTES:
        return _error("BAD_REQUEST", f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        return Subscription.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        return _error("BAD_REQUEST", f"invalid message: {field}: {first['msg']}")


def subscribe(event: dict[str, Any]) -> dict[str, Any]:
    """Listen to one of the caller's records; answers with its current state."""
    connection_id = event["requestContext"]["connectionId"]
    request = _parse(event)
    if not isinstance(request, Subscription):
        return request
    user_id = connections.owner(connection_id)
    if user_id is None:
        return _error("GONE", "this connection is closed; connect again")
    state = live.current_state(dynamodb, TABLES[request.kind], request.kind, user_id, request.id, clock())
    if state is None:  # someone else's record answers exactly as one that does not exist
        return _error("NOT_FOUND", f"no {request.kind} {request.id} of yours")
    try:
        connections.subscribe(connection_id, user_id, request.kind, request.id)
    except live.TooManySubscriptions as exc:
        return _error("TOO_MANY_SUBSCRIPTIONS", str(exc))
    except live.ConnectionGone:
        return _error("GONE", "this connection is closed; connect again")
    return _reply({"action": "subscribed", **state})


def unsubscribe(event: dict[str, Any]) -> dict[str, Any]:
    """Stop listening to a record."""
    connection_id = event["requestContext"]["connectionId"]
    request = _parse(event)
    if not isinstance(request, Subscription):
        return request
    user_id = connections.owner(connection_id)
    if user_id is not None:
        connections.unsubscribe(connection_id, user_id, request.kind, request.id)
    return _reply({"action": "unsubscribed", "kind": request.kind, "id": request.id})


def default(event: dict[str, Any]) -> dict[str, Any]:
    return _error("BAD_REQUEST", 'unknown action: send {"action": "subscribe" | "unsubscribe", "kind", "id"}')


ROUTES = {"$connect": connect, "$disconnect": disconnect, "subscribe": subscribe, "unsubscribe": unsubscribe,
          "$default": default}


@logger.inject_lambda_context(log_event=False)  # a $connect event holds the token: never logged
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return ROUTES.get(str(event["requestContext"].get("routeKey")), default)(event)
