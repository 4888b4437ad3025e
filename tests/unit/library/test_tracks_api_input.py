"""The track library API against what a careless or hostile client sends: names with control
characters, paths or dots; refused requests that must not spend quota; edited cursors; bodies
built to break the parser. Each case answered 5xx, stored the text or locked users out before."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from soundcanvas.library.tracks import TrackStore
from tests.apigw import call, event
from tests.unit.library.test_tracks_api import direct_event, multipart, ready_track, track_path

BAD_NAMES = [("Blue\x00Hour", "control"), ("Blue\x1b[31mHour", "control"), ("  ", "blank"), ("..", "dots"),
             ("evil\u202eplh.mp3", "control")]


@pytest.mark.parametrize(("value", "says"), BAD_NAMES)
@pytest.mark.parametrize("field", ["name", "artist", "album", "tags"])
def test_edits_refuse_names_no_one_can_read(api: Any, store: TrackStore, field: str, value: str, says: str) -> None:
    ready_track(store, "alice", "t1")
    body = {field: [value] if field == "tags" else value}
    status, payload = call(api, event("PATCH", body=body, **track_path("t1")))
    assert status == 400 and says in payload["message"], payload
    assert payload["errors"][0]["field"].startswith(field)
    assert store.get("alice", "t1")["name"] == "A"  # nothing stored


@pytest.mark.parametrize(("file_name", "says"), [*BAD_NAMES, ("a/b.mp3", "/"), ("x" * 256 + ".mp3", "255")])
def test_direct_uploads_refuse_the_same_names(api: Any, aws: dict[str, Any], file_name: str, says: str) -> None:
    ctype, body = multipart([("file", "a.mp3", "audio/mpeg", b"ID3" + bytes(600)), ("fileName", None, None,
                                                                                       file_name.encode())])
    status, payload = call(api, direct_event(ctype, body))
    assert status == 400 and payload["errors"][0]["field"] == "fileName" and says in payload["message"], payload
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="library/alice/")


def test_upload_forms_refuse_the_same_names(api: Any) -> None:
    for file_name, says in BAD_NAMES:
        files = [{"fileName": file_name, "contentType": "audio/flac", "sizeBytes": 10}]
        status, payload = call(api, event("POST", "/tracks/uploads", body={"files": files}))
        assert status == 400 and says in payload["message"] and payload["errors"][0]["field"] == "files.0.fileName"


def test_refused_registrations_spend_no_quota(api: Any) -> None:
    files = [{"trackId": f"t{i}", "fileName": f"{i}.flac", "key": f"library/alice/t{i}/original.flac"} for i in range(50)]
    for _ in range(4):  # 200 keys that were never uploaded: the probe's lock-out for 22 hours
        status, payload = call(api, event("POST", "/tracks", body={"files": files}))
        assert status == 400 and "upload it first" in payload["message"]
    forms = [{"fileName": f"{i}.flac", "contentType": "audio/flac", "sizeBytes": 10} for i in range(50)]
    status, payload = call(api, event("POST", "/tracks/uploads", body={"files": forms}))
    assert status == 201, payload


def test_an_edited_cursor_of_the_callers_own_is_400(api: Any, store: TrackStore) -> None:
    for i in range(2):
        ready_track(store, "alice", f"t{i}")
    _, page = call(api, event("GET", "/tracks", query={"limit": "1"}))
    key = json.loads(base64.urlsafe_b64decode(page["nextCursor"] + "=" * (-len(page["nextCursor"]) % 4)))
    key["createdAt"] = {"N": "x"}
    edited = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    for path in ("/tracks", "/downloads"):
        status, payload = call(api, event("GET", path, query={"cursor": edited}))
        assert status == 400 and payload["errors"][0]["field"] == "cursor"


def test_a_body_nested_a_thousand_deep_is_400(api: Any) -> None:
    status, payload = call(api, event("POST", "/tracks/uploads", body='{"files": ' + "[" * 1000 + "]" * 1000 + "}"))
    assert status == 400 and "levels deep" in payload["message"]


def test_a_boolean_is_not_a_size(api: Any) -> None:
    files = [{"fileName": "a.flac", "contentType": "audio/flac", "sizeBytes": True}]
    status, payload = call(api, event("POST", "/tracks/uploads", body={"files": files}))
    assert status == 400 and payload["errors"][0]["field"] == "files.0.sizeBytes"
