"""The local WebSocket API (local_stack/websocket.py) with a stand-in function: the template's routes read,
$connect's answer deciding the handshake, messages routed by the selection field, route responses sent back,
$disconnect on close, and the @connections endpoint (SigV4 required, 410 for a gone connection) driven by
boto3's own apigatewaymanagementapi client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local_stack.template import LocalTemplate, WebSocketApi
from local_stack.websocket import WebSocketServer

CREDENTIALS = ("LOCALKEY", "local-secret")


def test_the_template_websocket_api_is_read(sam_template: LocalTemplate) -> None:
    (api,) = sam_template.websocket_apis.values()
    assert api.selection_field == "action" and api.stage == "v1"
    assert set(api.routes) == {"$connect", "$disconnect", "subscribe", "unsubscribe", "$default"}
    assert set(api.routes.values()) == {"WebSocketFunction"}
    assert api.two_way == {"subscribe", "unsubscribe", "$default"}
    endpoint = sam_template.functions["AnalyzeFunction"].environment["WEBSOCKET_ENDPOINT"]
    assert endpoint == f"{api.deployed_host}/v1"  # every function can push; the stack rewrites it locally


class Recorder:
    """A stand-in for the function: records events; $connect refuses the query value "bad"; echoes messages."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        route = event["requestContext"]["routeKey"]
        if route == "$connect":
            given = (event.get("queryStringParameters") or {}).get("token")
            return {"statusCode": 401 if given == "bad" else 200}
        if route == "$disconnect":
            return {"statusCode": 200}
        return {"statusCode": 200, "body": json.dumps({"route": route, "got": event["body"]})}

    def routes(self, event_type: str) -> list[str]:
        return [e["requestContext"]["connectionId"] for e in self.events
                if e["requestContext"]["eventType"] == event_type]


@pytest.fixture
def served() -> Iterator[tuple[WebSocketServer, Recorder]]:
    api = WebSocketApi("Api", "v1", "action", {k: "Fn" for k in ("$connect", "$disconnect", "subscribe", "silent")},
                       {"subscribe"}, "https://Api.execute-api.us-east-1.amazonaws.com")
    recorder = Recorder()
    server = WebSocketServer(api, recorder, credentials=CREDENTIALS, region="us-east-1").start("127.0.0.1")
    yield server, recorder
    server.stop()


def management(server: WebSocketServer, secret: str = CREDENTIALS[1]) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=server.management_url, region_name="us-east-1",
                        aws_access_key_id=CREDENTIALS[0], aws_secret_access_key=secret)


def test_connect_refusal_refuses_the_handshake(served: tuple[WebSocketServer, Recorder]) -> None:
    server, _ = served
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.url}?token=bad")
    assert refused.value.response.status_code == 401
    assert server.clients() == []
    with pytest.raises(InvalidStatus) as wrong_stage:
        connect(server.url.replace("/v1", "/v2"))
    assert wrong_stage.value.response.status_code == 403


def test_messages_are_routed_by_action_and_answered_on_two_way_routes(
        served: tuple[WebSocketServer, Recorder]) -> None:
    server, recorder = served
    with connect(f"{server.url}?token=good") as socket:
        (connection_id,) = recorder.routes("CONNECT")
        assert recorder.events[0]["queryStringParameters"] == {"token": "good"}  # pragma: allowlist secret
        socket.send(json.dumps({"action": "subscribe", "id": "x"}))
        assert json.loads(socket.recv(timeout=5)) == {"route": "subscribe", "got": '{"action": "subscribe", "id": "x"}'}
        socket.send(json.dumps({"action": "silent"}))  # a route without a route response answers nothing
        socket.send("not json")  # no $default route: API Gateway's Forbidden message
        answer = json.loads(socket.recv(timeout=5))
        assert answer["message"] == "Forbidden" and answer["connectionId"] == connection_id
        assert [e["requestContext"]["routeKey"] for e in recorder.events] == ["$connect", "subscribe", "silent"]
    deadline = time.monotonic() + 5
    while not recorder.routes("DISCONNECT") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert recorder.routes("DISCONNECT") == [connection_id]


def test_post_to_connection_reaches_the_client_and_gone_is_410(served: tuple[WebSocketServer, Recorder]) -> None:
    server, recorder = served
    client = management(server)
    with connect(f"{server.url}?token=good") as socket:
        (connection_id,) = recorder.routes("CONNECT")
        deadline = time.monotonic() + 5
        while server.client(connection_id) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"stage": "compose"}')
        assert json.loads(socket.recv(timeout=5)) == {"stage": "compose"}
        assert client.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"
    with pytest.raises(ClientError) as gone:
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_the_management_endpoint_needs_the_stacks_signature(served: tuple[WebSocketServer, Recorder]) -> None:
    server, _ = served
    unsigned = requests.post(f"{server.management_url}/@connections/abc", data=b"{}", timeout=5)
    assert unsigned.status_code == 403
    with pytest.raises(ClientError) as forged:
        management(server, secret="wrong").post_to_connection(ConnectionId="abc", Data=b"{}")  # pragma: allowlist secret
    assert forged.value.response["Error"]["Code"] == "ForbiddenException"
