"""Identity and quotas end to end. Identity: the API's own token authorizer verifies ID tokens from the local identity
provider (a JWKS served like Cognito's), exactly the code that runs behind API Gateway in AWS."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.idp import LocalIdentityProvider
from local_stack.stack import LocalStack
from tests.e2e.conftest import ShiftableClock

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def get(stack: LocalStack, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{stack.api_url}{path}", headers=headers, timeout=30)


def test_a_valid_token_names_the_caller(stack: LocalStack) -> None:
    response = get(stack, "/generations", stack.token("ivy"))
    assert response.status_code == 200 and response.json()["items"] == []
    assert get(stack, "/health", None).status_code == 200  # the one route without an authorizer


@pytest.mark.parametrize(("case", "forge"), [
    ("expired", lambda stack, tmp: stack.token("ivy", exp=1_000_000_000, iat=999_996_400)),
    ("other audience", lambda stack, tmp: stack.token("ivy", aud="someone-elses-client")),
    ("other issuer", lambda stack, tmp: stack.token("ivy", iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x")),
    ("access token", lambda stack, tmp: stack.token("ivy", token_use="access")),
    ("another key", lambda stack, tmp: LocalIdentityProvider(tmp / "other.pem").issue("ivy")),
    ("tampered", lambda stack, tmp: _tamper(stack.token("ivy"))),
    ("malformed", lambda stack, tmp: "not-a-jwt"),
    ("empty", lambda stack, tmp: ""),
])
def test_bad_tokens_get_401_json(stack: LocalStack, tmp_path: Path, case: str, forge: Any) -> None:
    response = get(stack, "/tracks", forge(stack, tmp_path))
    assert response.status_code == 401, (case, response.text)
    assert response.json() == {"message": "Unauthorized"}


def test_no_token_is_401_and_no_header_picks_a_user(stack: LocalStack) -> None:
    assert get(stack, "/generations", None).status_code == 401
    response = requests.get(f"{stack.api_url}/generations", headers={"X-SoundCanvas-User": "ivy"}, timeout=30)
    assert response.status_code == 401


def test_the_token_command_prints_a_token_the_stack_accepts(stack: LocalStack) -> None:
    done = subprocess.run([sys.executable, "-m", "local_stack", "token", "ivy"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert get(stack, "/tracks", done.stdout.strip()).status_code == 200


def test_the_jwks_is_published_like_cognitos(stack: LocalStack) -> None:
    from local_stack.idp import JWKS_PATH

    keys = requests.get(f"{stack.endpoint}{JWKS_PATH}", timeout=10).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"], k["kid"]) for k in keys] == [("RSA", "RS256", "sig", stack.idp.kid)]


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_quota_counters_hold_under_concurrent_requests(stack: LocalStack, clock: ShiftableClock) -> None:
    """16 clients take from a quota of 10 at once through the local DynamoDB endpoint: exactly 10 win."""
    from soundcanvas.core.quotas import Quota, QuotaExceeded, QuotaStore

    clock.to_window_start(900)
    store = QuotaStore(stack.template.names["QuotasTable"], "us-east-1", host=stack.endpoint, clock=stack.clock)
    quota, results = Quota("generations", 10, 900), []
    barrier = threading.Barrier(16)

    def one() -> None:
        barrier.wait()
        try:
            store.take("racer", quota)
            results.append("granted")
        except QuotaExceeded:
            results.append("refused")

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count("granted") == 10 and len(results) == 16


def test_over_quota_is_429_with_retry_after(stack: LocalStack, clock: ShiftableClock) -> None:
    token = stack.token("prolific")  # before the clock moves: the token authorizer reads the real time
    clock.to_window_start(int(stack.template.parameters["TrackUploadQuotaWindowSeconds"]))
    answers = [requests.post(f"{stack.api_url}/tracks/uploads", timeout=30, headers={"Authorization": f"Bearer {token}"},
                             json={"files": [{"fileName": f"{n}-{i}.mp3", "contentType": "audio/mpeg", "sizeBytes": 9}
                                             for i in range(50)]})
               for n in range(5)]
    assert [a.status_code for a in answers] == [201, 201, 201, 201, 429]  # 200 track uploads per day
    assert int(answers[-1].headers["Retry-After"]) > 0 and "200 track uploads per day" in answers[-1].json()["message"]


def test_every_route_with_another_users_ids_is_404_and_changes_nothing(stack: LocalStack, tmp_path: Path) -> None:
    from tests.audiogen import tagged_flac
    from tests.e2e.conftest import SAMPLE
    from tests.e2e.test_track_library import Library

    owner, intruder = Library(stack, f"owner-{time.monotonic_ns()}"), Library(stack, f"intruder-{time.monotonic_ns()}")
    job = owner.create(durationSeconds=15)
    assert owner.upload(job, SAMPLE.read_bytes()).status_code == 204
    job_id = job["jobId"]
    assert owner.wait(job_id)["status"] == "COMPLETE"
    track_id = owner.add(tagged_flac(tmp_path / "a.flac"), "audio/flac")["trackId"]
    assert owner.settled(track_id)["status"] == "READY"
    started = owner.session.post(owner.url("/transcriptions"), json={"trackId": track_id}, timeout=30)
    assert started.status_code == 202, started.text
    tid = started.json()["transcriptionId"]
    deadline = time.monotonic() + 120
    while owner.session.get(owner.url(f"/transcriptions/{tid}"), timeout=30).json()["status"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the transcription did not finish"
        time.sleep(0.2)
    transcription_before = owner.session.get(owner.url(f"/transcriptions/{tid}"), timeout=30).json()
    from tests.e2e.test_blend import Blender, own_tune

    blender = Blender(stack, owner.user)
    song_id = blender.song_settled(blender.upload_song(own_tune(), title="Owner's Own")["songId"])["songId"]
    seed_song = blender.search(limit=1).json()["items"][0]["songId"]
    blend_id = blender.finished(blender.blend(songs=[song_id, seed_song], lengthSeconds=15).json()["blendId"])["blendId"]
    map_id = owner.session.post(owner.url("/maps"), json={"trackId": track_id}, timeout=30).json()["mapId"]
    deadline = time.monotonic() + 60
    while owner.session.get(owner.url(f"/maps/{map_id}"), timeout=30).json()["status"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the map did not finish"
        time.sleep(0.2)
    map_before = owner.session.get(owner.url(f"/maps/{map_id}"), timeout=30).json()
    before = (owner.get(job_id).json(), owner.track(track_id).json())
    key = f"library/{owner.user}/{track_id}/original.flac"
    attempts = {
        ("GET", "/generations/{jobId}"): ("GET", f"/generations/{job_id}", None),
        ("POST", "/generations/{jobId}/regenerate"): ("POST", f"/generations/{job_id}/regenerate", {}),
        ("DELETE", "/generations/{jobId}"): ("DELETE", f"/generations/{job_id}", None),
        ("GET", "/tracks/{trackId}"): ("GET", f"/tracks/{track_id}", None),
        ("PATCH", "/tracks/{trackId}"): ("PATCH", f"/tracks/{track_id}", {"name": "mine now"}),
        ("DELETE", "/tracks/{trackId}"): ("DELETE", f"/tracks/{track_id}", None),
        ("POST", "/grade"): ("POST", "/grade", {"trackId": track_id, "grade": 5}),
        ("POST", "/tracks"): ("POST", "/tracks", {"generationId": job_id}),
        ("POST", "/tracks files"): ("POST", "/tracks", {"files": [{"trackId": track_id, "fileName": "a.flac", "key": key}]}),
        ("GET", "/transcriptions/{transcriptionId}"): ("GET", f"/transcriptions/{tid}", None),
        ("GET", "/transcriptions/{transcriptionId}/result"): ("GET", f"/transcriptions/{tid}/result", None),
        ("POST", "/transcriptions/{transcriptionId}/tab"): ("POST", f"/transcriptions/{tid}/tab", {"capo": 1}),
        ("DELETE", "/transcriptions/{transcriptionId}"): ("DELETE", f"/transcriptions/{tid}", None),
        ("POST", "/transcriptions"): ("POST", "/transcriptions", {"trackId": track_id}),
        ("GET", "/songs/{songId}"): ("GET", f"/songs/{song_id}", None),
        ("DELETE", "/songs/{songId}"): ("DELETE", f"/songs/{song_id}", None),
        ("POST", "/blends"): ("POST", "/blends", {"songs": [song_id, seed_song]}),
        ("GET", "/blends/{blendId}"): ("GET", f"/blends/{blend_id}", None),
        ("GET", "/blends/{blendId}/download"): ("GET", f"/blends/{blend_id}/download", None),
        ("DELETE", "/blends/{blendId}"): ("DELETE", f"/blends/{blend_id}", None),
        ("GET", "/maps/{mapId}"): ("GET", f"/maps/{map_id}", None),
        ("DELETE", "/maps/{mapId}"): ("DELETE", f"/maps/{map_id}", None),
        ("POST", "/maps track"): ("POST", "/maps", {"trackId": track_id}),
        ("POST", "/maps song"): ("POST", "/maps", {"songId": song_id}),
        ("POST", "/songs/{songId}/audio"): ("POST", f"/songs/{song_id}/audio", {"contentType": "audio/mpeg"}),
        # a map of a library track is private: the community routes do not see it either
        ("POST", "/maps/{mapId}/edits"): ("POST", f"/maps/{map_id}/edits", {
            "baseVersion": 1, "patch": [{"op": "replace", "path": "/tempoBpm", "value": 99.0}]}),
        ("GET", "/maps/{mapId}/versions"): ("GET", f"/maps/{map_id}/versions", None),
        ("GET", "/maps/{mapId}/versions/{version}"): ("GET", f"/maps/{map_id}/versions/1", None),
        ("POST", "/maps/{mapId}/verify"): ("POST", f"/maps/{map_id}/verify", {"version": 1}),
    }
    # Public by design: edits are proposed on public maps only and anyone signed in reviews them; a karma
    # ledger is public (docs/maps.md). Their rules are tested in tests/e2e/test_maps_community.py.
    public = {("GET", "/edits/{editId}"), ("POST", "/edits/{editId}/votes"), ("POST", "/edits/{editId}/revert"),
              ("GET", "/users/{userId}/karma"), ("POST", "/users/{userId}/karma")}
    routes = {(r.method, r.path) for fn in stack.template.functions.values() for r in fn.routes if "{" in r.path}
    assert routes - public <= set(attempts), routes - public - set(attempts)  # every route that takes an id is tried
    for (method, path, body) in attempts.values():
        response = intruder.session.request(method, intruder.url(path), json=body, timeout=30)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "message" in response.json()
    assert intruder.session.get(intruder.url("/tracks/lookup"), params={"fileName": "a.flac"}, timeout=30).json()[
        "trackIds"] == []
    stack.wait_idle(60)
    after = (owner.get(job_id).json(), owner.track(track_id).json())
    assert [(a["status"], a["updatedAt"]) for a in after] == [(b["status"], b["updatedAt"]) for b in before]
    assert after[1]["name"] == before[1]["name"] and after[1]["review"] == before[1]["review"]
    assert blender.song(song_id).json()["status"] == "READY"
    assert blender.get_blend(blend_id).json()["status"] == "COMPLETE"
    assert song_id not in [item["songId"] for item in intruder.session.get(
        intruder.url("/songs"), params={"q": "owners own"}, timeout=30).json()["items"]]
    assert owner.session.get(owner.url(f"/maps/{map_id}"), timeout=30).json() == map_before
    transcription_after = owner.session.get(owner.url(f"/transcriptions/{tid}"), timeout=30).json()
    assert (transcription_after["status"], transcription_after["updatedAt"], transcription_after["capo"]) == (
        transcription_before["status"], transcription_before["updatedAt"], transcription_before["capo"])
