"""The API on loopback, routed exactly as template.yaml routes it (API Gateway REST, Lambda proxy).

Each request becomes the same proxy event API Gateway sends, and the matching function's
handler runs in this process. Identity: the deployed API takes the user from the Cognito
authorizer's claims; locally the claims come from the `X-SoundCanvas-User` header (or the
stack's default user), so a client can act as any user.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_stack.template import ApiRoute

log = logging.getLogger("local_stack.api")
USER_HEADER = "X-SoundCanvas-User"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def build_event(
    route: ApiRoute,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    user: str | None,
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
    claims = {"sub": user, "cognito:username": user} if (route.authorizer and user) else None
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
            "authorizer": {"claims": claims} if claims else None,
            "accountId": "000000000000",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": (body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


class ApiServer:
    """A threaded HTTP server that dispatches to the template's API routes."""

    def __init__(
        self,
        routes: list[ApiRoute],
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        cors: dict[str, str],
        default_user: str | None,
        binary_types: list[str] | None = None,
    ) -> None:
        # Like API Gateway, a literal path segment wins over a {parameter} (/tracks/lookup before /tracks/{id}).
        ordered = sorted(routes, key=lambda r: [part.startswith("{") for part in r.path.strip("/").split("/")])
        self.routes = [(route, route.pattern()) for route in ordered]
        self.binary_types = tuple(t.lower() for t in binary_types or ())
        self.invoke, self.cors, self.default_user = invoke, cors, default_user
        self._server: ThreadingHTTPServer | None = None

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
        headers = {mapping[k]: v for k, v in self.cors.items() if k in mapping}
        if "Access-Control-Allow-Headers" in headers:  # let browser clients pick a local user
            headers["Access-Control-Allow-Headers"] += f",{USER_HEADER}"
        return headers

    def start(self, host: str, port: int) -> int:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out at once instead of waiting ~40 ms for a delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
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
                if route is None:
                    # API Gateway answers unknown paths and methods with 403.
                    self._json(403, {"message": "Missing Authentication Token"})
                    return
                headers = {k: v for k, v in self.headers.items()}
                user = headers.get(USER_HEADER) or api.default_user
                if route.authorizer and not user:
                    self._json(401, {"message": "Unauthorized"})
                    return
                event = build_event(route, self.command, url.path, url.query, headers, body, params, user,
                                    self.client_address[0], api.binary_types)
                try:
                    result = api.invoke(route.function, event)
                except Exception:  # a crashing handler is a 502 from API Gateway, as in AWS
                    log.exception("function %s raised", route.function)
                    self._json(502, {"message": "Internal server error"})
                    return
                if not isinstance(result, dict) or "statusCode" not in result:
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

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
