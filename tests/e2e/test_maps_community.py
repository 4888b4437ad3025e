"""The Maps community end to end over real HTTP on the local stack: a drum map made from a catalog song's
recording, an edit proposed by one user and approved by two verifiers (version 2 published, karma credited),
the rules refusing what they must (a fixer's vote, a self-vote, a double vote, a stale edit), two final
votes at once applying an edit once, and a curator's verification.

Verifiers are made as the product makes them: an administrator (the `admin` group in the token) grants
karma, and the stack's clock moves 8 days on so their accounts are old enough."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import requests

from bench.maps import grooves
from local_stack.stack import LocalStack
from tests.e2e.test_maps import Mapper, encode

pytestmark = pytest.mark.e2e
DAYS = 86400.0


class Member(Mapper):
    """A signed-in member of the community (`groups` become the token's `cognito:groups`)."""

    def __init__(self, stack: LocalStack, user: str, groups: tuple[str, ...] = ()) -> None:
        super().__init__(stack, user)
        # Signed at the real time: the authorizer checks `iat` and `exp` against the real clock, while the
        # stack's clock (which the handlers read) may have been moved days ahead.
        claims = {"cognito:groups": list(groups)} if groups else {}
        self.session.headers["Authorization"] = f"Bearer {stack.idp.issue(user, now=time.time(), **claims)}"

    def propose(self, map_id: str, patch: list[dict[str, Any]], base: int) -> requests.Response:
        return self.session.post(self.url(f"/maps/{map_id}/edits"), json={"baseVersion": base, "patch": patch,
                                                                          "comment": "tempo"}, timeout=30)

    def vote(self, edit_id: str, decision: str = "approve") -> requests.Response:
        return self.session.post(self.url(f"/edits/{edit_id}/votes"), json={"decision": decision}, timeout=30)

    def karma(self, user: str) -> dict[str, Any]:
        response = self.session.get(self.url(f"/users/{user}/karma"), timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())


def member(stack: LocalStack, name: str, groups: tuple[str, ...] = ()) -> Member:
    return Member(stack, f"{name}-{time.monotonic_ns()}", groups)


def make_public_map(stack: LocalStack, cache: Path, song_query: str) -> dict[str, Any]:
    """A finished map of a public seed song, made over HTTP from a rendered groove. A song takes one recording, so
    each module that needs a public map names a song of its own."""
    samples: np.ndarray = grooves.render_groove(grooves.groove(303, style="rock", tempo_bpm=110.0, seconds=20.0),
                                                grooves.FLUIDR3, cache, mix=True)
    author = member(stack, "mapmaker")
    found = author.session.get(author.url("/songs"), params={"q": song_query}, timeout=30).json()["items"]
    song_id = found[0]["songId"]
    song = author.attach_audio(song_id, encode(samples, "mp3"))
    assert song["audioStatus"] == "READY", song
    created = author.new_map(songId=song_id)
    assert created.status_code == 202, created.text
    state = author.map_finished(created.json()["mapId"])
    assert state["status"] == "COMPLETE" and state["public"] and state["version"] == 1, state
    return {"mapId": state["mapId"], "songId": song_id, "owner": author.user}


@pytest.fixture(scope="module")
def public_map(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_public_map(stack, tmp_path_factory.mktemp("community"), "soldier's joy")


def verifiers(stack: LocalStack, clock: Any, count: int, amount: int = 200) -> list[Member]:
    """`count` verifiers: granted karma by an administrator, then 8 days pass (the clock moves on)."""
    admin = member(stack, "admin", ("admin",))
    names = [f"verifier{i}-{time.monotonic_ns()}" for i in range(count)]
    for name in names:
        granted = admin.session.post(admin.url(f"/users/{name}/karma"), json={"amount": amount, "reason": "trusted"},
                                     timeout=30)
        assert granted.status_code == 201, granted.text
    clock.offset += 8 * DAYS
    return [Member(stack, name) for name in names]


def tempo_patch(document: dict[str, Any], delta: float) -> list[dict[str, Any]]:
    return [{"op": "test", "path": "/tempoBpm", "value": document["tempoBpm"]},
            {"op": "replace", "path": "/tempoBpm", "value": round(document["tempoBpm"] + delta, 3)}]


def fetch(stack: LocalStack, url: str) -> dict[str, Any]:
    """The JSON document a presigned URL points at, read with GetObject: the tests move the stack's clock
    days ahead, past the URL's expiry as the local S3 endpoint judges it."""
    bucket, key = urlparse(url).path.lstrip("/").split("/", 1)
    return dict(json.loads(stack.client("s3").get_object(Bucket=bucket, Key=unquote(key))["Body"].read()))


def current(viewer: Member, map_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    state = viewer.get_map(map_id).json()
    assert "mapUrl" in state, state
    return state, fetch(viewer.stack, state["mapUrl"])


def test_an_edit_approved_by_two_verifiers_publishes_version_2_and_credits_karma(
        stack: LocalStack, clock: Any, public_map: dict[str, Any]) -> None:
    map_id = public_map["mapId"]
    ver1, ver2 = verifiers(stack, clock, 2)
    fixer, stale_fixer = member(stack, "fixer"), member(stack, "slowfixer")
    state, before = current(fixer, map_id)
    base = state["version"]
    proposed = fixer.propose(map_id, tempo_patch(before, 0.5), base)
    assert proposed.status_code == 201 and proposed.json()["state"] == "pending", proposed.text
    edit_id = proposed.json()["editId"]
    stale = stale_fixer.propose(map_id, tempo_patch(before, -0.5), base)
    assert stale.status_code == 201, stale.text
    queue = fixer.session.get(fixer.url("/edits"), params={"mapId": map_id}, timeout=30).json()["items"]
    assert [e["editId"] for e in queue][:2] == [edit_id, stale.json()["editId"]]  # oldest first

    refused = fixer.vote(stale.json()["editId"])
    assert refused.status_code == 403 and "only verifiers vote" in refused.json()["message"]
    assert ver1.vote(edit_id).json()["state"] == "pending"
    again = ver1.vote(edit_id)
    assert again.status_code == 409 and "already voted" in again.json()["message"]
    decided = ver2.vote(edit_id)
    assert decided.status_code == 201 and decided.json()["state"] == "applied", decided.text
    assert decided.json()["appliedVersion"] == base + 1

    state, after = current(stale_fixer, map_id)
    assert state["version"] == base + 1 and after["tempoBpm"] == pytest.approx(before["tempoBpm"] + 0.5)
    versions = fixer.session.get(fixer.url(f"/maps/{map_id}/versions"), timeout=30).json()["items"]
    assert [v["version"] for v in versions] == list(range(1, base + 2))
    first = fetch(stack, versions[base - 1]["url"])
    assert first == before  # a published version never changes
    assert fixer.karma(fixer.user)["karma"] == 10 and fixer.karma(ver1.user)["karma"] == 201
    # the author is told, in the app and by e-mail to their token's address
    told = fixer.session.get(fixer.url("/me/notifications"), timeout=30).json()["items"]
    assert [(n["kind"], n["entity"]) for n in told] == [("edit-decided", {"kind": "edit", "id": edit_id})]
    (mail,) = stack.sent_mail(to=f"{fixer.user}@example.com")
    assert mail["subject"] == "Your drum map edit was applied" and f"version {base + 1}" in mail["body"]
    me = fixer.session.get(fixer.url("/me"), timeout=30).json()
    assert me["community"]["karma"] == 10 and me["community"]["role"] == "fixer"
    assert me["community"]["limits"]["edits"]["used"] == 1 and me["community"]["limits"]["votes"] is None

    # the stale edit: its decisive vote finds the map moved on
    ver1.vote(stale.json()["editId"])
    conflict = ver2.vote(stale.json()["editId"])
    assert conflict.status_code == 409 and f"version {base + 1}" in conflict.json()["message"]
    edit = fixer.session.get(fixer.url(f"/edits/{stale.json()['editId']}"), timeout=30).json()
    assert edit["state"] == "conflict" and current(fixer, map_id)[1] == after
    told = stale_fixer.session.get(stale_fixer.url("/me/notifications"), timeout=30).json()["items"]
    assert told[0]["subject"] == "Your drum map edit was in conflict" and "propose it again" in told[0]["text"]
    self_vote = ver1.propose(map_id, tempo_patch(after, 1.0), base + 1)
    own = ver1.vote(self_vote.json()["editId"])
    assert own.status_code == 403 and "your own edit" in own.json()["message"]


def test_two_final_votes_at_once_apply_an_edit_once(stack: LocalStack, clock: Any,
                                                    public_map: dict[str, Any]) -> None:
    map_id = public_map["mapId"]
    voters = verifiers(stack, clock, 3)
    fixer = member(stack, "racer")
    state, before = current(fixer, map_id)
    edit_id = fixer.propose(map_id, tempo_patch(before, 0.25), state["version"]).json()["editId"]
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda v=v: answers.append(v.vote(edit_id))) for v in voters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert fixer.get_map(map_id).json()["version"] == state["version"] + 1
    assert fixer.karma(fixer.user)["karma"] == 10  # credited once
    edit = fixer.session.get(fixer.url(f"/edits/{edit_id}"), timeout=30).json()
    assert edit["state"] == "applied" and edit["appliedVersion"] == state["version"] + 1


def test_a_curator_marks_the_current_version_verified(stack: LocalStack, clock: Any,
                                                      public_map: dict[str, Any]) -> None:
    map_id = public_map["mapId"]
    (curator,) = verifiers(stack, clock, 1, amount=1000)
    fixer = member(stack, "onlooker")
    told = curator.session.get(curator.url("/me/notifications"), timeout=30).json()["items"]
    assert [n["subject"] for n in told] == ["You are now a curator"]  # the grant changed their role
    version = fixer.get_map(map_id).json()["version"]
    refused = fixer.session.post(fixer.url(f"/maps/{map_id}/verify"), json={"version": version}, timeout=30)
    assert refused.status_code == 403
    verified = curator.session.post(curator.url(f"/maps/{map_id}/verify"), json={"version": version}, timeout=30)
    assert verified.status_code == 200 and verified.json()["verifiedVersion"] == version, verified.text
    assert fixer.song(public_map["songId"])["canonicalMapId"] == map_id
    listed = fixer.session.get(fixer.url("/maps"), params={"songId": public_map["songId"], "state": "verified"},
                               timeout=30).json()["items"]
    assert [m["mapId"] for m in listed] == [map_id]
    assert json.dumps(listed[0]).count(public_map["owner"]) >= 1  # the author is shown


def test_an_export_holds_a_members_edits_and_erasing_them_keeps_the_history_anonymous(
        stack: LocalStack, public_map: dict[str, Any]) -> None:
    map_id = public_map["mapId"]
    leaver = member(stack, "leaver")
    state, doc = current(leaver, map_id)
    edit_id = leaver.propose(map_id, tempo_patch(doc, 2.0), state["version"]).json()["editId"]
    export = leaver.session.get(leaver.url("/me/export"), timeout=60).json()
    manifest = fetch(stack, export["manifestUrl"])
    assert [e["editId"] for e in manifest["community"]["edits"]] == [edit_id]
    removed = leaver.session.delete(leaver.url("/me"), timeout=60).json()["removed"]
    assert removed["communityItemsAnonymized"] == 1
    edit = member(stack, "reader").session.get(leaver.url(f"/edits/{edit_id}"), timeout=30).json()
    assert edit["author"].startswith("deleted-") and edit["comment"] == "" and edit["state"] == "expired"
    assert leaver.karma(leaver.user)["items"] == []


def storage_text(stack: LocalStack) -> str:
    """Every item of every table but QuotasTable (its counters hold no content and expire on their own), every
    object's key and the body of every map document: the test's view, never the product's."""
    dynamodb, s3, bucket = stack.client("dynamodb"), stack.client("s3"), stack.template.names["MediaBucket"]
    parts = []
    for logical_id in stack.template.tables:
        if logical_id != "QuotasTable":
            for page in dynamodb.get_paginator("scan").paginate(TableName=stack.template.names[logical_id],
                                                                ConsistentRead=True):
                parts.append(json.dumps(page["Items"], default=str))  # binary attributes as their repr
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            parts.append(obj["Key"])
            if obj["Key"].startswith("maps/") and obj["Key"].endswith(".json"):
                parts.append(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode())
    return "\n".join(parts)


def community_record(reader: Member, map_id: str, edit_id: str, names: dict[str, str]) -> dict[str, Any]:
    """The map's history, tallies and the decided edit's votes as a reader sees them, each name in `names`
    written as its value."""
    state = reader.get_map(map_id).json()
    versions = reader.session.get(reader.url(f"/maps/{map_id}/versions"), timeout=30).json()["items"]
    edit = reader.session.get(reader.url(f"/edits/{edit_id}"), timeout=30).json()
    text = json.dumps({"map": {k: state[k] for k in ("author", "version", "verifiedVersion", "votes", "state")},
                       "versions": [{k: v[k] for k in ("version", "author", "editId", "createdAt")} for v in versions],
                       "edit": {k: edit[k] for k in ("author", "state", "approvals", "appliedVersion", "votes")}})
    for name, written in names.items():
        text = text.replace(name, written)
    return dict(json.loads(text))


def test_erasing_a_maps_author_keeps_the_map_and_its_history_under_an_anonymous_author(
        stack: LocalStack, clock: Any, public_map: dict[str, Any]) -> None:
    """Runs last in this file: the map made by the module's fixture has community versions by now. Its author
    also gave the song its recording, decided someone's edit with their vote and, as an administrator, granted
    karma: after the erase their id is in no table and no object, and nothing else changed."""
    map_id, owner = public_map["mapId"], public_map["owner"]
    reader = member(stack, "historian")
    (ver,) = verifiers(stack, clock, 1)
    author = Member(stack, owner, ("admin",))
    fixer, grantee = member(stack, "fixer"), member(stack, "grantee")
    state, doc = current(fixer, map_id)
    edit_id = fixer.propose(map_id, tempo_patch(doc, 1.0), state["version"]).json()["editId"]
    assert ver.vote(edit_id).json()["state"] == "pending"
    decided = author.vote(edit_id)
    assert decided.status_code == 201 and decided.json()["state"] == "applied", decided.text
    granted = author.session.post(author.url(f"/users/{grantee.user}/karma"), json={"amount": 7, "reason": "thanks"},
                                  timeout=30)
    assert granted.status_code == 201, granted.text
    before = reader.get_map(map_id).json()
    assert before["version"] > 1 and before["author"] == owner
    others = {user: reader.karma(user) for user in (fixer.user, ver.user, grantee.user)}
    assert owner in storage_text(stack)
    history = community_record(reader, map_id, edit_id, {owner: "AUTHOR"})

    removed = author.session.delete(author.url("/me"), timeout=60).json()["removed"]

    assert removed["mapsKept"] == 1 and removed["maps"] == 0
    after = reader.get_map(map_id).json()
    anonymous = after["author"]
    assert anonymous.startswith("deleted-") and after["version"] == before["version"]
    assert fetch(stack, after["mapUrl"]) == current(reader, map_id)[1]
    assert owner not in storage_text(stack)
    assert community_record(reader, map_id, edit_id, {anonymous: "AUTHOR"}) == history
    assert {user: reader.karma(user) for user in others} == {
        user: {**karma, "items": [{**item, "entity": {**item["entity"], "id": item["entity"]["id"].replace(
            owner, anonymous)}} for item in karma["items"]]} for user, karma in others.items()}
