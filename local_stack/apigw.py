"""The API on loopback, routed exactly as template.yaml routes it (API Gateway REST, Lambda proxy).

Each request becomes the same proxy event API Gateway sends, and the matching function's
handler runs in this process. Identity works as API Gateway's Lambda TOKEN authorizer does: the
template's authorizer function verifies the `Authorization` header's token (locally, one signed
by local_stack/idp.py), and its context becomes `requestContext.authorizer`.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from fnmatch import fnmatch
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_stack.template import ApiRoute, TokenAuthorizer
from local_stack.webapp import WebApp

log = logging.getLogger("local_stack.api")
API_ARN = "arn:aws:execute-api:us-east-1:000000000000:local"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
# A Lambda function's synchronous request and response payloads (the event and the answer as JSON): a request over
# it is refused by API Gateway with 413 "Request Too Long" before the function runs, an answer over it is a 502.
# A binary body (multipart/form-data) arrives base64-encoded, 4/3 larger, so it meets this before MAX_BODY.
LAMBDA_PAYLOAD_MAX = 6 * 1024 * 1024


def build_event(
    route: ApiRoute,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    authorizer: dict[str, Any] | None,
    source_ip: str,
    binary_types: tuple[str, ...] = (),
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as AWS builds it: a body whose Content-Type is one of the
    API's binary media types arrives base64-encoded, any other body as text."""
    multi_query = parse_qs(query, keep_blank_values=True)
    content_type = headers.get("Content-Type", headers.get("content-type", ""))
    media_type = content_type.split(";")[0].strip().lower()
    is_text = not body or not any(fnmatch(media_type, pattern) for pattern in binary_types)
    now = datetime.now(UTC)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "authorizer": authorizer if route.authorizer else None,
            "accountId": "000000000000",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": (body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: a burst of clients (20 users at once) would
    # find the queue full and have their connections reset. API Gateway does not refuse connections.
    request_queue_size = 128


def _allowed_context(answer: Any, method_arn: str) -> dict[str, Any] | None:
    """The requestContext.authorizer API Gateway passes on when the policy allows the call, else None."""
    if not isinstance(answer, dict) or "principalId" not in answer:
        return None
    statements = (answer.get("policyDocument") or {}).get("Statement") or []
    allowed = False
    for statement in statements:
        resources = statement.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        if any(fnmatch(method_arn, str(r)) for r in resources):
            if statement.get("Effect") == "Deny":
                return None
            allowed = allowed or statement.get("Effect") == "Allow"
    if not allowed:
        return None
    context = {k: str(v) for k, v in (answer.get("context") or {}).items()}
    return {"principalId": str(answer["principalId"]), **context}


class LoopbackHandler(BaseHTTPRequestHandler):
    """What the local stack's HTTP servers share: HTTP/1.1, no delayed ACK, request lines logged at debug."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out at once instead of waiting ~40 ms for a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class ApiServer:
    """A threaded HTTP server that dispatches to the template's API routes."""

    def __init__(
        self,
        routes: list[ApiRoute],
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        cors: dict[str, str],
        authorizer: TokenAuthorizer | None = None,
        binary_types: list[str] | None = None,
        webapp: WebApp | None = None,
    ) -> None:
        # Like API Gateway, a literal path segment wins over a {parameter} (/tracks/lookup before /tracks/{id}).
        ordered = sorted(routes, key=lambda r: [part.startswith("{") for part in r.path.strip("/").split("/")])
        self.routes = [(route, route.pattern()) for route in ordered]
        self.binary_types = tuple(t.lower() for t in binary_types or ())
        self.invoke, self.cors, self.authorizer = invoke, cors, authorizer
        self.webapp = webapp  # the web app's files on the same port (local_stack/webapp.py)
        self._answers: dict[str, tuple[float, dict[str, Any] | None]] = {}  # token -> (until, context or deny)
        self._answers_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def authorize(self, route: ApiRoute, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        """As API Gateway runs a TOKEN authorizer: (200, the authorizer context) or (401|403|500, message).

        No token: 401 without calling the function. The function raising "Unauthorized": 401. A policy
        that does not allow the method: 403. Answers are cached per token for ReauthorizeEvery seconds.
        """
        spec = self.authorizer
        if spec is None:
            return 500, {"message": None}
        token = next((v for k, v in headers.items() if k.lower() == spec.header.lower()), "")
        if not token:
            return 401, {"message": "Unauthorized"}
        method_arn = f"{API_ARN}/v1/{method}{path}"
        with self._answers_lock:
            cached = self._answers.get(token)
        if cached is None or cached[0] < time.monotonic():
            try:
                answer = self.invoke(spec.function, {"type": "TOKEN", "authorizationToken": token,
                                                      "methodArn": method_arn})
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    return 401, {"message": "Unauthorized"}
                log.exception("authorizer %s raised", spec.function)
                return 500, {"message": None}
            context = _allowed_context(answer, method_arn)
            cached = (time.monotonic() + spec.cache_seconds, context)
            with self._answers_lock:
                self._answers[token] = cached
        if cached[1] is None:
            return 403, {"Message": "User is not authorized to access this resource with an explicit deny"}
        return 200, cached[1]

    def match(self, method: str, path: str) -> tuple[ApiRoute | None, dict[str, str], bool]:
        """(route, path parameters, whether the path exists with another method)."""
        path_exists = False
        for route, pattern in self.routes:
            found = pattern.match(path)
            if not found:
                continue
            path_exists = True
            if route.method in (method, "ANY"):
                return route, found.groupdict(), True
        return None, {}, path_exists

    def cors_headers(self) -> dict[str, str]:
        mapping = {
            "AllowOrigin": "Access-Control-Allow-Origin",
            "AllowHeaders": "Access-Control-Allow-Headers",
            "AllowMethods": "Access-Control-Allow-Methods",
            "MaxAge": "Access-Control-Max-Age",
        }
        return {mapping[k]: v for k, v in self.cors.items() if k in mapping}

    def start(self, host: str, port: int) -> int:
        api = self

        class Handler(LoopbackHandler):

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (request line over 64 KB: 414; too many or too long headers: 431;
                # an unreadable request line: 400) answered as API Gateway answers everything: JSON, not HTML.
                self.close_connection = True
                text = message or HTTPStatus(code).phrase
                body = json.dumps({"message": text}).encode()
                self.send_response(code, text)
                for key, value in {"Content-Type": "application/json", "Connection": "close", **api.cors_headers()}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                headers = {"Content-Type": "application/json", **api.cors_headers()}
                self._reply(status, headers, json.dumps(payload).encode())

            def _handle(self) -> None:
                started = time.perf_counter()
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._json(413, {"message": "Request Too Long"})
                    return
                body = self.rfile.read(length) if length else b""
                if self.command == "OPTIONS":
                    _, _, exists = api.match("OPTIONS", url.path)
                    if exists:
                        self._reply(200, api.cors_headers(), b"")
                    else:
                        self._json(403, {"message": "Missing Authentication Token"})
                    return
                route, params, exists = api.match(self.command, url.path)
                if route is None and api.webapp is not None:
                    page = api.webapp.answer(self.command, url.path, body)
                    if page is not None:
                        self._reply(*page)
                        return
                if route is None:
                    # API Gateway answers unknown paths and methods with 403.
                    self._json(403, {"message": "Missing Authentication Token"})
                    return
                headers = {k: v for k, v in self.headers.items()}
                context = None
                if route.authorizer:
                    status, context = api.authorize(route, self.command, url.path, headers)
                    if status != 200:
                        self._json(status, context)
                        return
                event = build_event(route, self.command, url.path, url.query, headers, body, params, context,
                                    self.client_address[0], api.binary_types)
                if len(json.dumps(event, default=str).encode()) > LAMBDA_PAYLOAD_MAX:
                    self._json(413, {"message": "Request Too Long"})
                    return
                try:
                    result = api.invoke(route.function, event)
                except Exception:  # a crashing handler is a 502 from API Gateway, as in AWS
                    log.exception("function %s raised", route.function)
                    self._json(502, {"message": "Internal server error"})
                    return
                if not isinstance(result, dict) or "statusCode" not in result:
                    self._json(502, {"message": "Internal server error"})
                    return
                if len(json.dumps(result, default=str).encode()) > LAMBDA_PAYLOAD_MAX:
                    log.error("function %s answered over Lambda's %d-byte payload limit", route.function,
                              LAMBDA_PAYLOAD_MAX)
                    self._json(502, {"message": "Internal server error"})
                    return
                out_headers = dict(result.get("headers") or {})
                for key, values in (result.get("multiValueHeaders") or {}).items():
                    out_headers[key] = ", ".join(values)
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                self._reply(int(result["statusCode"]), out_headers, data)
                log.info("%s %s -> %s (%.0f ms)", self.command, url.path, result["statusCode"],
                         (time.perf_counter() - started) * 1000)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, made-up ones) gets API Gateway's JSON answer, not a 501 page.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

        server = _Server((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
