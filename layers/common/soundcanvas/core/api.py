"""What every API function shares: who the caller is, and errors mapped to JSON in one place.

Each API function has one Powertools resolver; `install_error_handlers` gives it the same
answers for the same mistakes: 400 naming the field, 404 for anything the caller does not own,
409 for a state conflict, 415 for a body that is not JSON, 429 with Retry-After over a quota.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from soundcanvas.core import cursors
from soundcanvas.core.quotas import QuotaExceeded

NOT_JSON = "send the request body as JSON with the header Content-Type: application/json"


def resolver() -> APIGatewayRestResolver:
    """A resolver with request validation and the API's CORS answer."""
    return APIGatewayRestResolver(
        enable_validation=True,
        cors=CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"], max_age=600),
    )


def caller(app: APIGatewayRestResolver) -> str:
    """The user the API's token authorizer let through: its `principalId`, the ID token's `sub`."""
    authorizer = app.current_event.request_context.authorizer
    user_id = authorizer.principal_id if authorizer else None
    if not user_id:
        raise UnauthorizedError("no authenticated user")
    return str(user_id)


def error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, "application/json", json.dumps({"message": message, **extra}))


def field_error(status: int, field: str, message: str) -> Response:
    return error(status, f"invalid request: {field}: {message}", errors=[{"field": field, "message": message}])


def install_error_handlers(
    app: APIGatewayRestResolver,
    *,
    not_found: tuple[type[Exception], ...] = (),
    conflict: tuple[type[Exception], ...] = (),
) -> None:
    """Map validation errors, bad cursors, missing resources and conflicts to JSON responses."""

    def body_is_not_json() -> bool:
        event = app.current_event
        content_type = event.headers.get("content-type") or ""  # Powertools' headers are case-insensitive
        media_type = content_type.split(";")[0].strip().lower()
        return bool(event.body) and bool(media_type) and not media_type.endswith("json")

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(exc: RequestUnsupportedContentType | None = None) -> Response:
        return error(415, NOT_JSON, errors=[{"field": "Content-Type", "message": NOT_JSON}])

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        if body_is_not_json():  # e.g. curl -d without the header: the body was read as a form
            return unsupported_content_type()
        errors = []
        for err in exc.errors():
            loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
            field = ".".join(loc) or "body"
            if err.get("type") == "json_invalid":
                field, text = "body", "is not valid JSON"
            else:
                text = err.get("msg", "is invalid")
            errors.append({"field": field, "message": text})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return error(400, f"invalid request: {summary}", errors=errors)

    @app.exception_handler(ValueError)
    def unreadable_body(exc: ValueError) -> Response:
        # Powertools' validation raises a bare ValueError for a body it cannot parse under its declared
        # type (multipart/form-data without a boundary, for instance): the client's mistake, not ours.
        if body_is_not_json():
            return unsupported_content_type()
        raise exc

    @app.exception_handler(cursors.InvalidCursor)
    def bad_cursor(exc: cursors.InvalidCursor) -> Response:
        return field_error(400, "cursor", str(exc))

    @app.exception_handler(QuotaExceeded)
    def over_quota(exc: QuotaExceeded) -> Response:
        body = json.dumps({"message": str(exc), "retryAfterSeconds": exc.retry_after})
        return Response(429, "application/json", body, headers={"Retry-After": str(exc.retry_after)})

    def missing(exc: Exception) -> Response:
        return error(404, str(exc))

    def conflicting(exc: Exception) -> Response:
        return error(409, str(exc))

    if not_found:
        app.exception_handler(list(not_found))(missing)
    if conflict:
        app.exception_handler(list(conflict))(conflicting)

    @app.not_found
    def no_route(exc: NotFoundError) -> Response:
        return error(404, "no such route")
