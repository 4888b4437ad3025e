"""The template's WebSocket API on loopback, as API Gateway runs it (WebSocket API, Lambda proxy integrations),
and its management endpoint (the @connections API that PostToConnection calls).

    ws://127.0.0.1:{port}/{stage}?token=...   the `websockets` server: each connection gets an id; `$connect`
                                              runs first with the handshake's query and headers, and a non-2xx
                                              answer refuses the handshake with that status; each text message
                                              is routed by the RouteSelectionExpression's body field (else
                                              `$default`, else API Gateway's "Forbidden" message), and a route
                                              with a route response sends the function's `body` back; closing
                                              runs `$disconnect`.
    http://127.0.0.1:{port2}/{stage}/@connections/{id}
                                              POST sends the body to the connection, GET describes it, DELETE
                                              closes it; an unknown or closed connection is 410 GoneException.
                                              Requests must carry a SigV4 signature by the stack's credentials.

The functions are given the deployed management endpoint by the template (https://{api}.execute-api...); the
stack rewrites it to this one, so the product's signed PostToConnection requests arrive here unchanged.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from local_stack.apigw import LoopbackHandler
from local_stack.template import WebSocketApi

log = logging.getLogger("local_stack.websocket")
MAX_MESSAGE = 128 * 1024  # API Gateway's WebSocket message limit
SIGNATURE = "Signature="


@dataclass
class _Client:
    connection: ServerConnection
    connection_id: str
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _new_connection_id() -> str:
    """An id shaped like API Gateway's (16 characters of base64)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()[:15] + "="


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class WebSocketServer:
    """One WebSocket API of the template, and its management endpoint, each on its own loopback port."""

    def __init__(self, api: WebSocketApi, invoke: Callable[[str, dict[str, Any]], Any], *,
                 credentials: tuple[str, str], region: str) -> None:
        self.api, self.invoke = api, invoke
        self.credentials, self.region = credentials, region
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._management: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()  # the stack is going away: no $disconnect calls into it
        self.url = self.management_url = ""

    # ------------------------------------------------------------------ start / stop
    def start(self, host: str, port: int = 0, management_port: int = 0) -> WebSocketServer:
        self._server = serve(self._serve, host, port, process_request=self._handshake, compression=None,
                             max_size=MAX_MESSAGE, server_header=None)
        ws_port = int(self._server.socket.getsockname()[1])
        threading.Thread(target=self._server.serve_forever, name="local-websocket", daemon=True).start()
        self._management = _ManagementServer((host, management_port), _management_handler(self))
        self._management.daemon_threads = True
        threading.Thread(target=self._management.serve_forever, name="local-websocket-management",
                         daemon=True).start()
        self.url = f"ws://{host}:{ws_port}/{self.api.stage}"
        self.management_url = f"http://{host}:{self._management.server_address[1]}/{self.api.stage}"
        return self

    def stop(self) -> None:
        self._stopping.set()
        for client in self.clients():
            client.connection.close()
        if self._server is not None:
            self._server.shutdown()
        if self._management is not None:
            self._management.shutdown()
            self._management.server_close()

    def clients(self) -> list[_Client]:
        with self._lock:
            return list(self._clients.values())

    def client(self, connection_id: str) -> _Client | None:
        with self._lock:
            return self._clients.get(connection_id)

    # ------------------------------------------------------------------ events, as API Gateway builds them
    def _context(self, route_key: str, event_type: str, client: _Client, **more: Any) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": int(client.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent},
            "requestId": str(uuid.uuid4()),
            "domainName": "127.0.0.1",
            "connectionId": client.connection_id,
            "apiId": self.api.name,
            **more,
        }

    def _call(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """The route's function's answer, or None when it raised or answered something else than a dict."""
        try:
            result = self.invoke(self.api.routes[route_key], event)
        except Exception:  # a crashing function is an integration error, as in API Gateway
            log.exception("WebSocket route %s raised", route_key)
            return None
        return result if isinstance(result, dict) else None

    # ------------------------------------------------------------------ the WebSocket side
    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Run $connect before the handshake completes; a non-2xx answer refuses it with that status."""
        url = urlsplit(request.path)
        if url.path.rstrip("/") != f"/{self.api.stage}":
            return connection.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")
        client = _Client(connection, _new_connection_id(), str(connection.remote_address[0]),
                         request.headers.get("User-Agent", ""))
        connection.sc_client = client  # type: ignore[attr-defined]
        if "$connect" not in self.api.routes:
            return None
        query = parse_qs(url.query, keep_blank_values=True)
        headers = {name: value for name, value in request.headers.raw_items()}
        event = {
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": self._context("$connect", "CONNECT", client),
            "isBase64Encoded": False,
        }
        result = self._call("$connect", event)
        status = int(result.get("statusCode", 200)) if result is not None else 502
        if 200 <= status < 300:
            return None
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Refused"
        body = str((result or {}).get("body") or phrase).encode()
        log.info("WebSocket $connect refused: %s", status)
        return Response(status, phrase, Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                                                 ("Connection", "close")]), body)

    def _serve(self, connection: ServerConnection) -> None:
        client: _Client = connection.sc_client  # type: ignore[attr-defined]
        with self._lock:
            self._clients[client.connection_id] = client
        try:
            for data in connection:
                client.last_active = time.time()
                self._message(client, data)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._clients.pop(client.connection_id, None)
            if "$disconnect" in self.api.routes and not self._stopping.is_set():
                self._call("$disconnect", {"headers": {}, "isBase64Encoded": False,
                                           "requestContext": self._context("$disconnect", "DISCONNECT", client,
                                                                           disconnectStatusCode=1000)})

    def _message(self, client: _Client, data: str | bytes) -> None:
        """Route one message by the selection field of its JSON body, as API Gateway does."""
        text = data if isinstance(data, str) else None
        route_key = "$default"
        try:
            body = json.loads(text) if text is not None else None
        except json.JSONDecodeError:
            body = None
        if isinstance(body, dict) and isinstance(body.get(self.api.selection_field), str) \
                and body[self.api.selection_field] in self.api.routes:
            route_key = body[self.api.selection_field]
        if route_key not in self.api.routes:
            self.send(client.connection_id, json.dumps({"message": "Forbidden", "connectionId": client.connection_id,
                                                        "requestId": str(uuid.uuid4())}).encode())
            return
        event = {
            "requestContext": self._context(route_key, "MESSAGE", client, messageId=str(uuid.uuid4())),
            "body": text if isinstance(data, str) else base64.b64encode(data).decode(),
            "isBase64Encoded": text is None,
        }
        result = self._call(route_key, event)
        if result is None:
            self.send(client.connection_id, json.dumps({"message": "Internal server error",
                                                        "connectionId": client.connection_id,
                                                        "requestId": str(uuid.uuid4())}).encode())
            return
        if route_key in self.api.two_way and result.get("body") is not None:
            self.send(client.connection_id, str(result["body"]).encode())

    def send(self, connection_id: str, data: bytes) -> bool:
        """Send a message to a connection (as text when it is UTF-8); False when it is not open."""
        client = self.client(connection_id)
        if client is None:
            return False
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        try:
            with client.lock:
                client.connection.send(payload)
        except ConnectionClosed:
            return False
        return True

    # ------------------------------------------------------------------ the management side
    def check_signature(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        """True when the request carries a SigV4 signature of service execute-api by the stack's credentials."""
        authorization = headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 ") or SIGNATURE not in authorization:
            return False
        fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
        scope = fields.get("Credential", "").split("/")
        if len(scope) != 5 or scope[0] != self.credentials[0] or scope[3] != "execute-api":
            return False
        signed = fields.get("SignedHeaders", "").split(";")
        request = AWSRequest(method=method, url=f"http://{headers.get('host', '')}{path}",
                             headers={name: headers[name] for name in signed if name in headers}, data=body)
        request.context["timestamp"] = headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(*self.credentials), "execute-api", scope[2])
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        return hmac.compare_digest(expected, fields.get("Signature", ""))


class _ManagementServer(ThreadingHTTPServer):
    request_queue_size = 128  # many pushes at once (50 subscribers of one record)


def _management_handler(server: WebSocketServer) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{server.api.stage}/@connections/"

    class Handler(LoopbackHandler):
        def _answer(self, status: int, payload: dict[str, Any] | None = None, error: str | None = None) -> None:
            body = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            if not server.check_signature(self.command, self.path, headers, body):
                self._answer(403, {"message": "Forbidden"}, "ForbiddenException")
                return
            path = urlsplit(self.path).path
            if not path.startswith(prefix):
                self._answer(404, {"message": "Not Found"}, "NotFoundException")
                return
            connection_id = unquote(path[len(prefix):])
            client = server.client(connection_id)
            if client is None:
                self._answer(410, {"message": None}, "GoneException")
                return
            if self.command == "POST":
                if length > MAX_MESSAGE:
                    self._answer(413, {"message": "Message too long"}, "PayloadTooLargeException")
                elif server.send(connection_id, body):
                    self._answer(200)
                else:
                    self._answer(410, {"message": None}, "GoneException")
            elif self.command == "GET":
                self._answer(200, {"connectedAt": _iso(client.connected_at), "lastActiveAt": _iso(client.last_active),
                                   "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent}})
            elif self.command == "DELETE":  # API Gateway answers at once; the closing handshake goes on without it
                threading.Thread(target=client.connection.close, name="ws-delete", daemon=True).start()
                self._answer(204)
            else:
                self._answer(405, {"message": "Method Not Allowed"}, "BadRequestException")

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    return Handler
