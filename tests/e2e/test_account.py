"""The caller's data, end to end: export everything as a manifest of presigned URLs, then erase it all."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from local_stack.stack import LocalStack
from tests.audiogen import tagged_flac
from tests.e2e.conftest import ROOT, SAMPLE, Client
from tests.e2e.test_blend import Blender, own_tune
from tests.e2e.test_track_library import Library

pytestmark = pytest.mark.e2e


def objects(stack: LocalStack, user: str) -> list[str]:
    s3, bucket, keys = stack.client("s3"), stack.template.names["MediaBucket"], []
    for prefix in ("images", "analysis", "midi", "audio", "library", "listen", "blends", "exports", "maps/work"):
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{user}/")
        keys += [o["Key"] for o in listing.get("Contents", [])]
    return keys


def _fingerprinted(stack: LocalStack, user: str) -> int:
    """The user's audio items in the fingerprint index (a scan: the test's view, never the product's)."""
    table = stack.template.names["FingerprintsTable"]
    pages = stack.client("dynamodb").get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, FilterExpression="begins_with(pk, :a) AND #scope = :user",
        ExpressionAttributeNames={"#scope": "scope"}, ExpressionAttributeValues={":a": {"S": "a#"}, ":user": {"S": user}})
    return sum(len(page["Items"]) for page in pages)


def _connection_items(stack: LocalStack, user: str) -> list[dict]:
    """Items of the live-progress table that name the user (a scan: the test's view, never the product's)."""
    pages = stack.client("dynamodb").get_paginator("scan").paginate(
        TableName=stack.template.names["ConnectionsTable"], ConsistentRead=True,
        FilterExpression="userId = :user OR contains(pk, :user)", ExpressionAttributeValues={":user": {"S": user}})
    return [item for page in pages for item in page["Items"]]


def _catalog_keys(stack: LocalStack, song_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.template.names["MediaBucket"], Prefix=f"catalog/{song_id}/")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_export_then_delete_everything(stack: LocalStack, tmp_path: Path) -> None:
    user = f"leaver-{time.monotonic_ns()}"
    me, other = Library(stack, user), Library(stack, f"stayer-{time.monotonic_ns()}")
    job = me.create(durationSeconds=15)
    assert me.upload(job, SAMPLE.read_bytes()).status_code == 204
    assert me.wait(job["jobId"])["status"] == "COMPLETE"
    flac = tagged_flac(tmp_path / "a.flac", 2.0)
    track = me.add(flac, "audio/flac")
    assert me.settled(track["trackId"])["status"] == "READY"
    me.grade(track["trackId"], 4)
    transcription = me.session.post(me.url("/transcriptions"), json={"trackId": track["trackId"]}, timeout=30)
    assert transcription.status_code == 202, transcription.text
    transcription_id = transcription.json()["transcriptionId"]
    deadline = time.monotonic() + 120
    while me.session.get(me.url(f"/transcriptions/{transcription_id}"), timeout=30).json()["status"] in (
            "PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the transcription did not finish"
        time.sleep(0.2)
    groove = me.add(ROOT / "events/maps/groove.mp3", "audio/mpeg")  # fingerprinted as it becomes READY
    assert me.settled(groove["trackId"], timeout=90)["status"] == "READY"
    drum_map = me.session.post(me.url("/maps"), json={"trackId": groove["trackId"]}, timeout=30)
    assert drum_map.status_code == 202, drum_map.text
    map_id = drum_map.json()["mapId"]
    deadline = time.monotonic() + 120
    while (map_state := me.session.get(me.url(f"/maps/{map_id}"), timeout=30).json())["status"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the map did not finish"
        time.sleep(0.2)
    assert map_state["status"] == "COMPLETE", map_state
    assert _fingerprinted(stack, user) == 1
    kept = other.add(flac, "audio/flac")
    assert other.settled(kept["trackId"])["status"] == "READY"
    blender = Blender(stack, user)
    song = blender.song_settled(blender.upload_song(own_tune(), title="Leaving Tune")["songId"])
    assert song["status"] == "READY"
    deadline = time.monotonic() + 60
    while blender.song(song["songId"]).json()["previewStatus"] == "RENDERING":  # its files are part of the export
        assert time.monotonic() < deadline, "the song's preview did not finish"
        time.sleep(0.2)
    seed = blender.search(limit=1).json()["items"][0]["songId"]
    blend = blender.finished(blender.blend(songs=[song["songId"], seed], lengthSeconds=15).json()["blendId"])
    assert blend["status"] == "COMPLETE", blend

    export = me.session.get(me.url("/me/export"), timeout=60)
    assert export.status_code == 200, export.text
    body = export.json()
    assert body["counts"] == {"generations": 1, "tracks": 2, "transcriptions": 1, "blends": 1, "songs": 1, "maps": 1,
                              "notifications": 1}  # the map's "map-finished"
    assert body["expiresInSeconds"] <= 900
    manifest = requests.get(body["manifestUrl"], timeout=30).json()
    assert manifest["userId"] == user
    (generation,) = manifest["generations"]
    assert set(generation["files"]) == {"picture", "midi", "audio", "preview"}
    assert requests.get(generation["files"]["midi"], timeout=30).content[:4] == b"MThd"
    assert [t["transcriptionId"] for t in manifest["transcriptions"]] == [transcription_id]
    assert [b["blendId"] for b in manifest["blends"]] == [blend["blendId"]]
    assert requests.get(manifest["blends"][0]["files"]["midi"], timeout=30).content[:4] == b"MThd"
    assert [s["songId"] for s in manifest["songs"]] == [song["songId"]]
    assert requests.get(manifest["songs"][0]["files"]["midi"], timeout=30).content == own_tune()
    (entry,) = [t for t in manifest["tracks"] if t["trackId"] == track["trackId"]]
    assert [m["mapId"] for m in manifest["maps"]] == [map_id]
    assert [n["entity"]["id"] for n in manifest["notifications"]] == [map_id]
    assert manifest["plan"]["plan"] == "free" and "email" in manifest
    assert requests.get(manifest["maps"][0]["files"]["map"], timeout=30).json()["lanes"]
    assert entry["name"] == "Blue Hour" and [r["grade"] for r in entry["reviews"]] == [4]
    assert requests.get(entry["files"]["original"], timeout=30).content == flac.read_bytes()

    with connect(f"{stack.ws_url}?token={stack.token(user)}", open_timeout=10) as live:  # following a job live
        live.send(json.dumps({"action": "subscribe", "kind": "generation", "id": job["jobId"]}))
        assert json.loads(live.recv(timeout=10))["action"] == "subscribed"
        assert _connection_items(stack, user)
        deleted = me.session.delete(me.url("/me"), timeout=60)
        assert deleted.status_code == 200, deleted.text
        with pytest.raises(ConnectionClosed):  # the erase closed the socket ...
            live.recv(timeout=10)
    removed = deleted.json()["removed"]
    assert removed["connections"] == 1
    assert _connection_items(stack, user) == []  # ... and nothing in the table names the user
    assert (removed["generations"], removed["tracks"], removed["transcriptions"], removed["blends"],
            removed["songs"], removed["maps"], removed["notifications"]) == (1, 2, 1, 1, 1, 1, 1)
    assert _fingerprinted(stack, user) == 0  # the tracks' fingerprints left the index
    assert requests.get(map_state["mapUrl"], timeout=30).status_code in (403, 404)  # the map document is gone
    assert removed["objects"] >= 9
    assert objects(stack, user) == []
    assert me.get(job["jobId"]).status_code == 404
    assert me.session.get(me.url(f"/transcriptions/{transcription_id}"), timeout=30).status_code == 404
    assert me.session.get(me.url("/tracks"), timeout=30).json()["items"] == []
    assert blender.song(song["songId"]).status_code == 404
    assert not [key for key in _catalog_keys(stack, song["songId"])]
    assert blender.get_blend(blend["blendId"]).status_code == 404
    again = me.session.delete(me.url("/me"), timeout=60).json()["removed"]
    assert again == {"generations": 0, "tracks": 0, "transcriptions": 0, "blends": 0, "songs": 0, "maps": 0,
                     "fingerprints": 0, "preferences": 0, "objects": 0, "communityItemsAnonymized": 0, "karmaItems": 0,
                     "notifications": 0, "billingCustomerLinks": 0, "mapsKept": 0,
                     "connections": 0}
    # Nobody else lost anything.
    assert other.track(kept["trackId"]).json()["status"] == "READY" and objects(stack, other.user)


def test_export_and_delete_need_a_token(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api_url}/me/export", timeout=30).status_code == 401
    assert requests.delete(f"{stack.api_url}/me", timeout=30).status_code == 401
    assert Client(stack, "nobody-yet").session.get(f"{stack.api_url}/me/export", timeout=30).json()["counts"] == {
        "generations": 0, "tracks": 0, "transcriptions": 0, "blends": 0, "songs": 0, "maps": 0, "notifications": 0}


def export_key(stack: LocalStack, client: Client) -> tuple[str, str]:
    """(manifest URL, its object key) of a fresh export."""
    response = client.session.get(client.url("/me/export"), timeout=60)
    assert response.status_code == 200, response.text
    url = response.json()["manifestUrl"]
    bucket, _, key = unquote(urlsplit(url).path).lstrip("/").partition("/")
    assert bucket == stack.template.names["MediaBucket"]
    return url, key


def test_export_keys_cannot_be_guessed_and_another_users_export_url_is_refused(stack: LocalStack) -> None:
    alice, mallory = Client(stack, f"alice-{time.monotonic_ns()}"), Client(stack, f"mallory-{time.monotonic_ns()}")
    _, first = export_key(stack, alice)
    _, second = export_key(stack, alice)
    mallory_url, mallory_key = export_key(stack, mallory)

    prefix = f"exports/{alice.user}/"
    names = [key.removeprefix(prefix) for key in (first, second)]
    assert first.startswith(prefix) and second.startswith(prefix) and mallory_key.startswith(f"exports/{mallory.user}/")
    # No time, counter or other guessable part: 32 URL-safe characters (192 random bits) and ".json".
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}\.json", name) for name in names), names
    assert names[0] != names[1]

    swapped = requests.get(mallory_url.replace(mallory_key, first), timeout=30)
    assert swapped.status_code == 403 and b"SignatureDoesNotMatch" in swapped.content
    assert requests.get(mallory_url, timeout=30).json()["userId"] == mallory.user

    # The erase still finds every export under the user's prefix.
    assert alice.session.delete(alice.url("/me"), timeout=60).json()["removed"]["objects"] == 2
    assert objects(stack, alice.user) == []
