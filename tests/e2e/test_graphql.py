"""The GraphQL API over real HTTP on the local stack: the original design's flow (createGeneration, PUT the
picture to the presigned URL, poll generationStatus) end to end, S3 holding the PUT to what was signed, and
ownership across users; the library's and Blend's mutations reaching the state their REST twins reach."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack
from tests.audiogen import write
from tests.e2e.conftest import SAMPLE, Client
from tests.e2e.test_maps_community import current, make_public_map, member, tempo_patch

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


# --- the products' mutations: the same functions as REST, so the same state ---------------------------------
def user(stack: LocalStack, name: str) -> Client:
    return Client(stack, f"{name}-{time.monotonic_ns()}")


def settled(client: Client, query: str, variables: dict[str, Any], field: str, timeout: float = 240.0,
            done: tuple[str, ...] = ("READY", "COMPLETE", "FAILED")) -> dict[str, Any]:
    """Poll a GraphQL query until the record's status is one of `done` (or fail at the deadline)."""
    deadline, state = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        _, payload = gql(client, query, variables)
        state = payload["data"][field]
        if state["status"] in done:
            return dict(state)
        time.sleep(0.25)
    raise AssertionError(f"{field} {variables} not settled in {timeout} s: {state}")


def refusal(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["data"] is None, payload
    (error,) = payload["errors"]
    return dict(error["extensions"])


UPLOADS = """mutation($input: CreateTrackUploadsInput!) {
  createTrackUploads(input: $input) { files { trackId fileName replaces upload { url fields maxBytes } } }
}"""
TRACK = "query($id: ID!) { track(trackId: $id) { trackId status format durationSeconds name album tags } }"


def test_a_track_uploaded_edited_graded_and_deleted_through_graphql(stack: LocalStack, tmp_path: Path) -> None:
    owner, other = user(stack, "gql-lib"), user(stack, "gql-thief")
    data = write(tmp_path / "loop.wav", 2.0).read_bytes()
    upload = {"fileName": "Loop.wav", "contentType": "audio/wav", "sizeBytes": len(data)}
    _, payload = gql(owner, UPLOADS, {"input": {"files": [upload]}})
    (item,) = payload["data"]["createTrackUploads"]["files"]
    assert item["fileName"] == "Loop.wav" and item["replaces"] is False
    form = item["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("Loop.wav", data, "audio/wav")},
                           timeout=60)
    assert posted.status_code == 204, posted.text
    track = settled(owner, TRACK, {"id": item["trackId"]}, "track")
    rest = owner.session.get(owner.url(f"/tracks/{item['trackId']}"), timeout=30).json()
    assert track["status"] == rest["status"] == "READY" and track["format"] == rest["format"] == "wav"
    assert track["durationSeconds"] == pytest.approx(2.0, abs=0.05) == rest["durationSeconds"]
    again = owner.session.post(owner.url("/tracks/uploads"), json={"files": [upload]}, timeout=30).json()
    assert again["files"][0]["trackId"] == item["trackId"] and again["files"][0]["replaces"] is True

    edit = "mutation($id: ID!, $input: UpdateTrackInput!) { updateTrack(trackId: $id, input: $input) { album tags } }"
    _, payload = gql(owner, edit, {"id": item["trackId"], "input": {"album": "Sketches", "tags": ["loop"]}})
    assert payload["data"]["updateTrack"] == {"album": "Sketches", "tags": ["loop"]}
    rest = owner.session.get(owner.url(f"/tracks/{item['trackId']}"), timeout=30).json()
    assert (rest["album"], rest["tags"]) == ("Sketches", ["loop"])
    _, payload = gql(owner, edit, {"id": item["trackId"], "input": {"tags": ["x" * 51]}})
    assert refusal(payload) == {"code": "BAD_USER_INPUT", "field": "input.tags.0"}
    _, payload = gql(other, edit, {"id": item["trackId"], "input": {"album": "Mine"}})
    assert refusal(payload) == {"code": "NOT_FOUND"}

    grade = "mutation($id: ID!) { gradeTrack(trackId: $id, grade: 5) { grade scheduler dueAt } }"
    _, payload = gql(owner, grade, {"id": item["trackId"]})
    assert payload["data"]["gradeTrack"]["grade"] == 5 and payload["data"]["gradeTrack"]["dueAt"]
    due = owner.session.get(owner.url("/due"), timeout=30).json()["items"]
    assert item["trackId"] not in [d["trackId"] for d in due]  # graded: no longer due, as after POST /grade

    delete = "mutation($id: ID!) { deleteTrack(trackId: $id) { success } }"
    assert refusal(gql(other, delete, {"id": item["trackId"]})[1]) == {"code": "NOT_FOUND"}
    assert gql(owner, delete, {"id": item["trackId"]})[1]["data"]["deleteTrack"] == {"success": True}
    assert owner.session.get(owner.url(f"/tracks/{item['trackId']}"), timeout=30).status_code == 404


def test_upload_forms_refuse_what_rest_refuses_naming_the_field(stack: LocalStack) -> None:
    owner = user(stack, "gql-big")
    _, payload = gql(owner, UPLOADS, {"input": {"files": [{"fileName": "a.wav", "contentType": "audio/wav",
                                                           "sizeBytes": 200 * 1024 * 1024 + 1}]}})
    assert refusal(payload) == {"code": "BAD_USER_INPUT", "field": "input.files.0.sizeBytes"}
    rest = owner.session.post(owner.url("/tracks/uploads"), json={"files": [{"fileName": "a.wav",
                              "contentType": "audio/wav", "sizeBytes": 200 * 1024 * 1024 + 1}]}, timeout=30)
    assert rest.status_code == 400 and rest.json()["errors"][0]["field"] == "files.0.sizeBytes"


BLEND = "mutation($input: CreateBlendInput!) { createBlend(input: $input) { blendId status options } }"
BLEND_STATE = "query($id: ID!) { blend(blendId: $id) { blendId status songs { songId weight } midiUrl } }"


def test_a_blend_created_through_graphql_is_the_blend_rest_creates(stack: LocalStack) -> None:
    owner, other = user(stack, "gql-blend"), user(stack, "gql-peek")
    songs = [item["songId"] for item in owner.session.get(owner.url("/songs"), params={"limit": 30},
                                                          timeout=30).json()["items"][5:7]]
    knobs = {"songs": songs, "weights": [2, 1], "lengthSeconds": 20, "seed": 3}
    _, payload = gql(owner, BLEND, {"input": knobs})
    created = payload["data"]["createBlend"]
    rest = owner.session.post(owner.url("/blends"), json=knobs, timeout=30)
    assert rest.status_code == 202 and created["status"] == rest.json()["status"] == "PENDING"
    assert created["options"] == rest.json()["options"]
    mine = settled(owner, BLEND_STATE, {"id": created["blendId"]}, "blend")
    twin = settled(owner, BLEND_STATE, {"id": rest.json()["blendId"]}, "blend")
    assert mine["status"] == twin["status"] == "COMPLETE" and mine["songs"] == twin["songs"]
    assert requests.get(mine["midiUrl"], timeout=30).content == requests.get(twin["midiUrl"], timeout=30).content

    _, payload = gql(other, BLEND_STATE, {"id": created["blendId"]})
    assert refusal(payload) == {"code": "NOT_FOUND"}
    _, payload = gql(other, "mutation($id: ID!) { deleteBlend(blendId: $id) { success } }", {"id": created["blendId"]})
    assert refusal(payload) == {"code": "NOT_FOUND"}
    _, payload = gql(owner, BLEND, {"input": {**knobs, "temperature": 5.0}})
    assert refusal(payload) == {"code": "BAD_USER_INPUT", "field": "input.temperature"}



TRANSCRIBE = """mutation($input: CreateTranscriptionInput!) {
  createTranscription(input: $input) { transcriptionId status source upload { url fields contentTypes } }
}"""
TRANSCRIPTION = """query($id: ID!) {
  transcription(transcriptionId: $id) { status instrument capo durationSeconds noteCount key errorMessage }
}"""


def test_a_transcription_created_through_graphql_is_the_one_rest_creates(stack: LocalStack, tmp_path: Path) -> None:
    owner, other = user(stack, "gql-listen"), user(stack, "gql-ear")
    data = write(tmp_path / "tone.wav", 3.0).read_bytes()
    options = {"instrument": "guitar", "capo": 1, "contentType": "audio/wav", "sizeBytes": len(data)}
    _, payload = gql(owner, TRANSCRIBE, {"input": options})
    created = payload["data"]["createTranscription"]
    rest = owner.session.post(owner.url("/transcriptions"), json=options, timeout=30)
    assert rest.status_code == 201 and created["status"] == rest.json()["status"] == "PENDING"
    assert created["source"] == {"kind": "upload"} and created["upload"]["contentTypes"] == ["audio/wav"]
    for form in (created["upload"], rest.json()["upload"]):
        posted = requests.post(form["url"], data=form["fields"], files={"file": ("tone.wav", data, "audio/wav")},
                               timeout=60)
        assert posted.status_code == 204, posted.text
    mine = settled(owner, TRANSCRIPTION, {"id": created["transcriptionId"]}, "transcription")
    twin = settled(owner, TRANSCRIPTION, {"id": rest.json()["transcriptionId"]}, "transcription")
    assert mine == twin and mine["instrument"] == "guitar" and mine["capo"] == 1, (mine, twin)

    _, payload = gql(other, TRANSCRIPTION, {"id": created["transcriptionId"]})
    assert refusal(payload) == {"code": "NOT_FOUND"}
    delete = "mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { success } }"
    assert refusal(gql(other, delete, {"id": created["transcriptionId"]})[1]) == {"code": "NOT_FOUND"}
    _, payload = gql(owner, TRANSCRIBE, {"input": {"capo": 13}})
    assert refusal(payload) == {"code": "BAD_USER_INPUT", "field": "input.capo"}
    assert gql(owner, delete, {"id": created["transcriptionId"]})[1]["data"]["deleteTranscription"] == {
        "success": True}
    assert owner.session.get(owner.url(f"/transcriptions/{created['transcriptionId']}"), timeout=30).status_code == 404


MAP = "mutation($input: CreateMapInput!) { createMap(input: $input) { mapId status sourceKind sourceId } }"
MAP_STATE = "query($id: ID!) { map(mapId: $id) { status sourceKind sourceId difficulty errorMessage tempoBpm } }"


def test_a_map_created_through_graphql_is_the_one_rest_creates(stack: LocalStack, tmp_path: Path) -> None:
    owner, other = user(stack, "gql-drums"), user(stack, "gql-snoop")
    data = write(tmp_path / "pad.wav", 6.0).read_bytes()
    forms = owner.session.post(owner.url("/tracks/uploads"), json={"files": [
        {"fileName": "pad.wav", "contentType": "audio/wav", "sizeBytes": len(data)}]}, timeout=30).json()["files"]
    form = forms[0]["upload"]
    assert requests.post(form["url"], data=form["fields"], files={"file": ("pad.wav", data, "audio/wav")},
                         timeout=60).status_code == 204
    track_id = forms[0]["trackId"]
    assert settled(owner, TRACK, {"id": track_id}, "track")["status"] == "READY"

    _, payload = gql(owner, MAP, {"input": {"trackId": track_id, "difficulty": "easy"}})
    created = payload["data"]["createMap"]
    rest = owner.session.post(owner.url("/maps"), json={"trackId": track_id, "difficulty": "easy"}, timeout=30)
    assert rest.status_code == 202 and created["status"] == rest.json()["status"] == "PENDING"
    assert (created["sourceKind"], created["sourceId"]) == (rest.json()["source"]["kind"], rest.json()["source"]["id"])
    mine = settled(owner, MAP_STATE, {"id": created["mapId"]}, "map")
    twin = settled(owner, MAP_STATE, {"id": rest.json()["mapId"]}, "map")
    assert mine == twin and mine["difficulty"] == "easy", (mine, twin)

    _, payload = gql(other, MAP, {"input": {"trackId": track_id}})
    assert refusal(payload) == {"code": "NOT_FOUND"}
    delete = "mutation($id: ID!) { deleteMap(mapId: $id) { success } }"
    assert refusal(gql(other, delete, {"id": created["mapId"]})[1]) == {"code": "NOT_FOUND"}
    _, payload = gql(owner, MAP, {"input": {"trackId": track_id, "difficulty": "insane"}})
    assert refusal(payload) == {"code": "BAD_USER_INPUT", "field": "input.difficulty"}
    assert gql(owner, delete, {"id": created["mapId"]})[1]["data"]["deleteMap"] == {"success": True}
    assert owner.session.get(owner.url(f"/maps/{created['mapId']}"), timeout=30).status_code == 404


PROPOSE = """mutation($id: ID!, $input: ProposeMapEditInput!) {
  proposeMapEdit(mapId: $id, input: $input) { editId state diff }
}"""
VOTE = """mutation($id: ID!, $input: VoteOnEditInput!) {
  voteOnEdit(editId: $id, input: $input) { state approvals appliedVersion }
}"""


def test_an_edit_proposed_and_approved_through_graphql_publishes_a_version(
        stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> None:
    # administrators (the token's `admin` group) vote at once: no account age to wait for, the clock left alone
    map_id = make_public_map(stack, tmp_path_factory.mktemp("graphql-map"), "admiral's hornpipe")["mapId"]
    fixer, admin1, admin2 = member(stack, "gql-fixer"), member(stack, "gql-admin", ("admin",)), \
        member(stack, "gql-admin", ("admin",))
    state, before = current(fixer, map_id)
    base = state["version"]
    _, payload = gql(fixer, PROPOSE, {"id": map_id, "input": {"baseVersion": base, "patch": tempo_patch(before, 0.25)}})
    proposed = payload["data"]["proposeMapEdit"]
    assert proposed["state"] == "pending", payload
    edit_id = proposed["editId"]
    rest = fixer.session.get(fixer.url(f"/edits/{edit_id}"), timeout=30).json()
    assert rest["author"] == fixer.user and rest["baseVersion"] == base and rest["diff"] == proposed["diff"]

    assert refusal(gql(fixer, VOTE, {"id": edit_id, "input": {"decision": "approve"}})[1]) == {"code": "FORBIDDEN"}
    assert gql(admin1, VOTE, {"id": edit_id, "input": {"decision": "approve"}})[1]["data"]["voteOnEdit"] == {
        "state": "pending", "approvals": 1, "appliedVersion": None}
    assert refusal(gql(admin1, VOTE, {"id": edit_id, "input": {"decision": "approve"}})[1]) == {"code": "CONFLICT"}
    _, payload = gql(admin2, VOTE, {"id": edit_id, "input": {"decision": "approve"}})
    assert payload["data"]["voteOnEdit"] == {"state": "applied", "approvals": 2, "appliedVersion": base + 1}, payload
    state, after = current(fixer, map_id)
    assert state["version"] == base + 1 and after["tempoBpm"] == pytest.approx(before["tempoBpm"] + 0.25)
    told = fixer.session.get(fixer.url("/me/notifications"), timeout=30).json()["items"]
    assert ("edit-decided", {"kind": "edit", "id": edit_id}) in [(n["kind"], n["entity"]) for n in told]
