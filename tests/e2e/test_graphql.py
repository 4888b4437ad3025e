"""The GraphQL API over real HTTP on the local stack: the original design's flow (createGeneration, PUT the
picture to the presigned URL, poll generationStatus) end to end, S3 holding the PUT to what was signed, and
ownership across users."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack
from tests.e2e.conftest import SAMPLE, Client

pytestmark = [pytest.mark.e2e, pytest.mark.fluidsynth]

CREATE = """mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { jobId imageUploadUrl imageId uploadHeaders { name value } maxBytes status }
}"""
STATUS = """query($id: ID!) {
  generationStatus(jobId: $id) { status audioUrl imageUrl params errorMessage progress }
}"""


def gql(client: Client, query: str, variables: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    response = client.session.post(client.url("/graphql"), json={"query": query, "variables": variables or {}},
                                   timeout=30)
    return response.status_code, response.json()


def create(client: Client, **fields: Any) -> dict[str, Any]:
    status, payload = gql(client, CREATE, {"input": fields})
    assert status == 200 and "errors" not in payload, payload
    return dict(payload["data"]["createGeneration"])


def put(created: dict[str, Any], data: bytes, **headers: str) -> requests.Response:
    signed = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    return requests.put(created["imageUploadUrl"], data=data, headers={**signed, **headers}, timeout=60)


def test_create_put_poll_listen_the_original_flow(alice: Client, mallory: Client, stack: LocalStack) -> None:
    picture = SAMPLE.read_bytes()
    created = create(alice, genreOverride="lofi", mode="heuristic", durationSeconds=15, seed=5,
                     contentType="image/jpeg", sizeBytes=len(picture))
    assert created["status"] == "PENDING" and created["imageId"].endswith(f"{created['jobId']}/input.jpg")
    _, started = gql(alice, "mutation($id: ID!) { startGeneration(jobId: $id) { success status } }",
                          {"id": created["jobId"]})
    assert started["data"]["startGeneration"] == {"success": True, "status": "PENDING"}

    # S3 holds the PUT to what was signed: more bytes than declared, or another type, are refused
    over = put(created, picture + b"\0")
    assert over.status_code == 403 and b"SignatureDoesNotMatch" in over.content
    assert put(created, picture, **{"Content-Type": "image/png"}).status_code == 403
    assert put(created, picture).status_code == 200  # the upload itself starts the workflow

    deadline, seen = time.monotonic() + 180, []
    while time.monotonic() < deadline:
        _, payload = gql(alice, STATUS, {"id": created["jobId"]})
        state = payload["data"]["generationStatus"]
        seen.append(state["progress"])
        if state["status"] in ("COMPLETE", "FAILED"):
            break
        time.sleep(0.2)
    assert state["status"] == "COMPLETE", state
    assert seen == sorted(seen) and state["params"]["genre"] == "lofi" and state["params"]["durationSeconds"] == 15
    audio = requests.get(state["audioUrl"], timeout=30)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF" and len(audio.content) > 15 * 44100 * 4
    assert requests.get(state["imageUrl"], timeout=30).content == picture

    _, mine = gql(alice, "{ myGenerations(limit: 50) { jobId status audioUrl } }")
    listed = {g["jobId"]: g for g in mine["data"]["myGenerations"]}
    assert listed[created["jobId"]]["status"] == "COMPLETE" and listed[created["jobId"]]["audioUrl"]

    _, theirs = gql(mallory, STATUS, {"id": created["jobId"]})
    assert theirs["data"] is None and [e["extensions"]["code"] for e in theirs["errors"]] == ["NOT_FOUND"]
    _, listed_by_mallory = gql(mallory, "{ myGenerations(limit: 50) { jobId } }")
    assert created["jobId"] not in {g["jobId"] for g in listed_by_mallory["data"]["myGenerations"]}


def test_a_size_over_the_limit_is_refused_before_any_url(alice: Client) -> None:
    status, payload = gql(alice, CREATE, {"input": {"sizeBytes": 20 * 1024 * 1024 + 1}})
    assert status == 200 and payload["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT",
                                                                    "field": "input.sizeBytes"}


def test_the_authorizer_guards_graphql_like_every_route(stack: LocalStack) -> None:
    response = requests.post(f"{stack.api_url}/graphql", json={"query": "{ myGenerations(limit: 1) { jobId } }"},
                             timeout=30)
    assert response.status_code == 401


def test_limits_and_document_errors_over_http(alice: Client) -> None:
    status, payload = gql(alice, "{ myGenerations(limit: 1) { nope } }")
    assert status == 200 and "data" not in payload
    assert payload["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    fields = "jobId status params imageUrl audioUrl previewUrl midiUrl errorMessage createdAt updatedAt stage"
    many = " ".join(f"g{i}: generations(limit: 100) {{ items {{ {fields} }} }}" for i in range(3))
    status, payload = gql(alice, f"{{ {many} }}")
    assert status == 200 and "data" not in payload and payload["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
