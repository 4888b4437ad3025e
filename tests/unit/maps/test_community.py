"""The community rules, each with an attempt to break it: edits as RFC 6902 patches against a version,
votes by verifiers only, two approvals (or one for a trusted author) apply, two rejections reject,
a stale edit becomes a conflict, concurrent votes and applies decide once, karma caps, roles, expiry,
verification and reverts. Handlers run against moto's tables and bucket, made from template.yaml."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pytest

from soundcanvas.maps import edits, karma
from soundcanvas.maps.document import validate_map
from soundcanvas.maps.drum_maps import MapStore, document_key
from soundcanvas.maps.edits import EditConflict, EditStore
from soundcanvas.maps.karma import Credit, KarmaStore, role_for, run_transaction
from soundcanvas.maps.lanes import LANES
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function

DAY = 86400.0
SONG = "song-community-1"
FREE_LANES = ("crash", "ride", "tom_high", "tom_low", "hihat_open")  # what expert's last hit may become


def _hit(t: float, lane: str, beat: float) -> dict[str, Any]:
    return {"t": t, "t0": t, "lane": lane, "velocity": 0.8, "beat": beat}


def base_document(song_id: str = SONG) -> dict[str, Any]:
    expert = [_hit(0.5 * i, "kick" if i % 2 == 0 else "snare", float(i)) for i in range(8)]
    doc = {"schemaVersion": 1, "songId": song_id, "tempoBpm": 120.0, "offsetSeconds": 0.0, "beatsPerBar": 4,
           "lanes": list(LANES), "levels": {"easy": expert[:2], "medium": expert[:4], "hard": expert[:6],
                                            "expert": expert}}
    validate_map(doc)
    return doc


@pytest.fixture
def world(aws: dict[str, Any], clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A finished public map of a catalog song by `owner`, its version 1 in the bucket, and the API functions."""
    clock.now = 1_800_000_000.0
    api = load_function("community_api")
    maps_api = load_function("maps_api")
    for module in (api, maps_api):
        monkeypatch.setattr(module, "clock", clock)
    store: EditStore = api.store
    map_id = make_public_map(api.maps, aws, clock, "owner", "map1")
    return {"api": api, "maps_api": maps_api, "store": store, "karma": api.karma_store, "maps": api.maps,
            "map_id": map_id, "aws": aws, "clock": clock}


def make_public_map(maps: MapStore, aws: dict[str, Any], clock: ManualClock, owner: str, map_id: str,
                    song_id: str = SONG, public: bool = True) -> str:
    maps.create(owner, map_id, source={"kind": "song", "id": song_id, "title": "T", "artist": "A",
                                       "audioKey": "catalog/x/audio.mp3", "public": public}, difficulty=None)
    assert maps.claim(owner, map_id, execution_id="e1")
    key = document_key(song_id, map_id, 1)
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=json.dumps(base_document(song_id)).encode())
    assert maps.advance(owner, map_id, finished="levels", elapsed_ms=1, next_stage="done", outputs={"mapKey": key})
    return map_id


def make_verifier(world: dict[str, Any], user: str, amount: int = karma.VERIFIER_KARMA) -> None:
    """A user with `amount` karma whose account is 8 days old (the clock moves on 8 days)."""
    store: KarmaStore = world["karma"]
    store.standing(user)
    store.grant(user, amount, reason="test setup", by="admin")


def age_accounts(world: dict[str, Any]) -> None:
    world["clock"].now += 8 * DAY


def swap_lane(index: int = 7, lane: str = "crash") -> list[dict[str, Any]]:
    return [{"op": "replace", "path": f"/levels/expert/{index}/lane", "value": lane}]


def propose(world: dict[str, Any], user: str, patch: list[dict[str, Any]], base: int = 1,
            map_id: str | None = None) -> tuple[int, Any]:
    body = {"baseVersion": base, "patch": patch, "comment": "fix"}
    mid = map_id or world["map_id"]
    return call(world["api"], event("POST", f"/maps/{mid}/edits", user=user, body=body,
                                    resource="/maps/{mapId}/edits", path_params={"mapId": mid}))


def vote(world: dict[str, Any], user: str, edit_id: str, decision: str = "approve") -> tuple[int, Any]:
    return call(world["api"], event("POST", f"/edits/{edit_id}/votes", user=user, body={"decision": decision},
                                    resource="/edits/{editId}/votes", path_params={"editId": edit_id}))


def current_document(world: dict[str, Any]) -> dict[str, Any]:
    record = world["maps"].get("owner", world["map_id"])
    return world["store"].load_version(record, int(record["version"]))


# --- proposing -----------------------------------------------------------------------------------
def test_an_edit_is_checked_against_its_base_version_and_the_schema(world: dict[str, Any]) -> None:
    status, body = propose(world, "fixer1", swap_lane())
    assert status == 201 and body["state"] == "pending"
    assert body["diff"] == {"levels": {"expert": {"added": 1, "removed": 1}}, "fields": []}

    status, body = propose(world, "fixer1", [{"op": "remove", "path": "/levels/expert/99"}])
    assert status == 400 and body["errors"][0]["field"] == "patch[0]"
    status, body = propose(world, "fixer1", swap_lane(7, "cowbell"))
    assert status == 400 and "levels.expert[7].lane" in body["message"] and "cowbell" in body["message"]
    status, body = propose(world, "fixer1", swap_lane(), base=2)
    assert status == 400 and body["errors"][0]["field"] == "baseVersion"
    status, body = propose(world, "fixer1", [{"op": "replace", "path": "/songId", "value": "other"}])
    assert status == 400 and body["errors"][0]["field"] == "patch[0]" and "cannot be changed" in body["message"]
    status, body = propose(world, "fixer1", [{"op": "replace", "path": "/tempoBpm", "value": 120.0}])
    assert status == 400 and "changes nothing" in body["message"]
    status, body = propose(world, "fixer1", [{"op": "add", "path": "/tempoBpm"}])
    assert status == 400 and "needs a value" in body["message"]
    too_many = [{"op": "test", "path": "/tempoBpm", "value": 120.0}] * (edits.MAX_OPERATIONS + 1)
    assert propose(world, "fixer1", too_many)[0] == 400


def test_a_private_map_is_not_open_to_others(world: dict[str, Any]) -> None:
    make_public_map(world["maps"], world["aws"], world["clock"], "owner", "private1", public=False)
    assert propose(world, "stranger", swap_lane(), map_id="private1")[0] == 404
    status, body = propose(world, "owner", swap_lane(), map_id="private1")
    assert status == 409 and "not open to edits" in body["message"]


def test_a_fixer_may_propose_five_edits_a_day(world: dict[str, Any]) -> None:
    for i in range(karma.EDITS_PER_DAY[karma.FIXER]):
        assert propose(world, "busy", swap_lane(7, FREE_LANES[i]))[0] == 201
    status, body = propose(world, "busy", swap_lane(0, "crash"))
    assert status == 429 and "map-edits" in body["message"]


# --- voting --------------------------------------------------------------------------------------
def test_only_verifiers_vote_never_on_their_own_edit_and_once(world: dict[str, Any]) -> None:
    make_verifier(world, "ver1")
    make_verifier(world, "ver2")
    age_accounts(world)
    edit_id = propose(world, "ver1", swap_lane())[1]["editId"]
    status, body = vote(world, "fixer2", edit_id)
    assert status == 403 and "only verifiers vote" in body["message"]
    status, body = vote(world, "ver1", edit_id)
    assert status == 403 and "your own edit" in body["message"]
    # a young account with the karma is not yet a verifier
    make_verifier(world, "young")
    assert vote(world, "young", edit_id)[0] == 403


def test_two_approvals_apply_an_edit_as_a_new_version_and_credit_karma(world: dict[str, Any]) -> None:
    for user in ("ver1", "ver2"):
        make_verifier(world, user)
    age_accounts(world)
    edit_id = propose(world, "fixer1", swap_lane())[1]["editId"]
    status, body = vote(world, "ver1", edit_id)
    assert (status, body["state"], body["approvals"]) == (201, "pending", 1)
    status, body = vote(world, "ver1", edit_id)
    assert status == 409 and "already voted" in body["message"]
    status, body = vote(world, "ver2", edit_id)
    assert (status, body["state"], body["appliedVersion"]) == (201, "applied", 2)

    record = world["maps"].get("owner", world["map_id"])
    assert record["version"] == 2 and record["outputs"]["mapKey"].endswith(f"/{world['map_id']}/v2.json")
    expected = base_document()
    expected["levels"]["expert"][7]["lane"] = "crash"
    assert current_document(world) == expected
    assert world["store"].load_version(record, 1) == base_document()  # version 1 is kept as it was
    store: KarmaStore = world["karma"]
    assert store.standing("fixer1", touch=False).karma == karma.APPLIED
    assert store.standing("ver1", touch=False).karma == karma.VERIFIER_KARMA + karma.VOTE_MATCHED
    for user in ("fixer1", "ver1", "ver2"):
        assert store.ledger_sum(user) == store.standing(user, touch=False).karma
    assert vote(world, "ver3", edit_id)[0] in (403, 409)  # nothing more to decide

    status, view = call(world["maps_api"], event("GET", f"/maps/{world['map_id']}", user="someone",
                                                 resource="/maps/{mapId}", path_params={"mapId": world["map_id"]}))
    assert status == 200 and view["version"] == 2 and view["votes"] == {"approve": 2, "reject": 0}


def test_a_deciding_vote_whose_decision_failed_decides_when_sent_again_or_by_the_sweeper(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The deciding vote is in, then applying the edit fails (throttled, a timeout): sending the vote again
    decides it; left alone, the sweeper decides it rather than letting it expire."""
    for user in ("ver1", "ver2", "ver3", "ver4"):
        make_verifier(world, user)
    age_accounts(world)
    store: EditStore = world["store"]
    real_apply = store._apply

    def throttled(edit: dict[str, Any], *, decider: str) -> Any:
        raise karma.TransactionCancelled(["ThrottlingError"])

    first, second = (propose(world, "fixer1", swap_lane(i, "crash"))[1]["editId"] for i in (6, 7))
    for edit_id in (first, second):
        assert vote(world, "ver1", edit_id)[0] == 201
        monkeypatch.setattr(store, "_apply", throttled)
        with pytest.raises(karma.TransactionCancelled):
            world["api"].lambda_handler(event("POST", f"/edits/{edit_id}/votes", user="ver2", body={"decision": "approve"},
                                              resource="/edits/{editId}/votes", path_params={"editId": edit_id}),
                                        FakeContext())
        monkeypatch.setattr(store, "_apply", real_apply)
        assert store.get(edit_id)["state"] == "pending" and store.get(edit_id)["approvals"] == 2
    status, body = vote(world, "ver2", first)  # the client sends the vote again
    assert (status, body["state"], body["appliedVersion"]) == (201, "applied", 2)
    world["clock"].now += edits.PENDING_SECONDS + 1
    assert store.expire_stale(older_than=world["clock"].now - edits.PENDING_SECONDS) == []
    decided = store.get(second)
    assert decided["state"] == "conflict"  # decided: it was proposed against version 1, and the map moved on
    assert vote(world, "ver3", second)[0] == 409


def test_one_edit_the_sweeper_cannot_decide_does_not_stop_the_sweep(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for user in ("ver1", "ver2"):
        make_verifier(world, user)
    age_accounts(world)
    store: EditStore = world["store"]
    decided = propose(world, "fixer1", swap_lane(7, "crash"))[1]["editId"]
    undecided = propose(world, "fixer2", swap_lane(6, "ride"))[1]["editId"]
    assert vote(world, "ver1", decided)[0] == 201
    monkeypatch.setattr(store, "_apply", lambda edit, *, decider: (_ for _ in ()).throw(
        karma.TransactionCancelled(["ThrottlingError"])))
    with pytest.raises(karma.TransactionCancelled):  # its deciding vote is in; applying it is throttled
        world["api"].lambda_handler(event("POST", f"/edits/{decided}/votes", user="ver2", body={"decision": "approve"},
                                          resource="/edits/{editId}/votes", path_params={"editId": decided}),
                                    FakeContext())
    world["clock"].now += edits.PENDING_SECONDS + 1
    expired = store.expire_stale(older_than=world["clock"].now - edits.PENDING_SECONDS)  # still throttled
    assert [e["editId"] for e in expired] == [undecided]
    assert store.get(decided)["state"] == "pending"  # tried again by the next sweep


def test_a_trusted_authors_edit_needs_one_approval(world: dict[str, Any]) -> None:
    for user in ("ver1", "ver2"):
        make_verifier(world, user)
    age_accounts(world)
    edit_id = propose(world, "ver1", swap_lane())[1]["editId"]
    assert vote(world, "ver2", edit_id)[1]["state"] == "applied"


def test_two_rejections_reject_and_five_in_a_day_suspend_proposing(world: dict[str, Any]) -> None:
    for user in ("ver1", "ver2"):
        make_verifier(world, user, 400)
    age_accounts(world)
    for i in range(karma.SUSPEND_AFTER_REJECTIONS):
        edit_id = propose(world, "vandal", swap_lane(7, FREE_LANES[i]))[1]["editId"]
        assert vote(world, "ver1", edit_id, "reject")[1]["state"] == "pending"
        assert vote(world, "ver2", edit_id, "reject")[1]["state"] == "rejected"
        world["clock"].now += 60
    assert world["karma"].standing("vandal", touch=False).karma == karma.SUSPEND_AFTER_REJECTIONS * karma.REJECTED
    status, body = propose(world, "vandal", swap_lane())
    assert status == 403 and "suspended" in body["message"]
    world["clock"].now += karma.SUSPENSION_SECONDS + 1
    assert propose(world, "vandal", swap_lane())[0] == 201


def test_a_stale_edit_becomes_a_conflict_never_a_lost_update(world: dict[str, Any]) -> None:
    for user in ("ver1", "ver2"):
        make_verifier(world, user)
    age_accounts(world)
    first = propose(world, "fixer1", swap_lane(7, "crash"))[1]["editId"]
    second = propose(world, "fixer2", swap_lane(6, "ride"))[1]["editId"]
    for user in ("ver1", "ver2"):
        vote(world, user, first)
    vote(world, "ver1", second)
    status, body = vote(world, "ver2", second)
    assert status == 409 and "version 2" in body["message"]
    assert world["store"].get(second)["state"] == "conflict"
    assert current_document(world)["levels"]["expert"][6]["lane"] == "kick"  # the first edit's map, untouched
    # an edit of version 1 now could only end as a conflict: refused, spending nothing; against version 2 it is taken
    status, body = propose(world, "fixer2", swap_lane(6, "ride"), base=1)
    assert status == 409 and "against version 2" in body["message"]
    assert propose(world, "fixer2", swap_lane(6, "ride"), base=2)[0] == 201


@pytest.fixture
def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's in-process DynamoDB undoes a failed transaction by restoring a copy of the whole table, which
    is only right one request at a time; the local stack serializes its DynamoDB requests the same way
    (local_stack.s3gate). The threads below then race as clients of a serializing DynamoDB do."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("transact_write_items", "update_item", "put_item", "get_item", "query"):
        original = getattr(DynamoDBBackend, name)

        def serialized(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialized)


@pytest.mark.usefixtures("one_request_at_a_time")
def test_concurrent_final_votes_apply_once_and_concurrent_applies_have_one_winner(world: dict[str, Any]) -> None:
    store: EditStore = world["store"]
    for user in ("ver1", "ver2", "ver3", "ver4"):
        make_verifier(world, user)
    age_accounts(world)
    record = world["maps"].get("owner", world["map_id"])
    one = store.submit(world["karma"].standing("fixer1"), record, base_version=1, operations=swap_lane(7),
                       comment="")
    two = store.submit(world["karma"].standing("fixer2"), record, base_version=1, operations=swap_lane(6, "ride"),
                       comment="")
    for edit, voter in ((one, "ver1"), (two, "ver3")):
        store.vote(world["karma"].standing(voter), edit["editId"], decision="approve", reason=None)
    outcomes: list[Any] = []

    def final_vote(edit_id: str, voter: str) -> None:
        try:
            decided = store.vote(world["karma"].standing(voter), edit_id, decision="approve", reason=None)
            outcomes.append(decided.edit["state"])
        except EditConflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=final_vote, args=args) for args in ((one["editId"], "ver2"),
                                                                            (two["editId"], "ver4"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = sorted(store.get(e["editId"])["state"] for e in (one, two))
    assert states == ["applied", "conflict"], outcomes
    assert world["maps"].get("owner", world["map_id"])["version"] == 2


@pytest.mark.usefixtures("one_request_at_a_time")
def test_two_final_votes_at_once_on_one_edit_apply_it_once(world: dict[str, Any]) -> None:
    store: EditStore = world["store"]
    for user in ("ver1", "ver2", "ver3"):
        make_verifier(world, user)
    age_accounts(world)
    record = world["maps"].get("owner", world["map_id"])
    edit = store.submit(world["karma"].standing("fixer1"), record, base_version=1, operations=swap_lane(7), comment="")
    results: list[str] = []

    def final_vote(voter: str) -> None:
        try:
            results.append(store.vote(world["karma"].standing(voter), edit["editId"], decision="approve",
                                      reason=None).edit["state"])
        except EditConflict as exc:  # a vote that arrives once the edit is applied is refused
            results.append(str(exc))

    threads = [threading.Thread(target=final_vote, args=(voter,)) for voter in ("ver1", "ver2", "ver3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(edit["editId"])["state"] == "applied" and len(results) == 3
    assert world["maps"].get("owner", world["map_id"])["version"] == 2
    assert world["karma"].standing("fixer1", touch=False).karma == karma.APPLIED  # credited once


# --- karma ---------------------------------------------------------------------------------------
def test_gains_are_capped_per_day_and_per_other_user(world: dict[str, Any]) -> None:
    store: KarmaStore = world["karma"]
    clock = world["clock"]

    def credit(amount: int, source: str) -> int:
        before = store.standing("farmer", touch=False).karma
        run_transaction(store.connection(), store.credit_actions(
            [Credit("farmer", amount, "edit-applied", {"kind": "edit", "id": f"e{clock.now}"}, source)], at=clock.now))
        clock.now += 1
        return store.standing("farmer", touch=False).karma - before

    assert [credit(10, "pal") for _ in range(4)] == [10, 10, 10, 0]  # at most 30 a day from one user
    gained = sum(credit(10, f"user{i}") for i in range(30))
    assert 30 + gained == karma.DAILY_GAIN_CAP  # at most 200 a day in all
    assert credit(-2, "user1") == -2  # losses are never capped
    clock.now += DAY
    assert credit(10, "pal") == 10  # a new day
    assert store.ledger_sum("farmer") == store.standing("farmer", touch=False).karma


def test_roles_follow_karma_age_and_groups() -> None:
    week = karma.VERIFIER_AGE_SECONDS
    assert role_for(0, 10 * week) == "fixer"
    assert role_for(199, 10 * week) == "fixer"
    assert role_for(200, week - 1) == "fixer"
    assert role_for(200, week) == "verifier"
    assert role_for(1000, 0) == "curator"
    assert role_for(-50, 0, {"admin"}) == "admin"


def test_undecided_edits_expire_after_seven_days(world: dict[str, Any]) -> None:
    edit_id = propose(world, "fixer1", swap_lane())[1]["editId"]
    world["clock"].now += 6 * DAY
    assert world["store"].expire_stale(older_than=world["clock"].now - edits.PENDING_SECONDS) == []
    world["clock"].now += 2 * DAY
    expired = world["store"].expire_stale(older_than=world["clock"].now - edits.PENDING_SECONDS)
    assert [e["editId"] for e in expired] == [edit_id] and world["store"].get(edit_id)["state"] == "expired"
    status, body = call(world["api"], event("GET", "/edits", user="x", query={"state": "pending"}))
    assert status == 200 and body["items"] == []


def test_the_queue_is_oldest_first(world: dict[str, Any]) -> None:
    ids = []
    for i in range(3):
        ids.append(propose(world, f"fixer{i}", swap_lane(7, FREE_LANES[i]))[1]["editId"])
        world["clock"].now += 1
    status, body = call(world["api"], event("GET", "/edits", user="x", query={"limit": "2"}))
    assert status == 200 and [e["editId"] for e in body["items"]] == ids[:2]
    status, body = call(world["api"], event("GET", "/edits", user="x", query={"cursor": body["nextCursor"]}))
    assert [e["editId"] for e in body["items"]] == ids[2:]


# --- verification, reverts, grants -----------------------------------------------------------------
def test_a_curator_verifies_and_the_previous_canonical_map_is_archived(world: dict[str, Any]) -> None:
    from soundcanvas.maps.song_audio import SongAudioStore

    songs = SongAudioStore(world["aws"]["songs_table"], "us-east-1")
    world["aws"]["dynamodb"].put_item(TableName=world["aws"]["songs_table"],
                                      Item={"songId": {"S": SONG}, "visibility": {"S": "public"}})
    make_public_map(world["maps"], world["aws"], world["clock"], "owner2", "map2")

    def verify(user: str, map_id: str, version: int = 1, groups: str | None = None) -> tuple[int, Any]:
        ev = event("POST", f"/maps/{map_id}/verify", user=user, body={"version": version},
                   resource="/maps/{mapId}/verify", path_params={"mapId": map_id})
        if groups:
            ev["requestContext"]["authorizer"]["groups"] = groups
        return call(world["api"], ev)

    make_verifier(world, "ver1")
    age_accounts(world)
    status, body = verify("ver1", world["map_id"])
    assert status == 403 and "curators" in body["message"]
    make_verifier(world, "cur1", karma.CURATOR_KARMA)
    assert verify("cur1", world["map_id"], version=2)[0] == 409
    status, body = verify("cur1", world["map_id"])
    assert status == 200 and body["state"] == "verified" and songs.get(SONG)["canonicalMapId"] == world["map_id"]
    status, body = verify("boss", "map2", groups="admin")
    assert status == 200 and body["archivedMapId"] == world["map_id"]
    assert world["maps"].get("owner", world["map_id"])["state"] == "archived"
    status, listed = call(world["maps_api"], event("GET", "/maps", user="x", query={"songId": SONG,
                                                                                      "state": "verified"}))
    assert [m["mapId"] for m in listed["items"]] == ["map2"]


def song_with_a_verified_map_and_another(world: dict[str, Any]) -> Any:
    """The song's store: map1 verified and the song's canonical map, map2 (another owner's) unverified."""
    from soundcanvas.maps.song_audio import SongAudioStore

    songs = SongAudioStore(world["aws"]["songs_table"], "us-east-1")
    world["aws"]["dynamodb"].put_item(TableName=world["aws"]["songs_table"],
                                      Item={"songId": {"S": SONG}, "visibility": {"S": "public"}})
    make_public_map(world["maps"], world["aws"], world["clock"], "owner2", "map2")
    assert world["maps"].set_state("owner", "map1", "verified", verified_version=1)
    songs.set_canonical_map(SONG, "map1")
    return songs


def test_verifying_never_archives_the_map_the_song_names_and_finishes_what_a_stopped_verify_left(
        world: dict[str, Any]) -> None:
    songs = song_with_a_verified_map_and_another(world)
    maps, api = world["maps"], world["api"]
    # curator B verified map2 and read map1 as the map it replaced; curator A then verified map1 again, so
    # the song names map1 when B comes to archive it: B must leave it
    assert not api._archive_replaced(maps.get("owner", "map1"), song_id=SONG, canonical_map_id="map2")
    assert maps.get("owner", "map1")["state"] == "verified"
    # a verify of map2 that stopped after the song's pointer moved (map1 left verified): verifying again ends it
    assert maps.set_state("owner2", "map2", "verified", verified_version=1)
    songs.set_canonical_map(SONG, "map2")
    make_verifier(world, "cur1", karma.CURATOR_KARMA)
    age_accounts(world)
    status, body = call(api, event("POST", "/maps/map2/verify", user="cur1", body={"version": 1},
                                   resource="/maps/{mapId}/verify", path_params={"mapId": "map2"}))
    assert status == 200 and body["archivedMapId"] == "map1"
    assert maps.get("owner", "map1")["state"] == "archived" and songs.get(SONG)["canonicalMapId"] == "map2"


def test_verify_archives_the_replaced_map_through_a_conflicting_write(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A vote's tally written to the old map at the same moment cancels the archive's transaction
    (TransactionConflict): it is tried again, not given up."""
    song_with_a_verified_map_and_another(world)
    maps, api = world["maps"], world["api"]
    real, calls = api.karma.run_transaction, []

    def conflicting_once(connection: Any, items: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise karma.TransactionCancelled([None, "TransactionConflict"])
        real(connection, items)

    monkeypatch.setattr(api.karma, "run_transaction", conflicting_once)
    make_verifier(world, "cur1", karma.CURATOR_KARMA)
    age_accounts(world)
    status, body = call(api, event("POST", "/maps/map2/verify", user="cur1", body={"version": 1},
                                   resource="/maps/{mapId}/verify", path_params={"mapId": "map2"}))
    assert status == 200 and body["archivedMapId"] == "map1" and len(calls) == 2
    assert maps.get("owner", "map1")["state"] == "archived"


def test_a_revert_is_a_new_edit_with_the_inverse_patch(world: dict[str, Any]) -> None:
    make_verifier(world, "ver1")
    make_verifier(world, "ver2")
    age_accounts(world)
    edit_id = propose(world, "ver1", swap_lane())[1]["editId"]
    vote(world, "ver2", edit_id)
    status, body = call(world["api"], event("POST", f"/edits/{edit_id}/revert", user="fixer3", body={},
                                            resource="/edits/{editId}/revert", path_params={"editId": edit_id}))
    assert status == 201
    revert = world["store"].get(body["editId"])
    assert revert["revertOf"] == edit_id and revert["baseVersion"] == 2
    vote(world, "ver1", body["editId"])
    assert vote(world, "ver2", body["editId"])[1]["appliedVersion"] == 3
    assert current_document(world) == base_document()


def test_only_admins_grant_karma_and_the_ledger_is_public(world: dict[str, Any]) -> None:
    grant = {"amount": 50, "reason": "welcome"}
    ev = event("POST", "/users/bob/karma", user="alice", body=grant, resource="/users/{userId}/karma",
               path_params={"userId": "bob"})
    assert call(world["api"], ev)[0] == 403
    ev["requestContext"]["authorizer"]["groups"] = "admin"
    status, body = call(world["api"], ev)
    assert status == 201 and body["karma"] == 50
    status, body = call(world["api"], event("GET", "/users/bob/karma", user="carol", resource="/users/{userId}/karma",
                                            path_params={"userId": "bob"}))
    assert status == 200 and body["karma"] == 50 and body["items"][0]["reason"] == "grant"


def test_an_edited_map_cannot_be_deleted_by_its_owner(world: dict[str, Any]) -> None:
    make_verifier(world, "ver1")
    make_verifier(world, "ver2")
    age_accounts(world)
    edit_id = propose(world, "ver1", swap_lane())[1]["editId"]
    vote(world, "ver2", edit_id)
    status, body = call(world["maps_api"], event("DELETE", f"/maps/{world['map_id']}", user="owner",
                                                 resource="/maps/{mapId}", path_params={"mapId": world["map_id"]}))
    assert status == 409 and "community" in body["message"]


def test_an_export_lists_edits_and_votes_and_erasure_anonymizes_them(world: dict[str, Any]) -> None:
    make_verifier(world, "ver1")
    make_verifier(world, "ver2")
    age_accounts(world)
    edit_id = propose(world, "leaver", swap_lane())[1]["editId"]
    vote(world, "ver1", edit_id)
    vote(world, "ver2", edit_id)
    store: EditStore = world["store"]
    mine, votes = store.by_author("leaver")
    assert [e["editId"] for e in mine] == [edit_id] and votes == []
    assert [v["editId"] for v in store.by_author("ver1")[1]] == [edit_id]
    assert store.anonymize("leaver", "deleted-1") == 1
    assert store.get(edit_id)["author"] == "deleted-1"
    assert [v["author"] for v in store.versions(world["maps"].get("owner", world["map_id"]))][1] == "deleted-1"
    assert copy.deepcopy(store.by_author("leaver")) == ([], [])


def test_a_patch_of_the_whole_document_cannot_change_what_identifies_the_map(world: dict[str, Any]) -> None:
    other = base_document("someone-elses-song")
    status, body = propose(world, "fixer1", [{"op": "replace", "path": "", "value": other}])
    assert status == 400 and "/songId identifies the map" in body["message"]


def test_a_revert_of_a_wide_edit_replaces_the_fields_it_changed() -> None:
    before = {"levels": {"expert": list(range(600))}, "tempoBpm": 1}
    after = {"levels": {"expert": []}, "tempoBpm": 1}
    assert edits.revert_patch(before, after) == [{"op": "replace", "path": "/levels", "value": before["levels"]}]
    assert len(edits.revert_patch({"tempoBpm": 1}, {"tempoBpm": 2})) == 1  # a small one stays a plain diff


@pytest.mark.parametrize("change", ["removed", "added"])
def test_a_revert_of_a_wide_edit_that_removed_or_added_a_field_undoes_it(change: str) -> None:
    doc = base_document()
    wide = copy.deepcopy(doc)
    wide["levels"]["expert"] = wide["levels"]["expert"] * 100  # more places than MAX_OPERATIONS
    before, after = (doc, wide) if change == "added" else (wide, doc)
    before, after = copy.deepcopy(before), copy.deepcopy(after)
    if change == "removed":
        before["durationSeconds"] = 30.0  # the edit removed it
    else:
        after["durationSeconds"] = 30.0  # the edit added it
    revert = edits.revert_patch(before, after)
    assert {"op": "replace", "path": "/levels", "value": before["levels"]} in revert  # the wide form
    assert edits.apply_patch(after, revert) == before


def test_a_patch_that_is_not_a_map_or_copies_the_map_into_itself_is_refused_naming_it(world: dict[str, Any]) -> None:
    status, body = propose(world, "fixer1", [{"op": "replace", "path": "", "value": [1]}])
    assert status == 400 and body["errors"][0]["field"] == "patch" and "JSON object" in body["message"]
    doubling = [{"op": "copy", "from": "/levels/expert", "path": "/levels/expert/-"}] * 30
    status, body = propose(world, "fixer1", doubling)  # each copy would double the map: 2**30 times its size
    assert status == 400 and body["errors"][0]["field"].startswith("patch[") and "copies" in body["message"]
    one_copy = [{"op": "copy", "from": "/levels/easy", "path": "/levels/medium"}]  # an ordinary copy still applies
    assert propose(world, "fixer1", one_copy)[0] == 201


def test_a_revert_needs_the_map_still_at_the_edits_version(world: dict[str, Any]) -> None:
    make_verifier(world, "ver1")
    make_verifier(world, "ver2")
    age_accounts(world)
    first = propose(world, "ver1", swap_lane(7, "crash"))[1]["editId"]
    vote(world, "ver2", first)
    second = propose(world, "ver1", swap_lane(6, "ride"), base=2)[1]["editId"]
    vote(world, "ver2", second)
    status, body = call(world["api"], event("POST", f"/edits/{first}/revert", user="fixer3", body={},
                                            resource="/edits/{editId}/revert", path_params={"editId": first}))
    assert status == 409 and "moved to version 3" in body["message"]


def test_a_verification_of_a_version_that_is_no_longer_current_changes_nothing(world: dict[str, Any]) -> None:
    assert not world["maps"].set_state("owner", world["map_id"], "verified", verified_version=2)
    assert world["maps"].get("owner", world["map_id"])["state"] == "unverified"
    assert world["maps"].set_state("owner", world["map_id"], "verified", verified_version=1)
