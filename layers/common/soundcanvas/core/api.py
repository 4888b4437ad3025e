"""What every API function shares: who the caller is, and errors mapped to JSON in one place.

Each API function has one Powertools resolver; `install_error_handlers` gives it the same
answers for the same mistakes: 400 naming the field, 404 for anything the caller does not own,
409 for a state conflict, 415 for a body that is not JSON, 429 with Retry-After over a quota.
`resolve` is every API handler's one line: it refuses a JSON body that is too large, too deep or
holds an absurd number before anything parses it (413 or 400), then lets the resolver answer.
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

from soundcanvas.core import cursors, inputs
from soundcanvas.core.quotas import QuotaExceeded

NOT_JSON = "send the request body as JSON with the header Content-Type: application/json"
CORS_ORIGIN = "*"


def resolver(*, validation: bool = True) -> APIGatewayRestResolver:
    """A resolver with the API's CORS answer and, unless `validation` is False, request validation: the routes'
    pydantic models check bodies and parameters (a function whose routes read their own input can leave pydantic
    out of its cold start)."""
    return APIGatewayRestResolver(
        enable_validation=validation,
        cors=CORSConfig(allow_origin=CORS_ORIGIN, allow_headers=["Authorization", "Content-Type"], max_age=600),
    )


def caller(app: APIGatewayRestResolver) -> str:
    """The user the API's token authorizer let through: its `principalId`, the ID token's `sub`."""
    authorizer = app.current_event.request_context.authorizer
    user_id = authorizer.principal_id if authorizer else None
    if not user_id:
        raise UnauthorizedError("no authenticated user")
    return str(user_id)


def _authorizer_context(app: APIGatewayRestResolver) -> dict[str, Any]:
    authorizer = app.current_event.request_context.authorizer
    return dict(authorizer.get_context()) if authorizer else {}


def caller_email(app: APIGatewayRestResolver) -> str | None:
    """The caller's verified e-mail address (the ID token's `email` claim, passed on by the token authorizer),
    or None when the token has none."""
    email = _authorizer_context(app).get("email")
    return str(email) if email else None


def caller_groups(app: APIGatewayRestResolver) -> frozenset[str]:
    """The caller's user pool groups (the ID token's `cognito:groups`, which the authorizer joins with ",")."""
    groups = str(_authorizer_context(app).get("groups") or "")
    return frozenset(group for group in groups.split(",") if group)


def resolve(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer an API Gateway event: bodies checked for size, depth and numbers first, then the routes."""
    content_type = _header(event, "content-type")
    body = event.get("body")
    if body and not event.get("isBase64Encoded") and is_json_type(content_type):
        problem = inputs.json_body_problem(body)
        if problem is not None:
            status, message = problem
            return {
                "statusCode": status,
                "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": CORS_ORIGIN},
                "body": json.dumps({"message": message, "errors": [{"field": "body", "message": message}]}),
                "isBase64Encoded": False,
            }
    return app.resolve(event, context)


def _header(event: dict[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name), "")


def is_json_type(content_type: str) -> bool:
    """A body the API would parse as JSON: declared JSON, or sent with no type at all."""
    media_type = content_type.split(";")[0].strip().lower()
    return not media_type or media_type.endswith("json")


def sent_as_another_type(app: APIGatewayRestResolver) -> bool:
    """The request has a body declared as something other than JSON (a form, text): the API answers 415."""
    event = app.current_event
    return bool(event.body) and not is_json_type(event.headers.get("content-type") or "")  # headers: any case


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
    """Map validation errors, bad cursors, a field the rules refuse, missing resources and conflicts to JSON responses."""

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(exc: RequestUnsupportedContentType | None = None) -> Response:
        return error(415, NOT_JSON, errors=[{"field": "Content-Type", "message": NOT_JSON}])

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        if sent_as_another_type(app):  # e.g. curl -d without the header: the body was read as a form
            return unsupported_content_type()
        repeated = {name for name, values in (app.current_event.multi_value_query_string_parameters or {}).items()
                    if len(values or ()) > 1}
        errors = []
        for err in exc.errors():
            where = err.get("loc", ())
            loc = [str(part) for part in where if part not in ("body", "query", "path")]
            field = ".".join(loc) or "body"
            if err.get("type") == "json_invalid":
                field, text = "body", "is not valid JSON"
            elif where[:1] == ("query",) and field in repeated:
                text = "is given more than once; give it once"
            else:
                text = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            if {"field": field, "message": text} not in errors:
                errors.append({"field": field, "message": text})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return error(400, f"invalid request: {summary}", errors=errors)

    @app.exception_handler(ValueError)
    def unreadable_body(exc: ValueError) -> Response:
        # Powertools' validation raises a bare ValueError for a body it cannot parse under its declared
        # type (multipart/form-data without a boundary, for instance): the client's mistake, not ours.
        if sent_as_another_type(app):
            return unsupported_content_type()
        raise exc

    @app.exception_handler(cursors.InvalidCursor)
    def bad_cursor(exc: cursors.InvalidCursor) -> Response:
        return field_error(400, "cursor", str(exc))

    @app.exception_handler(inputs.FieldError)
    def refused_field(exc: inputs.FieldError) -> Response:
        return field_error(400, exc.field, str(exc))

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
