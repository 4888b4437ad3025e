"""Erasing an account that took part in the community (`DELETE /me`, soundcanvas.maps.erasure): afterwards no
table and no object holds the user's id, while the maps' history, the vote counts and everyone else's karma are
what they were. The account API runs against moto's tables and bucket, made from template.yaml."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from soundcanvas.maps import karma
from soundcanvas.maps.edits import EditStore
from soundcanvas.maps.karma import KarmaStore, renamed_entry_key
from tests.apigw import call, event
from tests.conftest import ManualClock, load_function, record_dynamodb_calls
from tests.unit.maps.test_community import make_public_map, swap_lane

LEAVER = "leaver-5e1f"  # distinctive: no other id, key or text contains it
OTHERS = ("owner", "ver1", "ver2", "ver3", "fixer1", "fixer2")
ANONYMOUS = re.compile(r"deleted-[0-9a-f]{12}")
SONG_GIVEN = "pd-given-song"


@pytest.fixture
def apis(aws: dict[str, Any], clock: ManualClock, monkeypatch: pytest.MonkeyPatch, sam_template: Any) -> dict[str, Any]:
    clock.now = 1_800_000_000.0
    for key, value in sam_template.functions["AccountApiFunction"].environment.items():
        monkeypatch.setenv(key, value)
    community, maps_api, account = load_function("community_api"), load_function("maps_api"), load_function("account_api")
    for module in (community, maps_api, account):
        monkeypatch.setattr(module, "clock", clock)
    return {"community": community, "maps_api": maps_api, "account": account, "aws": aws, "clock": clock,
            "tables": {logical_id: sam_template.names[logical_id] for logical_id in sam_template.tables}}


def _propose(apis: dict[str, Any], user: str, map_id: str, comment: str = "fix") -> str:
    status, body = call(apis["community"], event(
        "POST", f"/maps/{map_id}/edits", user=user, body={"baseVersion": 1, "patch": swap_lane(), "comment": comment},
        resource="/maps/{mapId}/edits", path_params={"mapId": map_id}))
    assert status == 201, body
    return str(body["editId"])


def _vote(apis: dict[str, Any], user: str, edit_id: str, decision: str = "approve") -> dict[str, Any]:
    status, body = call(apis["community"], event(
        "POST", f"/edits/{edit_id}/votes", user=user, body={"decision": decision, "reason": f"{user} says so"},
        resource="/edits/{editId}/votes", path_params={"editId": edit_id}))
    assert status == 201, body
    return dict(body)


def _erase(apis: dict[str, Any]) -> dict[str, Any]:
    status, body = call(apis["account"], event("DELETE", "/me", user=LEAVER, resource="/me"))
    assert status == 200, body
    return dict(body["removed"])


def _view(apis: dict[str, Any], map_id: str) -> dict[str, Any]:
    status, body = call(apis["maps_api"], event("GET", f"/maps/{map_id}", user="reader", resource="/maps/{mapId}",
                                                path_params={"mapId": map_id}))
    assert status == 200, body
    return dict(body)


def community_world(apis: dict[str, Any]) -> dict[str, Any]:
    """The leaver made a map that others edited (kept) and one only proposed to (goes), gave a song its
    recording, decided an edit by their vote, voted on another, had an edit applied on someone else's map,
    and granted karma as an administrator."""
    community, aws, clock = apis["community"], apis["aws"], apis["clock"]
    store: KarmaStore = community.karma_store
    for user in ("ver1", "ver2", LEAVER):
        store.standing(user)
        store.grant(user, karma.VERIFIER_KARMA, reason="setup", by="admin")
    store.grant("ver3", 5, reason="welcome", by=LEAVER)
    clock.now += 8 * 86400
    kept = make_public_map(community.maps, aws, clock, LEAVER, "mapkept")
    gone = make_public_map(community.maps, aws, clock, LEAVER, "mapgone")
    other = make_public_map(community.maps, aws, clock, "owner", "mapother")
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=apis["tables"]["SongsTable"], Item={
        "songId": {"S": SONG_GIVEN}, "status": {"S": "READY"}, "visibility": {"S": "public"}})
    assert community.songs.start_upload(SONG_GIVEN, LEAVER, "mp3")

    decided = _propose(apis, "fixer1", kept)
    _vote(apis, "ver1", decided)
    assert _vote(apis, LEAVER, decided)["state"] == "applied"  # the leaver's vote decides it
    theirs = _propose(apis, LEAVER, other, comment="mine")
    assert _vote(apis, "ver2", theirs)["state"] == "applied"  # one approval: the leaver is trusted
    pending = _propose(apis, "fixer2", gone)
    _vote(apis, LEAVER, pending, "reject")
    return {"kept": kept, "gone": gone, "other": other, "decided": decided, "theirs": theirs, "pending": pending}


def everything(apis: dict[str, Any]) -> str:
    """Every item of every table and every object (key and body), as one text. But QuotasTable: its counters
    (`{userId}#{quota}#{window}`) hold no content and expire on their own; the erase leaves them."""
    dynamodb, s3 = boto3.client("dynamodb"), apis["aws"]["s3"]
    parts = []
    for logical_id, name in apis["tables"].items():
        if logical_id == "QuotasTable":
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            parts.append(json.dumps(page["Items"], sort_keys=True))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=apis["aws"]["bucket"]):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=apis["aws"]["bucket"], Key=obj["Key"])["Body"].read()
            parts.append(obj["Key"] + "\n" + body.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def standing_of_others(apis: dict[str, Any]) -> dict[str, Any]:
    store: KarmaStore = apis["community"].karma_store
    return {user: (store.standing(user, touch=False).karma, store.ledger_sum(user),
                   [(e["at"], e["amount"], e["requested"], e["reason"])
                    for e in store.ledger(user, limit=100, cursor=None)[0]]) for user in OTHERS}


def history(apis: dict[str, Any], made: dict[str, Any]) -> dict[str, Any]:
    """The maps' versions, tallies and edits, with the leaver's id and the anonymous one both written `X`."""
    store: EditStore = apis["community"].store
    maps = apis["community"].maps

    def plain(value: Any) -> Any:
        return json.loads(ANONYMOUS.sub("X", json.dumps(value).replace(LEAVER, "X")))

    views = {name: _view(apis, made[name]) for name in ("kept", "other")}
    versions = {name: [(v["version"], v["author"], v["editId"], v["key"])
                       for v in store.versions(maps.find(made[name]))] for name in ("kept", "other")}
    edits = {name: {k: v for k, v in (store.get(made[name]) or {}).items() if k not in ("comment", "state", "message")}
             for name in ("decided", "theirs", "pending")}
    votes = {name: sorted((v["voter"], v["decision"]) for v in store.votes(made[name]))
             for name in ("decided", "theirs", "pending")}
    return plain({"views": {n: {"map": urlparse(v["mapUrl"]).path, **{k: v[k] for k in ("author", "version", "votes",
                                                                                      "state")}}
                            for n, v in views.items()}, "versions": versions, "edits": edits, "votes": votes})


def test_after_an_erase_the_id_is_nowhere_and_history_and_others_karma_stay(apis: dict[str, Any]) -> None:
    made = community_world(apis)
    assert LEAVER in everything(apis)
    karma_before, history_before = standing_of_others(apis), history(apis, made)

    removed = _erase(apis)

    assert removed["mapsKept"] == 1 and removed["maps"] == 1
    text = everything(apis)
    assert LEAVER not in text
    assert len(set(ANONYMOUS.findall(text))) == 1  # one anonymous id for all of it
    assert standing_of_others(apis) == karma_before
    assert history(apis, made) == history_before
    store: EditStore = apis["community"].store
    assert store.get(made["theirs"])["comment"] == "" and all(v["reason"] is None for v in store.votes(made["pending"]))
    assert _view(apis, made["kept"])["author"] == store.get(made["theirs"])["author"]

    again = _erase(apis)
    assert again["communityItemsAnonymized"] == 0 and again["mapsKept"] == 0
    assert everything(apis) == text


def test_an_erase_cut_short_and_retried_names_everything_with_the_same_anonymous_id(
        apis: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    made = community_world(apis)
    karma_before, history_before = standing_of_others(apis), history(apis, made)
    songs = apis["account"].song_audio

    def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the function timed out")

    with monkeypatch.context() as patched:
        patched.setattr(songs, "forget_giver", crash)
        with pytest.raises(RuntimeError):
            call(apis["account"], event("DELETE", "/me", user=LEAVER, resource="/me"))
    assert LEAVER in everything(apis)  # the song still names them: the erase did not finish

    _erase(apis)
    text = everything(apis)
    assert LEAVER not in text and len(set(ANONYMOUS.findall(text))) == 1
    assert standing_of_others(apis) == karma_before and history(apis, made) == history_before


def test_only_a_grants_key_and_entity_name_its_giver() -> None:
    entity = {"kind": "grant", "id": "ann:welcome"}
    assert renamed_entry_key("2027-01-01T00:00:00.000Z#grant#ann#ab12cd34", entity, "ann", "deleted-0") == (
        "2027-01-01T00:00:00.000Z#grant#deleted-0#ab12cd34", {"kind": "grant", "id": "deleted-0:welcome"})
    edit = {"kind": "edit", "id": "e1"}
    assert renamed_entry_key("2027-01-01T00:00:00.000Z#vote-matched#e1", edit, "ann", "deleted-0") == (
        "2027-01-01T00:00:00.000Z#vote-matched#e1", edit)
    # a giver whose id is part of the timestamp or the reason is only renamed where it names the giver
    assert renamed_entry_key("2027-01-01T00:00:00.000Z#grant#2027#ff", {"kind": "grant", "id": "2027:x"},
                             "2027", "d")[0] == "2027-01-01T00:00:00.000Z#grant#d#ff"


def test_an_erase_reads_by_keys_that_name_the_user(apis: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The edits of the leaver's maps and the songs they gave a recording are Queries of the sparse ByMapOwner and
    ByAudioGiver indexes: no Scan, and the verifier queue (ByState) is not read whole."""
    community_world(apis)
    calls = record_dynamodb_calls(monkeypatch)
    _erase(apis)
    reads = [(op, kwargs.get("IndexName")) for op, kwargs in calls if op in ("Query", "Scan")]
    assert ("Query", "ByMapOwner") in reads and ("Query", "ByAudioGiver") in reads
    assert not [read for read in reads if read[0] == "Scan" or read[1] == "ByState"], reads
