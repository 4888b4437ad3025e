"""Live progress over the local stack's WebSocket API (the template's API, the same function and token check,
the same PostToConnection push path as deployed): a client follows its generation from the upload to COMPLETE
stage by stage, in order; bad tokens cannot connect; another user's generation cannot be subscribed to and
nothing of it arrives; after unsubscribe nothing more arrives; polling still agrees."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local_stack.idp import LocalIdentityProvider
from local_stack.stack import LocalStack
from tests.e2e.conftest import SAMPLE, Client

pytestmark = pytest.mark.e2e
ORDER = ["analyze", "compose", "render", "done"]


def socket(stack: LocalStack, token: str) -> ClientConnection:
    return connect(f"{stack.ws_url}?token={token}", open_timeout=10)


def request(ws: ClientConnection, **body: Any) -> dict[str, Any]:
    """Send an action and return its answer (the route response)."""
    ws.send(json.dumps(body))
    return dict(json.loads(ws.recv(timeout=10)))


def nothing_arrives(ws: ClientConnection, seconds: float = 0.5) -> bool:
    try:
        ws.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False


def test_a_client_receives_every_stage_of_its_generation_in_order(alice: Client, mallory: Client,
                                                                  stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15, seed=5)
    with socket(stack, stack.token("alice")) as ws, socket(stack, stack.token("mallory")) as spy:
        answer = request(ws, action="subscribe", kind="generation", id=job["jobId"])
        assert answer == {"action": "subscribed", "kind": "generation", "id": job["jobId"], "status": "PENDING",
                          "stage": "upload", "progress": 0, "at": answer["at"]}
        refused = request(spy, action="subscribe", kind="generation", id=job["jobId"])
        assert refused["action"] == "error" and refused["error"] == "NOT_FOUND"
        assert alice.upload(job, SAMPLE.read_bytes()).status_code == 204
        pushes: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while not pushes or pushes[-1]["status"] not in ("COMPLETE", "FAILED"):
            pushes.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        assert [p["stage"] for p in pushes] == ORDER
        assert [p["status"] for p in pushes] == ["RUNNING"] * 3 + ["COMPLETE"]
        assert [p["progress"] for p in pushes] == sorted(p["progress"] for p in pushes) and pushes[-1]["progress"] == 100
        assert [p["at"] for p in pushes] == sorted(p["at"] for p in pushes) and pushes[0]["at"] > answer["at"]
        assert all(set(p) == {"kind", "id", "status", "stage", "progress", "at"} and p["id"] == job["jobId"]
                   for p in pushes)
        polled = alice.get(job["jobId"]).json()  # polling keeps working and agrees
        assert (polled["status"], polled["stage"], polled["progress"]) == ("COMPLETE", "done", 100)
        assert nothing_arrives(spy)


@pytest.mark.parametrize("case", ["empty", "garbage", "forged", "expired"])
def test_a_bad_token_cannot_connect(stack: LocalStack, tmp_path: Path, case: str) -> None:
    credential = {"empty": "", "garbage": "not-a-jwt"}.get(case, "")
    if case == "forged":
        credential = LocalIdentityProvider(tmp_path / "other.pem").issue("alice")
    elif case == "expired":
        credential = stack.token("alice", exp=int(time.time()) - 60)
    with pytest.raises(InvalidStatus) as refused:
        socket(stack, credential)
    assert refused.value.response.status_code == 401


def test_after_unsubscribe_nothing_more_arrives(alice: Client, stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15, seed=6)
    with socket(stack, stack.token("alice")) as ws:
        assert request(ws, action="subscribe", kind="generation", id=job["jobId"])["action"] == "subscribed"
        assert request(ws, action="unsubscribe", kind="generation", id=job["jobId"]) == {
            "action": "unsubscribed", "kind": "generation", "id": job["jobId"]}
        assert alice.upload(job, SAMPLE.read_bytes()).status_code == 204
        assert alice.wait(job["jobId"])["status"] == "COMPLETE"
        assert nothing_arrives(ws)
        unknown = request(ws, action="dance")
        assert unknown["action"] == "error" and unknown["error"] == "BAD_REQUEST"
