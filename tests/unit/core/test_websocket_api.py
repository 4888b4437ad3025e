"""The WebSocket API's function against moto: $connect accepts only a valid ID token of the pool (the REST
authorizer's own check), subscribe only to the caller's own records, unsubscribe, $disconnect cleans up,
unknown actions and bad messages get an error naming what is wrong. The pool's JWKS is served from the local
identity provider's key (the HTTP fetch is the only thing replaced)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from local_stack.idp import AUDIENCE, ISSUER, LocalIdentityProvider
from local_stack.template import LocalTemplate
from soundcanvas.core import live
from soundcanvas.generation.jobs import JobStore
from tests.conftest import FakeContext, ManualClock, load_function


class LocalJwks:
    """The pool's JWKS as PyJWKClient answers it, without the HTTP fetch."""

    def __init__(self, idp: LocalIdentityProvider) -> None:
        self.keys = {key["kid"]: jwt.PyJWK(key) for key in idp.jwks["keys"]}

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self.keys:
            raise jwt.PyJWKClientError(f"Unable to find a signing key that matches: {kid}")
        return self.keys[kid]


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentityProvider:
    return LocalIdentityProvider(tmp_path_factory.mktemp("idp") / "key.pem")


@pytest.fixture
def ws(aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch, clock: ManualClock,
       idp: LocalIdentityProvider) -> Any:
    for key, value in sam_template.functions["WebSocketFunction"].environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("TOKEN_AUDIENCE", AUDIENCE)
    module = load_function("websocket")
    monkeypatch.setattr(module.verifier, "jwks", LocalJwks(idp))
    monkeypatch.setattr(module, "clock", clock)
    return module


@pytest.fixture
def store(ws: Any) -> live.ConnectionStore:
    return ws.connections


@pytest.fixture
def jobs(aws: dict[str, Any], clock: ManualClock) -> JobStore:
    return JobStore(aws["table"], "us-east-1", clock=clock)


def connect_event(connection_id: str, token: str | None) -> dict[str, Any]:
    return {"headers": {"Host": "example"}, "queryStringParameters": {"token": token} if token is not None else None,
            "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id}}


def message_event(connection_id: str, body: Any, route: str | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    key = route or (body.get("action") if isinstance(body, dict) else "$default")
    return {"body": text, "isBase64Encoded": False,
            "requestContext": {"routeKey": key, "eventType": "MESSAGE", "connectionId": connection_id}}


def reply(ws: Any, event: dict[str, Any]) -> dict[str, Any]:
    result = ws.lambda_handler(event, FakeContext())
    assert result["statusCode"] == 200, result
    return dict(json.loads(result["body"]))


def connected(ws: Any, idp: LocalIdentityProvider, clock: ManualClock, user: str, connection_id: str) -> None:
    result = ws.lambda_handler(connect_event(connection_id, idp.issue(user, now=clock())), FakeContext())
    assert result["statusCode"] == 200


def test_connect_accepts_a_valid_token_and_remembers_the_user(ws: Any, idp: LocalIdentityProvider,
                                                              clock: ManualClock, store: live.ConnectionStore) -> None:
    connected(ws, idp, clock, "alice", "c1")
    assert store.owner("c1") == "alice"


@pytest.mark.parametrize("forge", [
    lambda idp, other, now: None,  # no token at all
    lambda idp, other, now: "",
    lambda idp, other, now: "not-a-jwt",
    lambda idp, other, now: other.issue("alice", now=now),  # signed by another key
    lambda idp, other, now: idp.issue("alice", now=now - 7200),  # expired
    lambda idp, other, now: idp.issue("alice", now=now, aud="another-client"),
    lambda idp, other, now: idp.issue("alice", now=now, iss="https://evil.example/pool"),
    lambda idp, other, now: idp.issue("alice", now=now, token_use="access"),
    lambda idp, other, now: idp.issue("alice", now=now, sub="../etc"),
], ids=["missing", "empty", "garbage", "foreign-key", "expired", "audience", "issuer", "access-token", "bad-sub"])
def test_connect_refuses_bad_tokens(ws: Any, idp: LocalIdentityProvider, clock: ManualClock, tmp_path: Path,
                                    store: live.ConnectionStore, forge: Any) -> None:
    other = LocalIdentityProvider(tmp_path / "other.pem")
    result = ws.lambda_handler(connect_event("c1", forge(idp, other, clock())), FakeContext())
    assert result["statusCode"] == 401
    assert store.owner("c1") is None


def test_subscribe_answers_the_current_state_of_the_callers_record(ws: Any, idp: LocalIdentityProvider,
                                                                   clock: ManualClock, jobs: JobStore,
                                                                   store: live.ConnectionStore) -> None:
    jobs.create("alice", "j1", options={}, image_key="k", content_type="image/jpeg", retention_days=1)
    connected(ws, idp, clock, "alice", "c1")
    answer = reply(ws, message_event("c1", {"action": "subscribe", "kind": "generation", "id": "j1"}))
    assert answer == {"action": "subscribed", "kind": "generation", "id": "j1", "status": "PENDING", "stage": "upload",
                      "progress": 0, "at": jobs.get("alice", "j1")["updatedAt"]}
    assert store.subscribers("generation", "alice", "j1") == ["c1"]


def test_subscribing_to_another_users_record_is_refused(ws: Any, idp: LocalIdentityProvider, clock: ManualClock,
                                                        jobs: JobStore, store: live.ConnectionStore) -> None:
    jobs.create("alice", "j1", options={}, image_key="k", content_type="image/jpeg", retention_days=1)
    connected(ws, idp, clock, "mallory", "c2")
    theirs = reply(ws, message_event("c2", {"action": "subscribe", "kind": "generation", "id": "j1"}))
    missing = reply(ws, message_event("c2", {"action": "subscribe", "kind": "generation", "id": "nope"}))
    assert theirs["action"] == "error" and theirs["error"] == "NOT_FOUND"
    assert {k: v for k, v in theirs.items()} == {**missing, "message": theirs["message"]}  # answered alike
    assert store.subscribers("generation", "alice", "j1") == []
    assert store.subscribers("generation", "mallory", "j1") == []


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "subscribe", "kind": "song", "id": "j1"}, "kind"),
    ({"action": "subscribe", "kind": "generation"}, "id"),
    ({"action": "subscribe", "kind": "generation", "id": "a/b"}, "id"),
    ({"action": "subscribe", "kind": "generation", "id": "j1", "extra": 1}, "extra"),
    ("{not json", "body"),
])
def test_bad_messages_are_answered_with_the_field(ws: Any, idp: LocalIdentityProvider, clock: ManualClock,
                                                  body: Any, field: str) -> None:
    connected(ws, idp, clock, "alice", "c1")
    answer = reply(ws, message_event("c1", body, route="subscribe"))
    assert answer["action"] == "error" and answer["error"] == "BAD_REQUEST"
    assert field in answer["message"] or (field == "body" and "invalid" in answer["message"])


def test_unknown_actions_get_an_error(ws: Any, idp: LocalIdentityProvider, clock: ManualClock) -> None:
    connected(ws, idp, clock, "alice", "c1")
    answer = reply(ws, message_event("c1", {"action": "dance"}, route="$default"))
    assert answer["error"] == "BAD_REQUEST" and "subscribe" in answer["message"]


def test_unsubscribe_and_disconnect_forget(ws: Any, idp: LocalIdentityProvider, clock: ManualClock, jobs: JobStore,
                                           store: live.ConnectionStore) -> None:
    for job in ("j1", "j2"):
        jobs.create("alice", job, options={}, image_key="k", content_type="image/jpeg", retention_days=1)
    connected(ws, idp, clock, "alice", "c1")
    for job in ("j1", "j2"):
        reply(ws, message_event("c1", {"action": "subscribe", "kind": "generation", "id": job}))
    assert reply(ws, message_event("c1", {"action": "unsubscribe", "kind": "generation", "id": "j1"})) == {
        "action": "unsubscribed", "kind": "generation", "id": "j1"}
    assert store.subscribers("generation", "alice", "j1") == []
    assert store.subscribers("generation", "alice", "j2") == ["c1"]
    result = ws.lambda_handler({"requestContext": {"routeKey": "$disconnect", "eventType": "DISCONNECT",
                                                   "connectionId": "c1"}}, FakeContext())
    assert result["statusCode"] == 200
    assert store.owner("c1") is None and store.subscribers("generation", "alice", "j2") == []
    answer = reply(ws, message_event("c1", {"action": "subscribe", "kind": "generation", "id": "j2"}))
    assert answer["error"] == "GONE"
