"""The Songs API handler against moto, over a slice of the real seed catalog: typo-tolerant search with
the caller's own songs, listing, reading, upload forms and their quota, deletes, and who may see what."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from soundcanvas.blend import songs
from soundcanvas.blend.catalog import load_catalog
from soundcanvas.blend.seed import SeedSong
from soundcanvas.blend.songs import SongStore
from soundcanvas.core import cursors
from soundcanvas.maps import fpkeys
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function
from tests.unit.blend.conftest import headers, keys, moto_state_machine

MAX_BYTES = 2 * 1024 * 1024
ACACIA = "pd-db66eea9386b8a1b"  # "Acacia Reel", Traditional (in the first 30 seed songs)


@pytest.fixture
def song_machine(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The song workflow (the API starts its preview branch) in moto."""
    return moto_state_machine(monkeypatch, "SongStateMachine", "SONG_STATE_MACHINE_ARN")


@pytest.fixture
def api(aws: dict[str, Any], song_machine: str, monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    module = load_function("songs_api")
    monkeypatch.setattr(module, "clock", clock)
    module.quotas.clock = clock
    return module


@pytest.fixture
def catalog(aws: dict[str, Any], song_store: SongStore, seed_songs: list[SeedSong]) -> list[SeedSong]:
    load_catalog(seed_songs[:20], song_store, aws["s3"], aws["bucket"])
    return seed_songs[:20]


def song(song_id: str) -> dict[str, Any]:
    return {"path": f"/songs/{song_id}", "resource": "/songs/{songId}", "path_params": {"songId": song_id}}


def search(api: Any, q: str, user: str = "alice", **query: str) -> tuple[int, Any]:
    return call(api, event("GET", "/songs", user=user, query={"q": q, **query}))


def own_ready_song(store: SongStore, aws: dict[str, Any], owner: str, song_id: str, title: str) -> str:
    """A private READY song made through the store calls the song workflow makes, its MIDI in the bucket."""
    store.create_upload(owner, song_id, title=title, artist="Someone", upload_expires_at=int(store.clock()) + 900)
    key = f"{songs.prefix(song_id)}song-v1.mid"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"MThd-private")
    assert store.mark_ready(
        song_id, midi_key=key, summary={"key": "C major", "tempoBpm": 90.0, "timeSignature": "4/4", "durationSeconds": 20.0}
    )
    return key


def bad_field(status: int, payload: Any, field: str) -> None:
    assert status == 400, payload
    assert [e["field"] for e in payload["errors"]] == [field], payload


# --- search --------------------------------------------------------------------------------------
def test_search_finds_a_seed_song_despite_a_typo(api: Any, catalog: list[SeedSong]) -> None:
    status, payload = search(api, "acaica reell", limit="3")
    assert status == 200, payload
    top = payload["items"][0]
    assert top["songId"] == ACACIA and top["title"] == "Acacia Reel" and top["artist"] == "Traditional"
    assert top["status"] == "READY" and top["visibility"] == "public" and top["mine"] is False
    assert 0 < top["score"] <= 100 and "midiKey" not in top and "ownerId" not in top
    status, payload = search(api, "reel acacia traditional")  # any word order, title and artist
    assert payload["items"][0]["songId"] == ACACIA


def test_a_query_without_a_word_is_400_naming_q(api: Any, catalog: list[SeedSong]) -> None:
    for q in ("", "   ", "?!", "--- ...", "'"):
        bad_field(*search(api, q), "q")
    status, payload = search(api, " ".join(["reel"] * 11))  # too many words: the latency bound
    bad_field(status, payload, "q")


def test_search_and_mine_together_are_400_naming_q(api: Any) -> None:
    status, payload = search(api, "reel", mine="true")
    bad_field(status, payload, "q")
    assert "mine=true" in payload["message"]


def test_a_search_finds_the_callers_own_ready_songs_and_nobody_elses(
    api: Any,
    aws: dict[str, Any],
    catalog: list[SeedSong],
    song_store: SongStore,
) -> None:
    own_ready_song(song_store, aws, "bob", "bobs-lullaby", "Acacia Lullaby")
    song_store.create_upload(
        "bob", "bobs-pending", title="Acacia Lullaby", artist=None, upload_expires_at=int(song_store.clock()) + 900
    )
    status, bobs = search(api, "acacia lulaby", user="bob")
    assert status == 200 and bobs["items"][0]["songId"] == "bobs-lullaby" and bobs["items"][0]["mine"] is True
    _, bobs = search(api, "acacia", user="bob")
    assert {item["songId"] for item in bobs["items"]} == {"bobs-lullaby", ACACIA}  # not the PENDING one
    _, alices = search(api, "acacia", user="alice")
    assert [item["songId"] for item in alices["items"]] == [ACACIA]
    # Not visible to alice in any other way either.
    assert call(api, event("GET", **song("bobs-lullaby"), user="alice"))[0] == 404
    status, payload = call(api, event("DELETE", **song("bobs-lullaby"), user="alice"))
    assert status == 404 and payload["message"] == "song bobs-lullaby not found"
    assert song_store.get("bobs-lullaby") is not None and keys(aws, songs.prefix("bobs-lullaby"))
    status, payload = call(api, event("GET", "/songs", user="alice", query={"mine": "true"}))
    assert status == 200 and payload["items"] == []


def test_search_pages_with_a_cursor_for_that_query_and_caller_only(api: Any, catalog: list[SeedSong]) -> None:
    status, first = search(api, "reel", limit="3")
    assert status == 200 and len(first["items"]) == 3 and first["nextCursor"]
    status, second = search(api, "reel", limit="3", cursor=first["nextCursor"])
    assert status == 200 and second["items"]
    ids = [item["songId"] for item in first["items"] + second["items"]]
    assert len(set(ids)) == len(ids)
    _, both = search(api, "reel", limit="6")
    assert [item["songId"] for item in both["items"]] == ids[:6]
    status, payload = search(api, "hornpipe", limit="3", cursor=first["nextCursor"])
    bad_field(status, payload, "cursor")
    assert "another search" in payload["message"]
    bad_field(*search(api, "reel", user="bob", limit="3", cursor=first["nextCursor"]), "cursor")
    bad_field(*call(api, event("GET", "/songs", query={"cursor": first["nextCursor"]})), "cursor")  # not a list cursor


@pytest.mark.parametrize("offset", ["1e3", "1.5", "-2"])
def test_an_edited_search_cursor_is_400_naming_the_cursor(api: Any, offset: str) -> None:
    for query in ({"q": "reel"}, {"mine": "true"}):
        edited = cursors.encode({"userId": {"S": "alice"}, "offset": {"N": offset}, "query": {"S": query.get("q", "mine")}})
        bad_field(*call(api, event("GET", "/songs", query={**query, "cursor": edited})), "cursor")


def test_without_a_catalog_search_finds_only_the_callers_own_songs(
    api: Any,
    aws: dict[str, Any],
    song_store: SongStore,
) -> None:
    own_ready_song(song_store, aws, "alice", "mine-1", "Acacia Reel")
    status, payload = search(api, "acacia reel")
    assert status == 200 and [item["songId"] for item in payload["items"]] == ["mine-1"]
    assert payload["items"][0]["mine"] is True
    assert search(api, "acacia reel", user="bob")[1]["items"] == []


# --- listing and reading -------------------------------------------------------------------------
def test_without_q_the_public_catalog_is_listed_by_title(api: Any, catalog: list[SeedSong]) -> None:
    titles: list[str] = []
    cursor = None
    for _ in range(10):
        status, payload = call(api, event("GET", "/songs", query={"limit": "8", **({"cursor": cursor} if cursor else {})}))
        assert status == 200, payload
        titles += [item["title"] for item in payload["items"]]
        cursor = payload["nextCursor"]
        if cursor is None:
            break
        bad_field(*call(api, event("GET", "/songs", user="bob", query={"cursor": cursor})), "cursor")
    assert sorted(titles) == sorted(s.title for s in catalog) and len(titles) == 20
    by_title = sorted(catalog, key=lambda s: songs.title_sort_key(s.title, s.songId))
    assert titles == [s.title for s in by_title]
    assert titles.index("The Alhambra Reel") < titles.index("All Aboard Reel")  # sorted as "Alhambra Reel"


def test_a_listed_song_reads_the_same_as_the_song_itself(api: Any, catalog: list[SeedSong]) -> None:
    _, payload = call(api, event("GET", "/songs", query={"limit": "3"}))
    for item in payload["items"]:
        status, one = call(api, event("GET", **song(item["songId"])))
        assert status == 200
        # Compare what both views carry, the song's own fields (a GET also starts and reports its preview).
        fields = [name for name in item if not name.startswith("preview")]
        assert {name: item[name] for name in fields} == {name: one[name] for name in fields}


def test_a_song_has_a_presigned_midi_url_when_ready(
    api: Any,
    aws: dict[str, Any],
    catalog: list[SeedSong],
    song_store: SongStore,
) -> None:
    status, payload = call(api, event("GET", **song(ACACIA), user="bob"))
    assert status == 200 and payload["songId"] == ACACIA and payload["mine"] is False
    url = payload["midiUrl"]
    assert f"/{songs.midi_key(ACACIA)}?" in url and "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    assert f"{ACACIA}.mid" in url  # saved under the song's id
    assert payload["licence"] and payload["source"]
    song_store.create_upload(
        "alice", "pending-1", title="Later", artist=None, upload_expires_at=int(song_store.clock()) + 900
    )
    status, payload = call(api, event("GET", **song("pending-1")))
    assert status == 200 and payload["status"] == "PENDING" and payload["midiUrl"] is None and payload["mine"] is True
    assert call(api, event("GET", **song("no-such-song")))[0] == 404
    assert call(api, event("GET", **song("bad.id")))[0] == 400


def test_mine_lists_the_callers_songs_newest_first_with_their_status(
    api: Any,
    aws: dict[str, Any],
    catalog: list[SeedSong],
    song_store: SongStore,
    clock: ManualClock,
) -> None:
    own_ready_song(song_store, aws, "alice", "older", "Older Tune")
    clock.now += 1
    song_store.create_upload("alice", "newer", title="Newer Tune", artist=None, upload_expires_at=int(clock()) + 900)
    song_store.fail("newer", message="not a MIDI file")
    clock.now += 1
    song_store.create_upload("alice", "newest", title="Newest Tune", artist=None, upload_expires_at=int(clock()) + 900)
    status, payload = call(api, event("GET", "/songs", query={"mine": "true", "limit": "2"}))
    assert status == 200
    assert [(i["songId"], i["status"]) for i in payload["items"]] == [("newest", "PENDING"), ("newer", "FAILED")]
    assert payload["items"][1]["errorMessage"] == "not a MIDI file" and all(i["mine"] for i in payload["items"])
    status, rest = call(api, event("GET", "/songs", query={"mine": "true", "limit": "2", "cursor": payload["nextCursor"]}))
    assert status == 200 and [i["songId"] for i in rest["items"]] == ["older"] and rest["nextCursor"] is None


# --- uploads -------------------------------------------------------------------------------------
def test_an_upload_form_is_a_presigned_post_limited_to_2_mb_of_midi(
    api: Any,
    aws: dict[str, Any],
    song_store: SongStore,
    clock: ManualClock,
) -> None:
    result = api.lambda_handler(
        event("POST", "/songs/uploads", body={"title": " My Tune ", "artist": "Me", "sizeBytes": 1234}), FakeContext()
    )
    assert result["statusCode"] == 201, result["body"]
    payload = json.loads(result["body"])
    song_id = payload["songId"]
    assert payload["status"] == "PENDING" and headers(result)["Location"] == f"/songs/{song_id}"
    upload = payload["upload"]
    assert upload["fields"]["key"] == songs.upload_key(song_id) and songs.parse_upload_key(upload["fields"]["key"])
    assert upload["fields"]["Content-Type"] == "audio/midi" and upload["contentTypes"] == ["audio/midi"]
    assert upload["maxBytes"] == MAX_BYTES and upload["expiresAt"] == int(clock()) + 900
    assert aws["bucket"] in upload["url"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, MAX_BYTES] in policy["conditions"]
    assert {"Content-Type": "audio/midi"} in policy["conditions"]
    assert {"key": songs.upload_key(song_id)} in policy["conditions"]
    record = song_store.get(song_id)
    assert record is not None
    assert (record["status"], record["visibility"], record["ownerId"], record["title"], record["artist"]) == (
        "PENDING",
        "private",
        "alice",
        "My Tune",
        "Me",
    )
    assert record["expiresAt"] == upload["expiresAt"] + songs.UPLOAD_GRACE_SECONDS
    assert keys(aws, "catalog/") == []  # nothing is written until the client posts the form


BAD_UPLOADS = [
    ({}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "Tune", "contentType": "audio/mpeg"}, "contentType"),
    ({"title": "Tune", "sizeBytes": MAX_BYTES + 1}, "sizeBytes"),
    ({"title": "Tune", "sizeBytes": 0}, "sizeBytes"),
    ({"title": "Tune", "sizeBytes": "10"}, "sizeBytes"),
    ({"title": "Tune", "visibility": "public"}, "visibility"),
]


def test_bad_upload_requests_are_400_naming_the_field(api: Any, aws: dict[str, Any]) -> None:
    for body, field in BAD_UPLOADS:
        bad_field(*call(api, event("POST", "/songs/uploads", body=body)), field)
    assert call(api, event("GET", "/songs", query={"mine": "true"}))[1]["items"] == []


def test_the_upload_quota_is_429_with_retry_after(
    aws: dict[str, Any], song_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONG_UPLOAD_QUOTA", "2")
    api = load_function("songs_api")
    assert call(api, event("POST", "/songs/uploads", body={}))[0] == 400  # a refused request costs nothing
    for _ in range(2):
        assert call(api, event("POST", "/songs/uploads", body={"title": "Tune"}))[0] == 201
    result = api.lambda_handler(event("POST", "/songs/uploads", body={"title": "Tune"}), FakeContext())
    assert result["statusCode"] == 429
    retry_after = int(headers(result)["Retry-After"])
    assert 0 < retry_after <= 86400
    payload = json.loads(result["body"])
    assert "2 song uploads per day" in payload["message"] and payload["retryAfterSeconds"] == retry_after
    assert len(call(api, event("GET", "/songs", query={"mine": "true"}))[1]["items"]) == 2
    assert call(api, event("POST", "/songs/uploads", user="bob", body={"title": "Tune"}))[0] == 201


# --- deleting ------------------------------------------------------------------------------------
def test_deleting_a_public_song_is_403(
    api: Any, aws: dict[str, Any], catalog: list[SeedSong], song_store: SongStore
) -> None:
    status, payload = call(api, event("DELETE", **song(ACACIA)))
    assert status == 403 and "public catalog" in payload["message"]
    assert song_store.get(ACACIA) is not None and keys(aws, songs.prefix(ACACIA)) == [songs.midi_key(ACACIA)]


def test_deleting_your_own_song_removes_its_record_and_files(
    api: Any,
    aws: dict[str, Any],
    catalog: list[SeedSong],
    song_store: SongStore,
) -> None:
    midi = own_ready_song(song_store, aws, "alice", "mine-1", "My Tune")
    aws["s3"].put_object(Bucket=aws["bucket"], Key=songs.upload_key("mine-1"), Body=b"a late post")
    own_ready_song(song_store, aws, "alice", "mine-10", "Another")  # a prefix of its own, not under mine-1/
    assert keys(aws, songs.prefix("mine-1")) == sorted([midi, songs.upload_key("mine-1")])
    result = api.lambda_handler(event("DELETE", **song("mine-1")), FakeContext())
    assert result["statusCode"] == 204 and not result["body"]
    assert song_store.get("mine-1") is None and keys(aws, songs.prefix("mine-1")) == []
    assert song_store.get("mine-10") is not None and keys(aws, songs.prefix("mine-10"))
    assert call(api, event("GET", **song("mine-1")))[0] == 404
    assert call(api, event("DELETE", **song("mine-1")))[0] == 404
    _, found = search(api, "my tune")
    assert "mine-1" not in {item["songId"] for item in found["items"]}


def test_deleting_your_own_song_takes_its_recording_out_of_the_fingerprint_index(
    api: Any, aws: dict[str, Any], song_store: SongStore
) -> None:
    own_ready_song(song_store, aws, "alice", "mine-2", "Hummed")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": fpkeys.audio_key(fpkeys.audio_ref("alice", "song", "mine-2"))}}
    dynamodb.put_item(TableName=aws["fingerprints_table"], Item={**key, "t": {"S": "Hummed"}})
    assert call(api, event("DELETE", **song("mine-2")))[0] == 204
    assert "Item" not in dynamodb.get_item(TableName=aws["fingerprints_table"], Key=key)
