"""Maps community API: edits of public drum maps, votes that verify them, versions, verification, karma.

    POST /maps/{mapId}/edits          propose an RFC 6902 patch against a version     -> 201 {editId, state}
    GET  /maps/{mapId}/versions       every version of a map (URLs)
    GET  /maps/{mapId}/versions/{n}   one version
    POST /maps/{mapId}/verify         a curator marks the current version verified (canonical for its song)
    GET  /edits?state=&mapId=         edits in a state, oldest first (pending: the verifier queue)
    GET  /edits/{editId}              one edit with its diff summary and votes
    POST /edits/{editId}/votes        approve or reject (verifiers and above; not your own; once)
    POST /edits/{editId}/revert       propose the inverse of an applied edit against the current version
    GET  /users/{userId}/karma        a user's public ledger and total
    POST /users/{userId}/karma        an administrator's grant or reversal

The rules live in soundcanvas.maps.edits and soundcanvas.maps.karma; proposing and voting (the daily limits
spent, the authors told) are soundcanvas.maps.proposals', which GraphQL's proposeMapEdit and voteOnEdit call too.
This handler checks who is asking and maps the stores' errors to 400/403/404/409.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, model_validator

from soundcanvas.core import api, storage
from soundcanvas.core.notifications import Notifier
from soundcanvas.core.quotas import QuotaStore
from soundcanvas.core.settings import Settings
from soundcanvas.maps import drum_maps, edits, karma, proposals
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.edits import EditConflict, EditForbidden, EditNotFound, EditStore
from soundcanvas.maps.karma import KarmaStore, Standing
from soundcanvas.maps.proposals import EditRequest, VoteRequest
from soundcanvas.maps.song_audio import SongAudioStore

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("MAPS_TABLE_NAME", "SONGS_TABLE_NAME", "QUOTAS_TABLE_NAME", "COMMUNITY_TABLE_NAME",
                                   "NOTIFICATIONS_TABLE_NAME", "USERS_TABLE_NAME"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
clock = time.time  # the local stack sets its own clock here
maps = MapStore(settings.maps_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())
songs = SongAudioStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint,
                       clock=lambda: clock())
karma_store = KarmaStore(settings.community_table_name, settings.region, host=settings.dynamodb_endpoint,
                         clock=lambda: clock())
store = EditStore(settings.community_table_name, settings.region, maps=maps, karma_store=karma_store, s3=s3,
                  bucket=settings.bucket_name, host=settings.dynamodb_endpoint, clock=lambda: clock())
notifier = Notifier.from_settings(settings, clock=lambda: clock(), metrics=metrics, aws=aws)
quotas = QuotaStore(settings.quotas_table_name, settings.region, host=settings.dynamodb_endpoint, clock=lambda: clock())

app = api.resolver()
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class RevertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=1000)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The map's current version (what you reviewed).")


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=-100_000, le=100_000, description="Karma to add (negative: a reversal).")
    reason: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _not_zero(self) -> GrantRequest:
        if self.amount == 0:
            raise ValueError("amount must not be 0")
        return self


def _caller() -> Standing:
    """The caller's standing (karma, account age, the token's groups); their first visit starts the age. Their
    token's address is kept for the e-mails a decision sends them later."""
    user_id = api.caller(app)
    notifier.remember_email(user_id, api.caller_email(app))
    return karma_store.standing(user_id, api.caller_groups(app))


def _public_map(map_id: str) -> dict[str, Any]:
    record = maps.visible(api.caller(app), map_id)
    if record is None:
        raise EditNotFound(f"map {map_id} not found")
    return record


def _version_view(record: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in version.items() if k != "key"},
            "current": version["version"] == int(record.get("version") or 1),
            "url": storage.presign_get(s3, settings.bucket_name, version["key"], settings.url_ttl_seconds)}


def _edit_view(edit: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    view = {k: v for k, v in edit.items() if k not in ("mapUserId", "patch")}
    view["operations"] = len(edit["patch"])
    if full:
        view["patch"] = edit["patch"]
        view["votes"] = store.votes(edit["editId"])
    return view


def _propose(standing: Standing, record: dict[str, Any], *, base_version: int, operations: list[dict[str, Any]],
             comment: str, revert_of: str | None = None) -> Response[dict[str, Any]]:
    edit = proposals.propose(store=store, quotas=quotas, standing=standing, record=record, now=clock(),
                             base_version=base_version, operations=operations, comment=comment, revert_of=revert_of)
    logger.append_keys(edit_id=edit["editId"], map_id=record["mapId"])
    metrics.add_metric(name="MapEditsProposed", unit=MetricUnit.Count, value=1)
    logger.info("edit proposed", extra={"operations": len(operations), "base_version": base_version})
    return Response(201, "application/json", {"editId": edit["editId"], "state": edit["state"], "diff": edit["diff"]},
                    headers={"Location": f"/edits/{edit['editId']}"})


# --- maps: edits, versions, verification ---------------------------------------------------------
@app.post("/maps/<mapId>/edits")
def propose_edit(mapId: Id, body: EditRequest) -> Response[dict[str, Any]]:
    standing = _caller()
    return _propose(standing, _public_map(mapId), base_version=body.baseVersion,
                    operations=[op.as_rfc6902() for op in body.patch], comment=body.comment)


@app.get("/maps/<mapId>/versions")
def list_versions(mapId: Id) -> dict[str, Any]:
    record = _public_map(mapId)
    return {"mapId": mapId, "version": int(record.get("version") or 1), "state": record.get("state"),
            "items": [_version_view(record, v) for v in store.versions(record)]}


@app.get("/maps/<mapId>/versions/<version>")
def get_version(mapId: Id, version: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    record = _public_map(mapId)
    found = next((v for v in store.versions(record) if v["version"] == version), None)
    if found is None or record.get("status") != drum_maps.COMPLETE:
        raise EditNotFound(f"map {mapId} has no version {version}")
    store.load_version(record, version)  # rebuilt and written, if an apply stopped before writing it
    return _version_view(record, found)


@app.post("/maps/<mapId>/verify")
def verify_map(mapId: Id, body: VerifyRequest) -> dict[str, Any]:
    standing = _caller()
    record = _public_map(mapId)
    role = standing.role(clock())
    if not karma.may_verify(role):
        raise EditForbidden(f"only curators (karma >= {karma.CURATOR_KARMA}) and admins verify maps; you are a "
                            f"{role} with karma {standing.karma}")
    if not drum_maps.is_public(record):
        raise EditConflict(f"map {mapId} is not a public map; only finished maps of public catalog songs are verified")
    current = int(record.get("version") or 1)
    if body.version != current:
        raise EditConflict(f"map {mapId} is at version {current}, not {body.version}; review version {current}")
    if not maps.set_state(record["userId"], mapId, drum_maps.VERIFIED, verified_version=current):
        raise EditConflict(f"map {mapId} changed while it was verified (an edit was applied); review it again")
    previous = songs.set_canonical_map(record["songId"], mapId)
    # the map it replaced, and any other verified map of the song (one a verify that stopped here left behind)
    listed, _ = maps.public(song_id=record["songId"], state=drum_maps.VERIFIED, limit=100, cursor=None)
    others = [m for m in [maps.find(previous) if previous else None, *listed] if m is not None and m["mapId"] != mapId]
    archived = [m["mapId"] for m in {m["mapId"]: m for m in others}.values()
                if _archive_replaced(m, song_id=record["songId"], canonical_map_id=mapId)]
    logger.info("map verified", extra={"map_id": mapId, "version": current, "archived": archived})
    return {"mapId": mapId, "state": drum_maps.VERIFIED, "verifiedVersion": current, "songId": record["songId"],
            "archivedMapId": archived[0] if archived else None}


def _archive_replaced(old: dict[str, Any], *, song_id: str, canonical_map_id: str) -> bool:
    """Archive a verified map of the song only while the song still names `canonical_map_id` (one transaction
    with a check on the song): of two curators verifying two maps of a song at once, neither archives the map
    the song ends up naming."""
    song, m = songs.model, maps.model
    items: list[tuple[str, Any, dict[str, Any]]] = [
        ("check", song, {"hash_key": song_id, "condition": song.canonicalMapId == canonical_map_id}),
        ("update", m(old["userId"], old["mapId"]), {
            "actions": maps.state_actions(drum_maps.ARCHIVED),
            "condition": m.publicSongId.exists() & (m.status == drum_maps.COMPLETE) & (m.state == drum_maps.VERIFIED)}),
    ]
    for _ in range(karma.TRANSACTION_ATTEMPTS):
        try:
            karma.run_transaction(karma_store.connection(), items)
        except karma.TransactionCancelled as cancelled:
            if "ConditionalCheckFailed" in cancelled.codes:  # the song names another map, or this one moved on
                return False
            if "TransactionConflict" not in cancelled.codes:
                raise
            continue  # another write to one of the items at that moment (a vote's tally): again
        return True
    logger.warning("a replaced map could not be archived; the next verify of the song will",
                   extra={"map_id": old["mapId"]})
    return False


# --- edits ---------------------------------------------------------------------------------------
@app.get("/edits")
def list_edits(
    state: Annotated[Literal[edits.EDIT_STATES], Query()] = edits.PENDING,  # type: ignore[valid-type]
    mapId: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """Edits in a state, oldest first: with state=pending (the default), the verifier queue."""
    items, next_cursor = store.queue(state=state, map_id=mapId, limit=limit, cursor=cursor)
    return {"items": [_edit_view(item) for item in items], "nextCursor": next_cursor}


@app.get("/edits/<editId>")
def get_edit(editId: Id) -> dict[str, Any]:
    edit = store.get(editId)
    if edit is None:
        raise EditNotFound(f"edit {editId} not found")
    return _edit_view(edit, full=True)


@app.post("/edits/<editId>/votes")
def vote(editId: Id, body: VoteRequest) -> Response[dict[str, Any]]:
    standing = _caller()
    logger.append_keys(edit_id=editId)
    decision = proposals.vote(store=store, quotas=quotas, notifier=notifier, standing=standing, edit_id=editId,
                              decision=body.decision, reason=body.reason)
    metrics.add_metric(name="MapEditVotes", unit=MetricUnit.Count, value=1)
    if decision.outcome:
        metrics.add_metric(name=f"MapEdits{decision.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
        logger.info("edit decided", extra={"outcome": decision.outcome})
    edit = decision.edit
    return Response(201, "application/json", {
        "editId": editId, "decision": body.decision, "state": edit["state"], "approvals": edit["approvals"],
        "rejections": edit["rejections"], "appliedVersion": edit["appliedVersion"]})


@app.post("/edits/<editId>/revert")
def revert_edit(editId: Id, body: RevertRequest) -> Response[dict[str, Any]]:
    """Propose the inverse of an applied edit, against the map's current version."""
    standing = _caller()
    edit = store.get(editId)
    if edit is None:
        raise EditNotFound(f"edit {editId} not found")
    if edit["state"] != edits.APPLIED or edit["appliedVersion"] is None:
        raise EditConflict(f"edit {editId} is {edit['state']}; only applied edits are reverted")
    record = _public_map(edit["mapId"])
    applied = int(edit["appliedVersion"])
    current = int(record.get("version") or 1)
    if current != applied:  # the inverse is made of positions in that version: elsewhere it would edit other hits
        raise EditConflict(f"map {edit['mapId']} moved to version {current} after edit {editId} (version {applied}); "
                           f"propose the change you want against version {current} instead")
    inverse = edits.revert_patch(store.load_version(record, applied - 1), store.load_version(record, applied))
    return _propose(standing, record, base_version=int(record.get("version") or 1), operations=inverse,
                    comment=body.comment or f"revert edit {editId}", revert_of=editId)


# --- karma ---------------------------------------------------------------------------------------
@app.get("/users/<userId>/karma")
def user_karma(
    userId: UserId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """A user's public ledger, newest first, and their total and role."""
    api.caller(app)
    standing = karma_store.standing(userId, touch=False)
    items, next_cursor = karma_store.ledger(userId, limit=limit, cursor=cursor)
    return {"userId": userId, "karma": standing.karma, "role": standing.role(clock()), "items": items,
            "nextCursor": next_cursor}


@app.post("/users/<userId>/karma")
def grant_karma(userId: UserId, body: GrantRequest) -> Response[dict[str, Any]]:
    """An administrator's ledger entry: a grant, or a reversal (a negative amount)."""
    standing = _caller()
    if standing.role(clock()) != karma.ADMIN:
        raise EditForbidden("only administrators grant or reverse karma")
    before = karma_store.standing(userId, touch=False).role(clock())
    entry = karma_store.grant(userId, body.amount, reason=body.reason, by=standing.user_id)
    after = karma_store.standing(userId, touch=False).role(clock())
    if after != before:
        proposals.tell_roles(notifier, [(userId, before, after)])
    logger.info("karma granted", extra={"user": userId, "amount": body.amount})
    return Response(201, "application/json", {**entry, "karma": karma_store.standing(userId, touch=False).karma})


# --- errors: mapped to HTTP in one place (soundcanvas.core.api) ---------------------------------------
api.install_error_handlers(app, not_found=(EditNotFound,), conflict=(EditConflict,))


@app.exception_handler(EditForbidden)
def _forbidden(exc: EditForbidden) -> Response:
    return api.error(403, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
