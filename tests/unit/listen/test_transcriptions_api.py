"""The Listen API handler against moto: upload forms, library tracks as sources, reads, results,
re-tabs, deletes, identity, quotas and the user's preferences."""

from __future__ import annotations

import base64
import json
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from soundcanvas.core import storage
from soundcanvas.library.tracks import TrackStore, UserSettingsStore
from soundcanvas.listen import transcriptions
from soundcanvas.listen.preferences import PreferencesStore
from soundcanvas.listen.transcriptions import TranscriptionStore
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function

pytest.importorskip("soundcanvas.listen.tab", reason="the tab module (tunings) is not written yet")

STANDARD = ["E2", "A2", "D3", "G3", "B3", "E4"]
DROP_D = ["D2", "A2", "D3", "G3", "B3", "E4"]
MAX_BYTES = 100 * 1024 * 1024


def create(api: Any, user: str = "alice", **body: Any) -> dict[str, Any]:
    status, payload = call(api, event("POST", "/transcriptions", user=user, body=body))
    assert status == 201, payload
    return dict(payload)


def path(transcription_id: str, suffix: str = "") -> dict[str, Any]:
    return {"path": f"/transcriptions/{transcription_id}{suffix}",
            "resource": f"/transcriptions/{{transcriptionId}}{suffix}",
            "path_params": {"transcriptionId": transcription_id}}


def headers(result: dict[str, Any]) -> dict[str, str]:
    return {**(result.get("headers") or {}), **{k: v[0] for k, v in (result.get("multiValueHeaders") or {}).items()}}


def keys(aws: dict[str, Any], prefix: str = "listen/") -> list[str]:
    return sorted(o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=prefix).get("Contents", []))


def ready_track(store: TrackStore, aws: dict[str, Any], user: str, track_id: str, *, duration: float = 120.0) -> str:
    """A READY track made through the store calls the track workflow makes, its kept original in the bucket."""
    store.create(user, track_id, file_name="take.flac", source="upload")
    key = storage.source_key(user, track_id, "abc123", "flac")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"fLaC-audio")
    assert store.claim(user, track_id, key=key, etag='"abc123"', version="abc123", size=10, file_name="take.flac",
                       source="upload") is not None
    store.set_metadata(user, track_id, "abc123", {"durationSeconds": duration})
    assert store.mark_ready(user, track_id, "abc123", mp3_key=key, due_at=int(store.clock()))
    return key


# A D major arpeggio from the low D (D2, MIDI 38): only a tuning with a string at D2 or lower places it.
NOTES = [{"start": round(0.5 * i, 4), "end": round(0.5 * i + 0.45, 4), "pitch": pitch, "velocity": 90}
         for i, pitch in enumerate([38, 45, 50, 54, 57, 62, 66, 62])]


def complete(store: TranscriptionStore, aws: dict[str, Any], user: str, transcription_id: str) -> dict[str, str]:
    """Run a PENDING transcription to COMPLETE through the store calls the workflow makes, with its files."""
    source = transcriptions.source_key(user, transcription_id, "wav")
    assert store.claim(user, transcription_id, source_key=source, retention_days=30) is not None
    outputs = {name: transcriptions.output_key(user, transcription_id, file) for name, file in (
        ("midiKey", "notes.mid"), ("tabKey", "tab.txt"), ("tabFileKey", "tab.gp5"), ("resultKey", "result.json"))}
    result = {"transcriptionId": transcription_id, "instrument": "guitar", "durationSeconds": 4.0, "tempoBpm": 120.0,
              "timeSignature": "4/4", "key": {"tonic": "D", "mode": "major", "confidence": 0.8, "alternatives": []},
              "notes": NOTES, "beats": [], "downbeats": [], "chords": [], "tab": {"events": [], "unplaced": []}}
    for name, key in outputs.items():
        body = json.dumps(result).encode() if name == "resultKey" else b"file"
        aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=body)
    summary = {"durationSeconds": 4.0, "tempoBpm": 120.0, "timeSignature": "4/4", "noteCount": len(NOTES),
               "chordCount": 1, "key": {"tonic": "D", "mode": "major", "confidence": 0.8,
                                        "alternatives": [{"tonic": "B", "mode": "minor", "confidence": 0.1}]}}
    assert store.advance(user, transcription_id, finished="tab", elapsed_ms=5, next_stage="done", summary=summary,
                         outputs=outputs)
    return outputs


# --- creating ------------------------------------------------------------------------------------
def test_create_returns_a_pending_record_and_an_enforcing_upload_form(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore, clock: ManualClock,
) -> None:
    result = api.lambda_handler(event("POST", "/transcriptions", body={
        "instrument": "guitar", "tuning": "drop-d", "capo": 3, "contentType": "audio/flac", "sizeBytes": 1234}),
        FakeContext())
    assert result["statusCode"] == 201, result["body"]
    payload = json.loads(result["body"])
    tid = payload["transcriptionId"]
    assert len(tid) == 32 and int(tid, 16) >= 0 and payload["status"] == "PENDING"
    assert headers(result)["Location"] == f"/transcriptions/{tid}"
    upload = payload["upload"]
    assert upload["fields"]["key"] == f"listen/alice/{tid}/input.flac" == transcriptions.input_key("alice", tid, "flac")
    assert transcriptions.parse_input_key(upload["fields"]["key"]) == ("alice", tid, "flac")
    assert upload["maxBytes"] == MAX_BYTES and upload["contentTypes"] == ["audio/flac"]
    assert upload["expiresAt"] == int(clock()) + 900
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, MAX_BYTES] in policy["conditions"]
    assert {"Content-Type": "audio/flac"} in policy["conditions"]
    record = transcription_store.get("alice", tid)
    assert record is not None and record["status"] == "PENDING" and record["stage"] == "upload"
    assert record["source"] == {"kind": "upload", "contentType": "audio/flac"}
    assert record["options"] == {"instrument": "guitar", "tuning": {"name": "drop-d", "strings": DROP_D}, "capo": 3}
    assert record["uploadExpiresAt"] == upload["expiresAt"] and record.get("sourceKey") is None


def test_omitted_options_come_from_the_users_preferences(
    api: Any, transcription_store: TranscriptionStore, preferences_store: PreferencesStore,
) -> None:
    tid = create(api)["transcriptionId"]
    assert transcription_store.get("alice", tid)["options"] == {  # type: ignore[index]
        "instrument": "auto", "tuning": {"name": "standard", "strings": STANDARD}, "capo": 0}
    preferences_store.update("alice", {"guitarTuning": "drop-d"})
    tid = create(api)["transcriptionId"]
    assert transcription_store.get("alice", tid)["options"]["tuning"]["strings"] == DROP_D  # type: ignore[index]
    tid = create(api, tuning=STANDARD, capo=2, instrument="bass")["transcriptionId"]
    options = transcription_store.get("alice", tid)["options"]  # type: ignore[index]
    assert options["tuning"]["strings"] == STANDARD and options["capo"] == 2 and options["instrument"] == "bass"
    status, _ = call(api, event("POST", "/transcriptions", body=None))  # no body at all: every default
    assert status == 201
    tid = create(api, user="bob")["transcriptionId"]  # alice's preferences are hers
    assert transcription_store.get("bob", tid)["options"]["tuning"]["name"] == "standard"  # type: ignore[index]


@pytest.mark.parametrize(("body", "field"), [
    ({"instrument": "banjo"}, "instrument"),
    ({"capo": 13}, "capo"),
    ({"capo": -1}, "capo"),
    ({"capo": "2"}, "capo"),
    ({"capo": 2.0}, "capo"),
    ({"capo": True}, "capo"),
    ({"tuning": "nashville-high-strung"}, "tuning"),
    ({"tuning": ["E2", "A2", "D3", "G3", "B3"]}, "tuning"),
    ({"tuning": ["E2", "A2", "D3", "G3", "B3", "Q9"]}, "tuning"),
    ({"tuning": 6}, "tuning"),
    ({"tuning": ""}, "tuning"),
    ({"contentType": "image/png"}, "contentType"),
    ({"sizeBytes": 0}, "sizeBytes"),
    ({"sizeBytes": MAX_BYTES + 1}, "sizeBytes"),
    ({"sizeBytes": "10"}, "sizeBytes"),
    ({"trackId": "t1", "contentType": "audio/wav"}, "contentType"),
    ({"trackId": "../t1"}, "trackId"),
    ({"speed": "fast"}, "speed"),
    ("{not json", "body"),
])
def test_bad_create_requests_are_400_naming_the_field(api: Any, aws: dict[str, Any], body: Any, field: str) -> None:
    status, payload = call(api, event("POST", "/transcriptions", body=body))
    assert status == 400, payload
    assert [e["field"] for e in payload["errors"]] == [field]
    assert field in payload["message"]
    assert keys(aws) == [] and call(api, event("GET", "/transcriptions"))[1]["items"] == []


def test_an_unknown_tuning_is_refused_with_the_tab_modules_words(api: Any) -> None:
    from soundcanvas.listen import tab

    with pytest.raises(ValueError, match=r".+") as raised:
        tab.parse_tuning("nashville-high-strung")
    status, payload = call(api, event("POST", "/transcriptions", body={"tuning": "nashville-high-strung"}))
    message = str(raised.value).removeprefix("tuning: ")  # the field is named once, by the error's location
    assert "unknown tuning 'nashville-high-strung'" in message
    assert status == 400 and payload["errors"] == [{"field": "tuning", "message": message}]


def test_the_quota_is_429_with_retry_after_and_refusals_cost_nothing(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRANSCRIPTION_QUOTA", "2")
    monkeypatch.setenv("TRANSCRIPTION_QUOTA_WINDOW_SECONDS", "3600")
    api = load_function("transcriptions_api")
    monkeypatch.setattr(api, "stepfunctions", mock.Mock())
    assert call(api, event("POST", "/transcriptions", body={"capo": 99}))[0] == 400
    status, payload = call(api, event("POST", "/transcriptions", body={"trackId": "nope"}))
    assert status == 404 and "track nope" in payload["message"]
    for _ in range(2):
        create(api)
    result = api.lambda_handler(event("POST", "/transcriptions", body={}), FakeContext())
    assert result["statusCode"] == 429
    assert 0 < int(headers(result)["Retry-After"]) <= 3600
    payload = json.loads(result["body"])
    assert "2 transcriptions per hour" in payload["message"] and payload["retryAfterSeconds"] > 0
    assert len(call(api, event("GET", "/transcriptions"))[1]["items"]) == 2
    create(api, user="bob")


# --- from a library track ------------------------------------------------------------------------
def test_a_ready_track_is_copied_and_its_workflow_started(
    api: Any, aws: dict[str, Any], track_store: TrackStore, transcription_store: TranscriptionStore,
) -> None:
    original = ready_track(track_store, aws, "alice", "t1")
    result = api.lambda_handler(event("POST", "/transcriptions", body={"trackId": "t1", "tuning": "drop-d"}),
                                FakeContext())
    assert result["statusCode"] == 202, result["body"]
    payload = json.loads(result["body"])
    tid = payload["transcriptionId"]
    assert payload == {"transcriptionId": tid, "status": "PENDING", "source": {"kind": "track", "trackId": "t1"}}
    source = transcriptions.source_key("alice", tid, "flac")
    body = aws["s3"].get_object(Bucket=aws["bucket"], Key=source)["Body"].read()
    assert body == b"fLaC-audio"
    assert aws["s3"].head_object(Bucket=aws["bucket"], Key=original)  # the track keeps its own
    record = transcription_store.get("alice", tid)
    assert record is not None and record["status"] == "PENDING" and record["sourceKey"] == source
    assert record["source"] == {"kind": "track", "trackId": "t1"} and record["options"]["tuning"]["strings"] == DROP_D
    assert record.get("uploadExpiresAt") is None
    start = api.stepfunctions.return_value.start_execution
    start.assert_called_once()
    assert start.call_args.kwargs["name"] == tid
    assert start.call_args.kwargs["stateMachineArn"] == aws["env"]["LISTEN_STATE_MACHINE_ARN"]
    assert json.loads(start.call_args.kwargs["input"]) == {"userId": "alice", "transcriptionId": tid}
    track = track_store.get("alice", "t1")
    assert track is not None and track["status"] == "READY"


def test_tracks_that_are_not_ready_or_not_the_callers_are_refused(
    api: Any, aws: dict[str, Any], track_store: TrackStore,
) -> None:
    track_store.create("alice", "t2", file_name="b.mp3", source="upload")
    track_store.claim("alice", "t2", key=storage.source_key("alice", "t2", "beef", "mp3"), etag='"beef"',
                      version="beef", size=10, file_name="b.mp3", source="upload")
    status, payload = call(api, event("POST", "/transcriptions", body={"trackId": "t2"}))
    assert status == 409 and payload["message"] == "track t2 is PROCESSING; wait until it is READY"
    ready_track(track_store, aws, "bob", "t3")
    status, payload = call(api, event("POST", "/transcriptions", user="alice", body={"trackId": "t3"}))
    assert status == 404 and payload["message"] == "track t3 not found"
    ready_track(track_store, aws, "alice", "long", duration=3600.0)
    status, payload = call(api, event("POST", "/transcriptions", body={"trackId": "long"}))
    assert status == 400 and payload["errors"][0]["field"] == "trackId" and "600 s" in payload["message"]
    api.stepfunctions.return_value.start_execution.assert_not_called()
    assert keys(aws) == [] and call(api, event("GET", "/transcriptions"))[1]["items"] == []


def test_a_workflow_that_cannot_start_leaves_nothing_behind(
    api: Any, aws: dict[str, Any], track_store: TrackStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready_track(track_store, aws, "alice", "t1")
    error = ClientError({"Error": {"Code": "StateMachineDoesNotExist", "Message": "gone"}}, "StartExecution")
    api.stepfunctions.return_value.start_execution.side_effect = error
    with pytest.raises(ClientError):
        api.lambda_handler(event("POST", "/transcriptions", body={"trackId": "t1"}), FakeContext())
    assert keys(aws) == [] and call(api, event("GET", "/transcriptions"))[1]["items"] == []
    monkeypatch.setattr(api, "TRANSCRIPTIONS", api.Quota("transcriptions", 1, 3600))
    create(api)  # the failed start gave its unit back


# --- reading, listing, deleting ------------------------------------------------------------------
def test_get_shows_progress_then_the_summary_and_urls_once_complete(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore,
) -> None:
    tid = create(api, instrument="guitar")["transcriptionId"]
    status, view = call(api, event("GET", **path(tid)))
    assert status == 200
    assert view["status"] == "PENDING" and view["stage"] == "upload" and view["progress"] == 0
    assert view["tuning"] == {"name": "standard", "strings": STANDARD} and view["capo"] == 0
    assert view["instrument"] == "guitar" and view["source"]["kind"] == "upload"
    for field in ("durationSeconds", "tempoBpm", "timeSignature", "key", "chordCount", "noteCount", "midiUrl",
                  "tabUrl", "tabFileUrl", "resultUrl", "errorMessage", "failedStage"):
        assert view[field] is None, field
    complete(transcription_store, aws, "alice", tid)
    _, view = call(api, event("GET", **path(tid)))
    assert view["status"] == "COMPLETE" and view["stage"] == "done" and view["progress"] == 100
    assert view["durationSeconds"] == 4.0 and view["tempoBpm"] == 120.0 and view["timeSignature"] == "4/4"
    assert view["noteCount"] == len(NOTES) and view["chordCount"] == 1
    assert view["key"] == {"tonic": "D", "mode": "major", "confidence": 0.8,
                           "alternatives": [{"tonic": "B", "mode": "minor", "confidence": 0.1}]}
    assert view["timings"] == {"tab": 5}
    for field, name in (("midiUrl", "notes.mid"), ("tabUrl", "tab.txt"), ("tabFileUrl", "tab.gp5"),
                        ("resultUrl", "result.json")):
        assert f"/listen/alice/{tid}/{name}?" in view[field] and "X-Amz-Expires=300" in view[field], field


def test_an_upload_that_never_arrived_says_so(api: Any, clock: ManualClock) -> None:
    tid = create(api)["transcriptionId"]
    clock.now += 901
    _, view = call(api, event("GET", **path(tid)))
    assert view["status"] == "PENDING" and "no audio arrived before the upload form expired" in view["errorMessage"]
    clock.now += 3600
    assert call(api, event("GET", **path(tid)))[0] == 404  # the record outlived its form by an hour


def test_a_failed_transcription_names_its_stage(api: Any, transcription_store: TranscriptionStore) -> None:
    tid = create(api)["transcriptionId"]
    transcription_store.fail("alice", tid, stage="decode", message="that file is not an audio file")
    _, view = call(api, event("GET", **path(tid)))
    assert view["status"] == "FAILED" and view["failedStage"] == "decode"
    assert view["errorMessage"] == "that file is not an audio file" and view["resultUrl"] is None


def test_list_is_the_callers_newest_first_with_a_cursor(api: Any, clock: ManualClock) -> None:
    mine = []
    for _ in range(3):
        mine.append(create(api)["transcriptionId"])
        clock.now += 1
    create(api, user="bob")
    status, page = call(api, event("GET", "/transcriptions", query={"limit": "2"}))
    assert status == 200 and [i["transcriptionId"] for i in page["items"]] == mine[:0:-1] and page["nextCursor"]
    _, rest = call(api, event("GET", "/transcriptions", query={"limit": "2", "cursor": page["nextCursor"]}))
    assert [i["transcriptionId"] for i in rest["items"]] == mine[:1] and rest["nextCursor"] is None
    status, payload = call(api, event("GET", "/transcriptions", user="bob", query={"cursor": page["nextCursor"]}))
    assert status == 400 and payload["errors"][0]["field"] == "cursor"
    status, payload = call(api, event("GET", "/transcriptions", query={"limit": "101"}))
    assert status == 400 and payload["errors"][0]["field"] == "limit"


def test_delete_removes_the_record_and_every_object_under_its_prefix(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore,
) -> None:
    tid = create(api)["transcriptionId"]
    other = create(api)["transcriptionId"]
    complete(transcription_store, aws, "alice", tid)
    for key in (transcriptions.source_key("alice", tid, "wav"), transcriptions.work_key("alice", tid, "audio.npy"),
                transcriptions.source_key("alice", other, "wav")):
        aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"x")
    status, _ = call(api, event("DELETE", **path(tid)))
    assert status == 204
    assert keys(aws) == [transcriptions.source_key("alice", other, "wav")]
    assert call(api, event("GET", **path(tid)))[0] == 404
    assert transcription_store.get("alice", tid) is None and transcription_store.get("alice", other) is not None


def test_another_users_transcription_is_a_404_on_every_route(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore,
) -> None:
    tid = create(api)["transcriptionId"]
    complete(transcription_store, aws, "alice", tid)
    for method, suffix, body in (("GET", "", None), ("GET", "/result", None), ("POST", "/tab", {"capo": 2}),
                                 ("DELETE", "", None)):
        status, payload = call(api, event(method, user="mallory", body=body, **path(tid, suffix)))
        assert status == 404 and payload["message"] == f"transcription {tid} not found", (method, suffix)
        assert call(api, event(method, body=body, **path("0" * 32, suffix)))[0] == 404
    assert call(api, event("GET", "/transcriptions", user="mallory"))[1]["items"] == []
    assert call(api, event("GET", **path(tid)))[1]["status"] == "COMPLETE"
    assert len(keys(aws, f"listen/alice/{tid}/")) == 4


# --- the result and re-tabs ----------------------------------------------------------------------
def test_the_result_is_a_conflict_until_complete_then_the_json_itself(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore,
) -> None:
    tid = create(api)["transcriptionId"]
    status, payload = call(api, event("GET", **path(tid, "/result")))
    assert status == 409 and payload["message"] == (f"transcription {tid} is PENDING; "
                                                    "the result is ready when it is COMPLETE")
    transcription_store.claim("alice", tid, source_key=transcriptions.source_key("alice", tid, "wav"),
                              retention_days=30)
    status, payload = call(api, event("GET", **path(tid, "/result")))
    assert status == 409 and f"transcription {tid} is RUNNING; the result" in payload["message"]
    complete_id = create(api)["transcriptionId"]
    complete(transcription_store, aws, "alice", complete_id)
    status, result = call(api, event("GET", **path(complete_id, "/result")))
    assert status == 200 and result["notes"] == NOTES and result["key"]["tonic"] == "D"


def test_retab_places_the_notes_for_another_tuning_and_replaces_the_tab_files(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore,
) -> None:
    pytest.importorskip("soundcanvas.listen.tab_files", reason="the Guitar Pro writer is not written yet")
    import guitarpro

    tid = create(api, instrument="guitar")["transcriptionId"]
    status, payload = call(api, event("POST", body={"tuning": "drop-d"}, **path(tid, "/tab")))
    assert status == 409 and payload["message"] == f"transcription {tid} is PENDING; it can be re-tabbed when it is COMPLETE"
    before = complete(transcription_store, aws, "alice", tid)

    status, standard = call(api, event("POST", body={}, **path(tid, "/tab")))  # its own tuning, standard
    assert status == 200, standard
    assert standard["tuning"] == {"name": "standard", "strings": STANDARD} and standard["capo"] == 0
    assert [u["pitch"] for u in standard["tab"]["unplaced"]] == [38]  # below a standard guitar's low E

    status, payload = call(api, event("POST", body={"tuning": "drop-d", "capo": 0}, **path(tid, "/tab")))
    assert status == 200, payload
    assert payload["transcriptionId"] == tid and payload["capo"] == 0
    assert payload["tuning"] == {"name": "drop-d", "strings": DROP_D}
    assert payload["tab"]["tuning"]["strings"][0] == "D2" and payload["tab"]["unplaced"] == []
    placed = [note for item in payload["tab"]["events"] for note in item["notes"]]
    assert len(placed) == len(NOTES)

    record = transcription_store.get("alice", tid)
    assert record is not None and record["options"]["tuning"]["strings"] == DROP_D
    outputs = record["outputs"]
    assert outputs["midiKey"] == before["midiKey"]  # the notes did not change
    for name in ("tabKey", "tabFileKey", "resultKey"):
        assert outputs[name] != before[name] and outputs[name].startswith(f"listen/alice/{tid}/"), name
    assert payload["tabUrl"].split("?")[0].endswith(outputs["tabKey"])
    assert payload["tabFileUrl"].split("?")[0].endswith(outputs["tabFileKey"])
    assert keys(aws) == sorted([outputs["midiKey"], outputs["tabKey"], outputs["tabFileKey"], outputs["resultKey"]])

    s3, bucket = aws["s3"], aws["bucket"]
    text = s3.get_object(Bucket=bucket, Key=outputs["tabKey"])["Body"].read().decode()
    assert text.startswith("Tuning: drop-d (D2 A2 D3 G3 B3 E4)\n") and "Not placed" not in text
    song = guitarpro.parse(s3.get_object(Bucket=bucket, Key=outputs["tabFileKey"])["Body"])
    assert [string.value for string in song.tracks[0].strings] == [64, 59, 55, 50, 45, 38]
    _, result = call(api, event("GET", **path(tid, "/result")))
    assert result["tab"] == payload["tab"] and result["notes"] == NOTES
    _, view = call(api, event("GET", **path(tid)))
    assert view["tuning"]["name"] == "drop-d" and outputs["tabKey"] in view["tabUrl"]

    status, capo = call(api, event("POST", body={"capo": 2}, **path(tid, "/tab")))  # tuning kept, capo changed
    assert status == 200 and capo["tuning"]["name"] == "drop-d" and capo["capo"] == 2


@pytest.mark.parametrize(("body", "field"), [({"capo": 13}, "capo"), ({"tuning": "banjo"}, "tuning"),
                                             ({"instrument": "piano"}, "instrument")])
def test_bad_retab_requests_are_400_naming_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    tid = create(api)["transcriptionId"]
    status, payload = call(api, event("POST", body=body, **path(tid, "/tab")))
    assert status == 400 and [e["field"] for e in payload["errors"]] == [field]


def test_a_retab_that_loses_a_race_leaves_the_winners_files(
    api: Any, aws: dict[str, Any], transcription_store: TranscriptionStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("soundcanvas.listen.tab_files", reason="the Guitar Pro writer is not written yet")
    tid = create(api)["transcriptionId"]
    complete(transcription_store, aws, "alice", tid)
    monkeypatch.setattr(api.store, "replace_outputs", lambda *args, **kwargs: False)
    status, payload = call(api, event("POST", body={"tuning": "drop-d"}, **path(tid, "/tab")))
    assert status == 409 and "changed while it was re-tabbed" in payload["message"]
    assert [k.rsplit("/", 1)[1] for k in keys(aws)] == ["notes.mid", "result.json", "tab.gp5", "tab.txt"]


# --- preferences: the routes are core's (functions/core/me_api, tests/unit/core/test_me_api.py); the store is Listen's
def test_both_products_preferences_live_on_one_users_item(aws: dict[str, Any], clock: ManualClock) -> None:
    training = UserSettingsStore(aws["users_table"], "us-east-1")
    listen = PreferencesStore(aws["users_table"], "us-east-1")
    listen.update("alice", {"guitarTuning": "dadgad", "notationPreference": "standard"})
    training.set_training("alice", scheduler="fsrs", desired_retention=0.85, now=clock())
    assert listen.get("alice") == {"guitarTuning": "dadgad", "notationPreference": "standard",
                                   "difficultyLevel": "intermediate"}
    listen.update("alice", {"difficultyLevel": "beginner", "guitarTuning": DROP_D})
    assert training.training("alice") == {"scheduler": "fsrs", "desiredRetention": 0.85}
    training.set_training("alice", scheduler="sm2", desired_retention=0.9, now=clock())
    assert listen.get("alice") == {"guitarTuning": DROP_D, "notationPreference": "standard",
                                   "difficultyLevel": "beginner"}
    item = aws["dynamodb"].get_item(TableName=aws["users_table"], Key={"userId": {"S": "alice"}})["Item"]
    assert item["scheduler"] == {"S": "sm2"} and item["difficultyLevel"] == {"S": "beginner"}
    assert "guitarTuning" not in item  # a tuning is kept by name or by its notes, never both
    listen.update("bob", {"notationPreference": "tab"})  # a Listen-only item reads as the library's defaults
    assert training.training("bob") == UserSettingsStore.DEFAULTS
