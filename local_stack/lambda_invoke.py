"""Lambda's `Invoke` API for the local stack, answered by the in-process handlers.

Step Functions calls a Task state's function through this API (moto's ASL engine sends a real
`Invoke` to the local endpoint), so the answer has Lambda's shape, error cases included: a handler
that raises gives HTTP 200 with ``X-Amz-Function-Error: Unhandled`` and the Python runtime's error
document, whose ``errorType`` (the exception's class name) is the error name ASL ``Retry`` and
``Catch`` match, as on AWS.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("local_stack.lambda")

Handler = Callable[[Any], Any]
# POST /2015-03-31/functions/{FunctionName}/invocations; the name may be a full or partial ARN.
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_FUNCTION_NAME = re.compile(
    r"^(?:arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:|\d{12}:function:)?(?P<name>[\w-]+)(?::[\w$-]+)?$"
)


@dataclass
class Reply:
    """An HTTP answer: status, headers, JSON body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def function_name(path: str) -> str | None:
    """The function named by an Invoke request's path (a name, partial ARN or ARN), None when the path is not Invoke."""
    match = INVOKE_PATH.match(path)
    if match is None:
        return None
    name = _FUNCTION_NAME.match(unquote(match["name"]))
    return name["name"] if name else unquote(match["name"])


def invoke(functions: Mapping[str, Handler], name: str, body: bytes, invocation_type: str | None) -> Reply:
    """Answer one Invoke request as Lambda does (RequestResponse and DryRun; Event is refused, nothing uses it)."""
    request_id = str(uuid.uuid4())
    handler = functions.get(name)
    if handler is None:
        return _error(404, "ResourceNotFoundException", f"Function not found: {name}", request_id)
    kind = invocation_type or "RequestResponse"
    if kind == "DryRun":
        return Reply(204, [("x-amzn-RequestId", request_id)], b"")
    if kind != "RequestResponse":
        return _error(400, "InvalidParameterValueException",
                      f"InvocationType {kind} is not supported by the local stack", request_id)
    try:
        event = json.loads(body) if body else {}
    except ValueError:
        return _error(400, "InvalidRequestContentException", "Could not parse request body into json", request_id)
    headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST"),
               ("x-amzn-RequestId", request_id)]
    try:
        result = handler(event)
    except Exception as exc:  # noqa: BLE001 (any handler failure is the answer, as Lambda's runtime reports it)
        log.info("function %s raised %s: %s", name, type(exc).__name__, exc)
        headers.append(("X-Amz-Function-Error", "Unhandled"))
        return Reply(200, headers, json.dumps(error_document(exc, request_id)).encode())
    try:
        payload = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        headers.append(("X-Amz-Function-Error", "Unhandled"))
        document = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {exc}",
                    "requestId": request_id, "stackTrace": []}
        return Reply(200, headers, json.dumps(document).encode())
    return Reply(200, headers, payload)


def error_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The Python runtime's report of an unhandled exception: its class name, message and stack."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _error(status: int, code: str, message: str, request_id: str) -> Reply:
    """A Lambda service error (the REST-JSON protocol: the code in ``x-amzn-ErrorType``)."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    return Reply(status, headers, body)
