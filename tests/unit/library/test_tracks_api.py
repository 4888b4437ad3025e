"""The track library API against moto: upload forms, registration, the library, Guess the Track."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import unquote

import pytest

from soundcanvas.core import inputs, storage
from soundcanvas.generation import jobs
from soundcanvas.library.tracks import TrackStore
from tests.apigw import call, event
from tests.conftest import ManualClock, record_dynamodb_calls

DAY = 86400


def track_path(track_id: str) -> dict[str, Any]:
    return {"path": f"/tracks/{track_id}", "resource": "/tracks/{trackId}", "path_params": {"trackId": track_id}}


def uploads(api: Any, *files: dict[str, Any], user: str = "alice") -> list[dict[str, Any]]:
    status, payload = call(api, event("POST", "/tracks/uploads", user=user, body={"files": list(files)}))
    assert status == 201, payload
    return list(payload["files"])


def flac(name: str = "Nadia K - Blue Hour.flac", size: int = 1000) -> dict[str, Any]:
    return {"fileName": name, "contentType": "audio/flac", "sizeBytes": size}


def ready_track(store: TrackStore, user: str, track_id: str, *, file_name: str = "a.mp3", name: str = "A",
                artist: str | None = None, duration: float = 200.0, due_at: float | None = None) -> None:
    """A READY track, made through the same store calls the workflow makes."""
    store.create(user, track_id, file_name=file_name, source="upload")
    key = storage.original_key(user, track_id, "mp3")
    claimed = store.claim(user, track_id, key=key, etag=f'"{track_id}"', version=track_id[:8], size=10,
                          file_name=file_name, source="upload")
    assert claimed is not None
    store.set_metadata(user, track_id, track_id[:8], {"name": name, "artist": artist, "durationSeconds": duration,
                                                        "artistKey": artist.lower() if artist else None,
                                                        "searchText": f"{name} {artist or ''}".lower()})
    assert store.mark_ready(user, track_id, track_id[:8], mp3_key=key, due_at=int(due_at or store.clock()))


# --- uploads -------------------------------------------------------------------------------------
def test_upload_forms_enforce_type_and_size_and_carry_the_file_name(api: Any, store: TrackStore) -> None:
    (item,) = uploads(api, flac("Björk \u2013 Jóga.flac"))
    fields = item["upload"]["fields"]
    assert fields["key"] == f"library/alice/{item['trackId']}/original.flac"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, 200 * 1024 * 1024] in policy["conditions"]
    assert {"Content-Type": "audio/flac"} in policy["conditions"]
    assert unquote(fields["x-amz-meta-file-name"]) == "Björk \u2013 Jóga.flac"
    assert {"x-amz-meta-file-name": fields["x-amz-meta-file-name"]} in policy["conditions"]
    assert item["replaces"] is False and item["upload"]["maxBytes"] == 200 * 1024 * 1024
    record = store.get("alice", item["trackId"])
    assert record["status"] == "UPLOADING" and record["fileName"] == "Björk \u2013 Jóga.flac"


def test_each_upload_form_carries_its_own_signed_form_id(api: Any, store: TrackStore) -> None:
    (first,) = uploads(api, flac("a.flac"))
    (second,) = uploads(api, flac("a.flac"))
    ids = []
    for item in (first, second):
        fields = item["upload"]["fields"]
        policy = json.loads(base64.b64decode(fields["policy"]))
        assert {"x-amz-meta-form-id": fields["x-amz-meta-form-id"]} in policy["conditions"]
        ids.append(fields["x-amz-meta-form-id"])
    assert first["trackId"] == second["trackId"] and ids[0] != ids[1]
    assert store.open_forms("alice", first["trackId"]) == set(ids)


def test_forms_that_can_no_longer_be_claimed_are_forgotten(api: Any, store: TrackStore, clock: ManualClock) -> None:
    ready_track(store, "alice", "t1", file_name="a.flac")
    (first,) = uploads(api, flac("a.flac"))
    clock.now += 2 * 3600  # the form expired, and the grace for a late upload event has passed
    (second,) = uploads(api, flac("a.flac"))
    assert first["trackId"] == second["trackId"] == "t1"
    assert store.open_forms("alice", "t1") == {second["upload"]["fields"]["x-amz-meta-form-id"]}


def test_the_same_file_name_names_the_same_track(api: Any) -> None:
    (first,) = uploads(api, flac("set.flac"))
    (again,) = uploads(api, flac("set.flac"))
    (other_user,) = uploads(api, flac("set.flac"), user="bob")
    assert again["trackId"] == first["trackId"] and again["replaces"] is True
    assert other_user["trackId"] != first["trackId"] and other_user["replaces"] is False


def test_many_files_in_one_request(api: Any) -> None:
    items = uploads(api, *[flac(f"{i}.flac") for i in range(50)])
    assert len({i["trackId"] for i in items}) == 50


@pytest.mark.parametrize(("body", "field"), [
    ({"files": []}, "files"),
    ({"files": [flac(f"{i}.flac") for i in range(51)]}, "files"),
    ({"files": [{"fileName": "a.pdf", "contentType": "application/pdf", "sizeBytes": 10}]}, "files.0.contentType"),
    ({"files": [flac(size=200 * 1024 * 1024 + 1)]}, "files.0.sizeBytes"),
    ({"files": [flac(size=0)]}, "files.0.sizeBytes"),
    ({"files": [flac(name="dir/a.flac")]}, "files.0.fileName"),
    ({"files": [{**flac(), "extra": 1}]}, "files.0.extra"),
])
def test_bad_upload_requests_name_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    status, payload = call(api, event("POST", "/tracks/uploads", body=body))
    assert status == 400, payload
    assert field in [e["field"] for e in payload["errors"]]


def test_an_unfinished_upload_expires(api: Any, clock: ManualClock) -> None:
    (item,) = uploads(api, flac())
    assert call(api, event("GET", **track_path(item["trackId"])))[0] == 200
    clock.now += 900 + 3600 + 1
    assert call(api, event("GET", **track_path(item["trackId"])))[0] == 404
    assert call(api, event("GET", "/tracks"))[1]["items"] == []


# --- direct uploads ------------------------------------------------------------------------------
def multipart(parts: list[tuple[str, str | None, str | None, bytes]]) -> tuple[str, bytes]:
    boundary = "sc-boundary-42"
    body = b""
    for name, filename, ctype, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += (f"Content-Type: {ctype}\r\n" if ctype else "").encode() + b"\r\n" + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


def direct_event(content_type: str, body: bytes, user: str = "alice") -> dict[str, Any]:
    ev = event("POST", "/tracks/direct", user=user)
    ev["headers"] = {"Content-Type": content_type}
    ev["body"], ev["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return ev


def test_direct_upload_stores_the_original_with_its_file_name(api: Any, aws: dict[str, Any]) -> None:
    audio = b"ID3" + bytes(range(256)) * 40
    ctype, body = multipart([("file", "Mix \u2013 01.mp3", "audio/mpeg", audio)])
    status, payload = call(api, direct_event(ctype, body))
    assert status == 202, payload
    key = f"library/alice/{payload['trackId']}/original.mp3"
    obj = aws["s3"].get_object(Bucket=aws["bucket"], Key=key)
    assert obj["Body"].read() == audio and obj["ContentType"] == "audio/mpeg"
    assert unquote(obj["Metadata"]["file-name"]) == "Mix \u2013 01.mp3"


@pytest.mark.parametrize(("parts", "status", "field"), [
    ([("file", "a.pdf", "application/pdf", b"%PDF-1.4")], 415, "file"),
    ([("other", "a.mp3", "audio/mpeg", b"x")], 400, "file"),
    ([("file", "a.mp3", "audio/mpeg", b"")], 400, "file"),
])
def test_bad_direct_uploads(api: Any, parts: list[Any], status: int, field: str) -> None:
    ctype, body = multipart(parts)
    got, payload = call(api, direct_event(ctype, body))
    assert got == status, payload
    assert payload["errors"][0]["field"] == field


def test_direct_upload_over_the_limit_is_refused(api: Any) -> None:
    ctype, body = multipart([("file", "big.wav", "audio/wav", b"\0" * (inputs.DIRECT_MAX_BYTES + 1))])
    status, payload = call(api, direct_event(ctype, body))
    assert status == 413 and "POST /tracks/uploads" in payload["message"]


def test_direct_upload_must_be_multipart(api: Any) -> None:
    status, payload = call(api, event("POST", "/tracks/direct", body={"file": "x"}))
    assert status == 415 and payload["errors"][0]["field"] == "Content-Type"


# --- registration --------------------------------------------------------------------------------
def test_register_an_uploaded_object_starts_processing(api: Any, aws: dict[str, Any], store: TrackStore) -> None:
    key = storage.original_key("alice", "t1", "flac")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"fLaC")
    body = {"files": [{"trackId": "t1", "fileName": "x.flac", "key": key}]}
    status, payload = call(api, event("POST", "/tracks", body=body))
    assert status == 202, payload
    assert store.get("alice", "t1")["source"] == "registered"
    (args,) = [c.kwargs for c in api.stepfunctions().start_execution.call_args_list]
    assert json.loads(args["input"]) == {"userId": "alice", "trackId": "t1", "key": key}


@pytest.mark.parametrize(("key", "status", "message"), [
    ("library/bob/t1/original.flac", 404, "no object library/bob/t1/original.flac in your library"),
    ("library/alice/t2/original.flac", 400, "library/alice/t1/original.<ext>"),
    ("images/alice/t1/input.jpg", 400, "library/alice/t1/original.<ext>"),
    ("library/alice/t1/original.flac", 400, "no object"),
])
def test_register_refuses_foreign_or_missing_objects(api: Any, key: str, status: int, message: str) -> None:
    body = {"files": [{"trackId": "t1", "fileName": "x.flac", "key": key}]}
    got, payload = call(api, event("POST", "/tracks", body=body))
    assert got == status and message in payload["message"]
    if status == 400:
        assert payload["errors"][0]["field"] == "files.0.key"
    api.stepfunctions().start_execution.assert_not_called()


def test_register_needs_files_or_a_generation(api: Any) -> None:
    status, payload = call(api, event("POST", "/tracks", body={}))
    assert status == 400 and "either files or generationId" in payload["message"]


def test_saving_a_generation_copies_its_audio_once(api: Any, aws: dict[str, Any], store: TrackStore) -> None:
    generations = jobs.JobStore(aws["table"], "us-east-1")
    generations.create("alice", "job1", options={}, image_key="images/alice/job1/input.jpg",
                       content_type="image/jpeg", retention_days=30)
    status, payload = call(api, event("POST", "/tracks", body={"generationId": "job1"}))
    assert status == 409 and "PENDING" in payload["message"]
    assert generations.claim("alice", "job1") is not None
    audio_key = storage.audio_key("alice", "job1")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=audio_key, Body=b"RIFF....WAVE")
    generations.advance("alice", "job1", finished="render", elapsed_ms=1, next_stage="done", audioKey=audio_key,
                        params={"genre": "lofi", "key": "F", "scale": "dorian"})
    status, payload = call(api, event("POST", "/tracks", body={"generationId": "job1"}))
    assert status == 201, payload
    assert (payload["trackId"], payload["name"], payload["artist"]) == ("gen-job1", "Lofi in F dorian", "SoundCanvas")
    copied = aws["s3"].get_object(Bucket=aws["bucket"], Key="library/alice/gen-job1/original.wav")
    assert copied["Body"].read() == b"RIFF....WAVE" and copied["Metadata"]["source"] == "generation"
    assert call(api, event("POST", "/tracks", body={"generationId": "job1"}))[0] == 200
    assert call(api, event("POST", "/tracks", user="bob", body={"generationId": "job1"}))[0] == 404


# --- the library ---------------------------------------------------------------------------------
def test_get_patch_delete_and_identity(api: Any, aws: dict[str, Any], store: TrackStore) -> None:
    ready_track(store, "alice", "t1", file_name="01 teardrop.mp3", name="Teardrop")
    aws["s3"].put_object(Bucket=aws["bucket"], Key="library/alice/t1/original.mp3", Body=b"ID3")
    status, track = call(api, event("GET", **track_path("t1")))
    assert status == 200 and track["status"] == "READY"
    assert "response-content-disposition" in track["downloadUrl"] and track["streamUrl"]
    assert call(api, event("GET", user="bob", **track_path("t1")))[0] == 404
    changes = {"artist": "Massive Attack", "tags": ["trip-hop"]}
    status, edited = call(api, event("PATCH", body=changes, **track_path("t1")))
    assert status == 200 and (edited["artist"], edited["tags"], edited["name"]) == (*changes.values(), "Teardrop")
    assert store.get("alice", "t1")["edited"] == ["artist", "tags"]
    assert call(api, event("PATCH", body={}, **track_path("t1")))[0] == 400
    assert call(api, event("PATCH", user="bob", body={"name": "x"}, **track_path("t1")))[0] == 404
    assert call(api, event("DELETE", user="bob", **track_path("t1")))[0] == 404
    assert call(api, event("DELETE", **track_path("t1")))[0] == 204
    assert store.get("alice", "t1") is None
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="library/alice/t1/")
    assert call(api, event("GET", **track_path("t1")))[0] == 404


def test_list_filters_and_paginates(api: Any, store: TrackStore, clock: ManualClock) -> None:
    for i in range(7):
        clock.now += 1
        ready_track(store, "alice", f"t{i}", name=f"Song {i}", artist="Nadia K" if i % 2 else "Tom")
    ready_track(store, "bob", "b1", name="Song b")
    seen, cursor = [], None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page = call(api, event("GET", "/tracks", query=query))
        assert status == 200 and len(page["items"]) <= 3
        seen += [t["trackId"] for t in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [f"t{i}" for i in reversed(range(7))]
    by_artist = call(api, event("GET", "/tracks", query={"artist": "nadia k"}))[1]["items"]
    assert [t["trackId"] for t in by_artist] == ["t5", "t3", "t1"]
    by_text = call(api, event("GET", "/tracks", query={"q": "SONG 4"}))[1]["items"]
    assert [t["trackId"] for t in by_text] == ["t4"]
    alices_cursor = call(api, event("GET", "/tracks", query={"limit": "1"}))[1]["nextCursor"]
    assert call(api, event("GET", "/tracks", user="bob", query={"cursor": alices_cursor}))[0] == 400


def test_lookup_by_file_name(api: Any, store: TrackStore) -> None:
    ready_track(store, "alice", "t1", file_name="live.mp3")
    ready_track(store, "bob", "b1", file_name="live.mp3")
    status, found = call(api, event("GET", "/tracks/lookup", query={"fileName": "live.mp3"}))
    assert status == 200 and found["trackIds"] == ["t1"]
    assert call(api, event("GET", "/tracks/lookup", query={"fileName": "none.mp3"}))[1]["trackIds"] == []
    assert call(api, event("GET", "/tracks/lookup"))[0] == 400


def test_downloads_are_presigned_and_paginated(api: Any, store: TrackStore, clock: ManualClock) -> None:
    for i in range(3):
        clock.now += 1
        ready_track(store, "alice", f"t{i}", file_name=f"{i}.mp3")
    status, page = call(api, event("GET", "/downloads", query={"limit": "2"}))
    assert status == 200 and len(page["items"]) == 2 and page["nextCursor"]
    assert all("X-Amz-Signature" in item["originalUrl"] for item in page["items"])
    rest = call(api, event("GET", "/downloads", query={"cursor": page["nextCursor"]}))[1]
    assert [i["trackId"] for i in rest["items"]] == ["t0"] and rest["nextCursor"] is None


# --- Guess the Track -----------------------------------------------------------------------------
def grade(api: Any, track_id: str, value: Any, user: str = "alice") -> tuple[int, Any]:
    return call(api, event("POST", "/grade", user=user, body={"trackId": track_id, "grade": value}))


def test_due_lists_the_most_overdue_first_with_a_snippet(api: Any, store: TrackStore, clock: ManualClock) -> None:
    now = clock.now
    ready_track(store, "alice", "late", due_at=now - 3 * DAY, duration=240)
    ready_track(store, "alice", "later", due_at=now - 5 * DAY, duration=240)
    ready_track(store, "alice", "future", due_at=now + DAY)
    ready_track(store, "bob", "bobs", due_at=now - 9 * DAY)
    status, due = call(api, event("GET", "/due"))
    assert status == 200
    assert [i["trackId"] for i in due["items"]] == ["later", "late"]
    snippet = due["items"][0]["snippet"]
    assert 0 < snippet["startSeconds"] <= 240 - snippet["durationSeconds"] and snippet["durationSeconds"] == 15
    assert due["items"][0]["overdueSeconds"] == pytest.approx(5 * DAY, abs=2)
    assert [i["trackId"] for i in call(api, event("GET", "/due", query={"limit": "1"}))[1]["items"]] == ["later"]
    # The next one to fall due is alice's future track, not bob's and not one already due.
    assert due["nextDueAt"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(now + DAY)))


def test_due_says_null_when_nothing_is_scheduled(api: Any, store: TrackStore, clock: ManualClock) -> None:
    ready_track(store, "bob", "bobs", due_at=clock.now + DAY)
    status, due = call(api, event("GET", "/due"))
    assert (status, due["items"], due["nextDueAt"]) == (200, [], None)


def test_grading_follows_sm2_and_moves_the_due_date(api: Any, store: TrackStore, clock: ManualClock) -> None:
    ready_track(store, "alice", "t1")
    status, first = grade(api, "t1", 5)
    assert status == 200, first
    assert (first["scheduler"], first["repetitions"], first["intervalDays"], first["easiness"]) == ("sm2", 1, 1, 2.6)
    assert call(api, event("GET", "/due"))[1]["items"] == []
    clock.now += DAY
    assert [i["trackId"] for i in call(api, event("GET", "/due"))[1]["items"]] == ["t1"]
    second = grade(api, "t1", 4)[1]
    assert (second["repetitions"], second["intervalDays"]) == (2, 6)
    lapse = grade(api, "t1", 1)[1]
    assert (lapse["repetitions"], lapse["intervalDays"]) == (0, 1)
    assert store.get("alice", "t1")["reviewCount"] == 3


@pytest.mark.parametrize("value", [6, -1, "3", 2.5, None])
def test_grades_outside_0_to_5_are_refused(api: Any, store: TrackStore, value: Any) -> None:
    ready_track(store, "alice", "t1")
    status, payload = grade(api, "t1", value)
    assert status == 400 and payload["errors"][0]["field"] == "grade"


def test_grading_someone_elses_or_an_unready_track(api: Any, store: TrackStore) -> None:
    ready_track(store, "alice", "t1")
    assert grade(api, "t1", 4, user="bob")[0] == 404
    assert grade(api, "nope", 4)[0] == 404
    store.create("alice", "t2", file_name="b.flac", source="upload")
    status, payload = grade(api, "t2", 4)
    assert status == 409 and "UPLOADING" in payload["message"]


def test_switching_to_fsrs_keeps_the_history(api: Any, store: TrackStore, clock: ManualClock) -> None:
    ready_track(store, "alice", "t1")
    grade(api, "t1", 4)
    clock.now += DAY
    grade(api, "t1", 4)
    sm2_due = store.get("alice", "t1")["dueAt"]
    assert call(api, event("GET", "/training"))[1] == {"scheduler": "sm2", "desiredRetention": 0.9}
    status, chosen = call(api, event("PUT", "/training", body={"scheduler": "fsrs", "desiredRetention": 0.95}))
    assert status == 200 and chosen == {"scheduler": "fsrs", "desiredRetention": 0.95, "rescheduled": 1}
    fsrs_due = store.get("alice", "t1")["dueAt"]
    assert fsrs_due != sm2_due and store.get("alice", "t1")["reviewCount"] == 2
    clock.now = fsrs_due + 1
    status, state = grade(api, "t1", 5)
    assert status == 200 and state["scheduler"] == "fsrs" and state["stability"] > 0
    assert call(api, event("PUT", "/training", body={"scheduler": "anki"}))[0] == 400
    assert call(api, event("PUT", "/training", body={"scheduler": "fsrs", "desiredRetention": 0.5}))[0] == 400


def test_due_is_one_range_query_on_the_users_due_index(api: Any, store: TrackStore, clock: ManualClock,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps GET /due flat on DynamoDB: a Query (never a Scan) of the sparse ByUserDue index,
    bounded by the due time and the page size, so the items read follow the due tracks; then one item past now
    on the same index for nextDueAt."""
    for i in range(30):
        ready_track(store, "alice", f"t{i:02}", due_at=clock.now - 100 + i if i < 25 else clock.now + DAY)
    calls = record_dynamodb_calls(monkeypatch)
    status, due = call(api, event("GET", "/due"))
    assert status == 200 and [i["trackId"] for i in due["items"]] == [f"t{i:02}" for i in range(20)]
    (operation, kwargs), (next_operation, next_kwargs) = calls
    assert operation == "Query" and kwargs["IndexName"] == "ByUserDue" and kwargs["Limit"] == 20
    assert kwargs["ScanIndexForward"] is True and "<=" in kwargs["KeyConditionExpression"]
    assert "FilterExpression" not in kwargs
    assert next_operation == "Query" and next_kwargs["IndexName"] == "ByUserDue" and next_kwargs["Limit"] == 1
    assert ">" in next_kwargs["KeyConditionExpression"] and "FilterExpression" not in next_kwargs
    assert due["nextDueAt"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(clock.now + DAY)))
