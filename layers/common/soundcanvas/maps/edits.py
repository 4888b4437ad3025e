"""Community edits of drum maps: proposed as RFC 6902 patches, verified by votes, applied as new versions.

A public map (a COMPLETE map of a public catalog song) has versions 1, 2, ...; version 1 is what the
workflow made, each later one an applied edit. Every version is kept and never changes:

    maps/{state}/{songId}/{mapId}/v{n}.json   (state: the map's community state when n was published)

An edit names the version it was made against (`baseVersion`); its patch must apply to that version
(the `jsonpatch` package; the failing operation is named) and the result must be a valid map
(soundcanvas.maps.document.validate_map; the failing field is named). The rules:

- only verifiers, curators and admins vote (soundcanvas.maps.karma); nobody votes on their own edit;
  one vote per user per edit (a conditional put, inside the transaction that counts it);
- two approvals apply an edit, one when its author was trusted (a verifier or above) when proposing;
  two rejections reject it;
- applying is one transaction: the edit pending -> applied, the map at `baseVersion` -> baseVersion + 1,
  the version item, and the karma of the author and the voters. If the map has moved on, the edit becomes
  `conflict` (its author proposes again against the new version) and the vote that found it gets a 409:
  never a lost update. Of two edits applied at once against the same version, exactly one wins;
- edits undecided for 7 days expire (the sweeper calls `expire_stale`);
- a revert is a new edit whose patch is the inverse of an applied one (`revert_patch`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import jsonpointer
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PutError, PynamoDBException

from soundcanvas.core import cursors
from soundcanvas.core.inputs import FieldError
from soundcanvas.core.records import conditional_failed, now_iso, update_if
from soundcanvas.maps import community, document, drum_maps, karma
from soundcanvas.maps.community import edit_pk, erasure_pk, map_pk, version_sk
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.karma import Credit, KarmaStore, Standing, TransactionCancelled, run_transaction
from soundcanvas.maps.lanes import DIFFICULTIES

_log = logging.getLogger(__name__)
PENDING, APPLIED, REJECTED, CONFLICT, EXPIRED = "pending", "applied", "rejected", "conflict", "expired"
EDIT_STATES = (PENDING, APPLIED, REJECTED, CONFLICT, EXPIRED)
APPROVE, REJECT = "approve", "reject"
MAX_OPERATIONS = 500
APPROVALS_NEEDED, TRUSTED_APPROVALS_NEEDED, REJECTIONS_NEEDED = 2, 1, 2
PENDING_SECONDS = 7 * 86400
FIXED_FIELDS = ("/schemaVersion", "/songId", "/source")  # what identifies the map: no edit changes them
# what a patch's copy operations may copy in all, beyond twice the map itself: each copy of a copy doubles a
# document, so twenty operations would otherwise grow a map past any memory or time limit
COPY_ALLOWANCE_BYTES = 64 * 1024


class EditNotFound(LookupError):
    """No such edit (or map) for this caller."""


class EditForbidden(PermissionError):
    """The caller's role or relation to the edit does not allow this (403); the message says why."""


class EditConflict(Exception):
    """The edit or map is not in a state that allows this (409); the message says what to do. `decided` is
    the edit when this very request turned it into a `conflict` (its author is told)."""

    def __init__(self, message: str, decided: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.decided = decided


class PatchRejected(FieldError):
    """The patch does not apply or makes an invalid map (400); `field` names the operation or field."""


# --- patches: pure functions over documents ----------------------------------------------------------
def apply_patch(doc: dict[str, Any], operations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`doc` with the RFC 6902 `operations` applied (a new document), or PatchRejected naming the failing
    operation (`patch[i]`) or, when the result is not a valid map, its field."""
    if len(operations) > MAX_OPERATIONS:
        raise PatchRejected("patch", f"has {len(operations)} operations; at most {MAX_OPERATIONS}")
    result = copy.deepcopy(doc)
    copy_budget, copied = 2 * len(json.dumps(doc)) + COPY_ALLOWANCE_BYTES, 0
    for index, operation in enumerate(operations):
        for pointer in (operation.get("path"), operation.get("from")):
            if isinstance(pointer, str) and any(pointer == f or pointer.startswith(f"{f}/") for f in FIXED_FIELDS):
                raise PatchRejected(f"patch[{index}]", f"{pointer} identifies the map and cannot be changed")
        if operation.get("op") == "copy" and isinstance(operation.get("from"), str):
            with contextlib.suppress(jsonpointer.JsonPointerException):  # it fails below, with its own message
                copied += len(json.dumps(jsonpointer.resolve_pointer(result, operation["from"])))
            if copied > copy_budget:
                raise PatchRejected(f"patch[{index}]", f"the patch copies {copied:,} bytes of the map; at most "
                                                       f"{copy_budget:,} (twice the map, and 64 KB)")
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError,
                TypeError, ValueError) as exc:
            raise PatchRejected(f"patch[{index}]", f"{operation.get('op')} {operation.get('path')}: "
                                                   f"{exc or 'does not apply'}") from exc
    if not isinstance(result, dict):  # a replace or add of the whole document ("") with something else
        raise PatchRejected("patch", f"the patched map must be a JSON object, not {type(result).__name__}")
    for name in (f.lstrip("/") for f in FIXED_FIELDS):  # also what a replace of the whole document ("") changes
        if result.get(name) != doc.get(name):
            raise PatchRejected("patch", f"/{name} identifies the map and cannot be changed")
    try:
        document.validate_map(result)
    except document.MapInvalid as exc:
        raise PatchRejected("patch", f"the patched map is invalid: {exc}") from exc
    return result


def diff_summary(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changes between two versions: hits added and removed per level, and the other fields changed."""
    levels: dict[str, dict[str, int]] = {}
    for name in DIFFICULTIES:
        was = Counter(json.dumps(hit, sort_keys=True) for hit in before["levels"][name])
        now = Counter(json.dumps(hit, sort_keys=True) for hit in after["levels"][name])
        added, removed = sum((now - was).values()), sum((was - now).values())
        if added or removed:
            levels[name] = {"added": added, "removed": removed}
    fields = sorted(k for k in set(before) | set(after) if k != "levels" and before.get(k) != after.get(k))
    return {"levels": levels, "fields": fields}


def revert_patch(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The patch that takes `after` back to `before` (a revert is a new edit with it). An edit that changed
    more than MAX_OPERATIONS places (a level wiped, say) is reverted by replacing each top-level field it changed."""
    operations = list(jsonpatch.make_patch(after, before).patch)
    if len(operations) <= MAX_OPERATIONS:
        return operations
    operations = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            operations.append({"op": "remove", "path": f"/{name}"})
        elif name not in after:
            operations.append({"op": "add", "path": f"/{name}", "value": before[name]})
        elif before[name] != after[name]:
            operations.append({"op": "replace", "path": f"/{name}", "value": before[name]})
    return operations


# --- the store ---------------------------------------------------------------------------------------
@dataclass
class Decision:
    """What a vote led to: the edit as it now is, and whose role changed on the way."""

    edit: dict[str, Any]
    outcome: str | None = None  # applied | rejected | conflict, when this vote decided it
    role_changes: list[tuple[str, str, str]] = field(default_factory=list)  # (userId, before, after)


class EditStore:
    """Edits, votes and versions. Takes its tables, the bucket and the clock as arguments."""

    def __init__(self, table_name: str, region: str, *, maps: MapStore, karma_store: KarmaStore, s3: Any,
                 bucket: str, host: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.m = community.models(table_name, region, host)
        self.maps, self.karma, self.s3, self.bucket = maps, karma_store, s3, bucket
        self.clock = clock

    # ---------------------------------------------------------------- versions
    def version_key(self, record: dict[str, Any], version: int) -> str | None:
        if version == 1:
            return drum_maps.document_key(record["songId"], record["mapId"], 1)
        item = self._version_item(record["mapId"], version)
        return item.key if item is not None else None

    def _version_item(self, map_id: str, version: int) -> Any:
        model = self.m["version"]
        try:
            return model.get(map_pk(map_id), version_sk(version), consistent_read=True)
        except model.DoesNotExist:
            return None

    def versions(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Every version of a map, oldest first: {version, author, editId, createdAt, key}."""
        first = {"version": 1, "author": record["userId"], "editId": None, "createdAt": record["createdAt"],
                 "key": self.version_key(record, 1)}
        later = [{"version": int(v.version), "author": v.author, "editId": v.editId, "createdAt": v.createdAt,
                  "key": v.key} for v in self.m["version"].query(map_pk(record["mapId"]))]
        return [first, *later]

    def load_version(self, record: dict[str, Any], version: int) -> dict[str, Any]:
        """A version's document (rebuilt from its edit and written, if the apply stopped before writing it)."""
        key = self.version_key(record, version)
        if key is None:
            raise EditNotFound(f"map {record['mapId']} has no version {version}")
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return dict(json.loads(body))
        except self.s3.exceptions.NoSuchKey:
            if version == 1:
                raise
        item = self._version_item(record["mapId"], version)
        edit = self.get(item.editId)
        if edit is None:
            raise EditNotFound(f"the edit that made version {version} of map {record['mapId']} is gone")
        doc = apply_patch(self.load_version(record, version - 1), edit["patch"])
        self._write(key, doc)
        return doc

    def _write(self, key: str, doc: dict[str, Any]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(doc, separators=(",", ":")).encode(),
                           ContentType="application/json")

    # ---------------------------------------------------------------- edits
    def check_may_propose(self, author: Standing) -> None:
        """EditForbidden while the author's proposing is suspended (five rejected edits within 24 hours)."""
        now = self.clock()
        if author.suspended(now):
            raise EditForbidden(f"proposing edits is suspended until {now_iso(float(author.suspended_until or 0))} "
                                f"after {karma.SUSPEND_AFTER_REJECTIONS} rejected edits within 24 hours")

    def submit(self, author: Standing, record: dict[str, Any], *, base_version: int,
               operations: Sequence[dict[str, Any]], comment: str, revert_of: str | None = None) -> dict[str, Any]:
        """A pending edit of a public map (checked: it applies to `base_version` and makes a valid map)."""
        self.check_may_propose(author)
        now = self.clock()
        if not drum_maps.is_public(record):
            raise EditConflict(f"map {record['mapId']} is not open to edits: only finished maps of public catalog "
                               "songs are")
        current = int(record.get("version") or 1)
        if not 1 <= base_version <= current:
            raise PatchRejected("baseVersion", f"map {record['mapId']} has versions 1 to {current}")
        if base_version != current:  # it could only ever end as a conflict
            raise EditConflict(f"map {record['mapId']} is at version {current}; propose your edit against version "
                               f"{current} (baseVersion {base_version} can be read, not edited)")
        before = self.load_version(record, base_version)
        after = apply_patch(before, operations)
        if after == before:
            raise PatchRejected("patch", "changes nothing")
        edit_id = uuid.uuid4().hex
        model = self.m["edit"]
        item = model(edit_pk(edit_id), "edit", editId=edit_id, mapId=record["mapId"], mapUserId=record["userId"],
                     songId=record["songId"], author=author.user_id,
                     authorTrusted=karma.may_vote(author.role(now)), baseVersion=base_version,
                     patch=json.dumps(list(operations), separators=(",", ":")), comment=comment,
                     diff=diff_summary(before, after), revertOf=revert_of, editState=PENDING, approvals=0,
                     rejections=0, createdAt=now_iso(now))
        try:
            item.save(condition=model.pk.does_not_exist())
        except PutError as exc:  # a uuid4 collision: only possible if ids are reused
            if conditional_failed(exc):
                raise EditConflict(f"edit {edit_id} already exists") from exc
            raise
        return self._view(item)

    def get(self, edit_id: str) -> dict[str, Any] | None:
        model = self.m["edit"]
        try:
            return self._view(model.get(edit_pk(edit_id), "edit", consistent_read=True))
        except model.DoesNotExist:
            return None

    def votes(self, edit_id: str) -> list[dict[str, Any]]:
        vote = self.m["vote"]
        return [{"voter": v.author, "decision": v.decision, "reason": v.reason, "createdAt": v.createdAt}
                for v in vote.query(edit_pk(edit_id), range_key_condition=vote.sk.startswith("vote#"),
                                    consistent_read=True)]

    def queue(self, *, state: str, map_id: str | None, limit: int,
              cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of edits in `state`, oldest first (the verifier queue when state is pending)."""
        model = self.m["edit"]
        types = {"pk": "S", "sk": "S", "editState": "S", "createdAt": "S"}
        start = cursors.decode(state, cursor, types, partition="editState") if cursor else None
        results = model.by_state.query(state, scan_index_forward=True, limit=limit, last_evaluated_key=start,
                                       filter_condition=(model.mapId == map_id) if map_id else None)
        items = [self._view(r) for r in results]
        last = results.last_evaluated_key
        return items, (cursors.encode(last) if last else None)

    @staticmethod
    def _view(item: Any) -> dict[str, Any]:
        return {"editId": item.editId, "mapId": item.mapId, "songId": item.songId, "author": item.author,
                "baseVersion": int(item.baseVersion), "state": item.editState, "approvals": int(item.approvals),
                "rejections": int(item.rejections), "comment": item.comment, "diff": item.diff.as_dict(),
                "patch": json.loads(item.patch), "revertOf": item.revertOf,
                "appliedVersion": int(item.appliedVersion) if item.appliedVersion is not None else None,
                "createdAt": item.createdAt, "decidedAt": item.decidedAt, "message": item.message,
                "mapUserId": item.mapUserId, "authorTrusted": bool(item.authorTrusted)}

    # ---------------------------------------------------------------- votes and decisions
    def vote(self, voter: Standing, edit_id: str, *, decision: str, reason: str | None) -> Decision:
        """Record one vote (only verifiers and above, never on one's own edit, once per edit); apply or
        reject the edit when this vote decides it."""
        now = self.clock()
        edit = self.get(edit_id)
        if edit is None:
            raise EditNotFound(f"edit {edit_id} not found")
        role = voter.role(now)
        if not karma.may_vote(role):
            raise EditForbidden(f"only verifiers vote (karma >= {karma.VERIFIER_KARMA} and an account at least "
                                f"{karma.VERIFIER_AGE_SECONDS // 86400} days old); you are a {role} with "
                                f"karma {voter.karma}")
        if voter.user_id == edit["author"]:
            raise EditForbidden("you cannot vote on your own edit")
        if edit["state"] != PENDING:
            raise EditConflict(f"edit {edit_id} is {edit['state']}; only pending edits take votes")
        vote, model = self.m["vote"], self.m["edit"]
        counter = model.approvals if decision == APPROVE else model.rejections
        items: list[tuple[str, Any, dict[str, Any]]] = [
            ("save", vote(edit_pk(edit_id), f"vote#{voter.user_id}", editId=edit_id, author=voter.user_id,
                          decision=decision, reason=reason, createdAt=now_iso(now)),
             {"condition": vote.sk.does_not_exist()}),
            ("update", model(edit_pk(edit_id), "edit"),
             {"actions": [counter.add(1)], "condition": model.editState == PENDING}),
        ]
        try:
            run_transaction(self.karma.connection(), items)
        except TransactionCancelled as exc:
            codes = exc.codes
            if codes[:1] == ["ConditionalCheckFailed"]:
                # a retry of a deciding vote whose decision did not get through: decide now, or nothing would
                decided = self._decide_if_due(self.get(edit_id) or edit, decider=voter.user_id)
                if decided is not None:
                    return decided
                raise EditConflict(f"you already voted on edit {edit_id}") from exc
            if codes[1:2] == ["ConditionalCheckFailed"]:
                state = (self.get(edit_id) or {}).get("state", "gone")
                raise EditConflict(f"edit {edit_id} is {state}; only pending edits take votes") from exc
            if "TransactionConflict" in codes:
                raise EditConflict(f"another vote on edit {edit_id} was being counted at the same moment; "
                                   "send yours again") from exc
            raise
        self._count_vote(edit, decision)
        edit = self.get(edit_id) or edit
        return self._decide_if_due(edit, decider=voter.user_id) or Decision(edit)

    def _decide_if_due(self, edit: dict[str, Any], *, decider: str) -> Decision | None:
        """Apply or reject a pending edit whose votes decide it; None when they do not (yet)."""
        if edit["state"] != PENDING:
            return None
        needed = TRUSTED_APPROVALS_NEEDED if edit["authorTrusted"] else APPROVALS_NEEDED
        if edit["approvals"] >= needed:
            return self._apply(edit, decider=decider)
        if edit["rejections"] >= REJECTIONS_NEEDED:
            return self._reject(edit, decider=decider)
        return None

    def _count_vote(self, edit: dict[str, Any], decision: str) -> None:
        """Add the vote to the map's tally (after the vote is in: the tally is a display, the votes are the truth)."""
        maps = self.maps.model
        tally = maps.approveVotes if decision == APPROVE else maps.rejectVotes
        update_if(maps(edit["mapUserId"], edit["mapId"]), [tally.add(1)], maps.mapId.exists())

    def _credits(self, edit: dict[str, Any], outcome: str, decider: str) -> list[Credit]:
        entity = {"kind": "edit", "id": edit["editId"]}
        author = Credit(edit["author"], karma.APPLIED if outcome == APPLIED else karma.REJECTED,
                        "edit-applied" if outcome == APPLIED else "edit-rejected", entity, from_user=decider)
        matched = APPROVE if outcome == APPLIED else REJECT
        voters = [Credit(v["voter"], karma.VOTE_MATCHED, "vote-matched", entity, from_user=decider)
                  for v in self.votes(edit["editId"]) if v["decision"] == matched]
        return [author, *voters]

    def _roles(self, credits: Sequence[Credit], now: float) -> dict[str, str]:
        return {c.user_id: self.karma.standing(c.user_id, touch=False).role(now) for c in credits}

    def _apply(self, edit: dict[str, Any], *, decider: str) -> Decision:
        model = self.m["edit"]
        maps, versions = self.maps.model, self.m["version"]
        for _ in range(karma.TRANSACTION_ATTEMPTS):
            now = self.clock()
            record = self.maps.get(edit["mapUserId"], edit["mapId"])
            if record is None or not drum_maps.is_public(record):
                return self._conflict(edit, "the map was deleted; nothing to apply to")
            current = int(record.get("version") or 1)
            if current != edit["baseVersion"]:
                return self._conflict(edit, f"the map moved to version {current} since this edit was proposed "
                                            f"against version {edit['baseVersion']}; propose it again against "
                                            f"version {current}")
            new_version = current + 1
            key = drum_maps.document_key(record["songId"], record["mapId"], new_version, record["state"])
            credits = self._credits(edit, APPLIED, decider)
            roles_before = self._roles(credits, now)
            items: list[tuple[str, Any, dict[str, Any]]] = [
                ("update", model(edit_pk(edit["editId"]), "edit"), {
                    "actions": [model.editState.set(APPLIED), model.appliedVersion.set(new_version),
                                model.decidedAt.set(now_iso(now)), model.decidedBy.set(decider)],
                    "condition": model.editState == PENDING}),
                ("update", maps(record["userId"], record["mapId"]), {
                    "actions": [maps.version.set(new_version), maps.outputs["mapKey"].set(key),
                                maps.updatedAt.set(now_iso(now))],
                    "condition": (maps.version == current) & (maps.status == drum_maps.COMPLETE)}),
                ("save", versions(map_pk(record["mapId"]), version_sk(new_version), mapId=record["mapId"],
                                  version=new_version, key=key, author=edit["author"], editId=edit["editId"],
                                  createdAt=now_iso(now)), {"condition": versions.sk.does_not_exist()}),
                *self.karma.credit_actions(credits, at=now),
            ]
            try:
                run_transaction(self.karma.connection(), items)
            except TransactionCancelled as cancelled:
                codes = cancelled.codes
                if codes[:1] == ["ConditionalCheckFailed"]:  # decided by a concurrent vote
                    return Decision(self.get(edit["editId"]) or edit)
                if "ConditionalCheckFailed" in codes[1:3]:  # another edit moved the map: re-read, then conflict
                    continue
                if "ConditionalCheckFailed" in codes[3:] or "TransactionConflict" in codes:
                    continue  # a daily cap counter moved under us: recompute the credits
                raise
            self._write(key, apply_patch(self.load_version(record, current), edit["patch"]))
            return Decision(self.get(edit["editId"]) or edit, APPLIED, self._changed(roles_before, now))
        raise EditConflict(f"edit {edit['editId']} could not be applied while the map kept changing; send your vote "
                           "again later (it decides the edit then)")

    def _reject(self, edit: dict[str, Any], *, decider: str) -> Decision:
        model = self.m["edit"]
        for _ in range(karma.TRANSACTION_ATTEMPTS):
            now = self.clock()
            credits = self._credits(edit, REJECTED, decider)
            roles_before = self._roles(credits, now)
            items: list[tuple[str, Any, dict[str, Any]]] = [
                ("update", model(edit_pk(edit["editId"]), "edit"), {
                    "actions": [model.editState.set(REJECTED), model.decidedAt.set(now_iso(now)),
                                model.decidedBy.set(decider)],
                    "condition": model.editState == PENDING}),
                *self.karma.credit_actions(credits, at=now),
            ]
            try:
                run_transaction(self.karma.connection(), items)
            except TransactionCancelled as cancelled:
                codes = cancelled.codes
                if codes[:1] == ["ConditionalCheckFailed"]:
                    return Decision(self.get(edit["editId"]) or edit)
                if "ConditionalCheckFailed" in codes[1:] or "TransactionConflict" in codes:
                    continue
                raise
            author = edit["author"]
            if self.karma.rejections_since(author, now - karma.REJECTION_WINDOW_SECONDS) >= karma.SUSPEND_AFTER_REJECTIONS:
                self.karma.suspend(author, now + karma.SUSPENSION_SECONDS)
            return Decision(self.get(edit["editId"]) or edit, REJECTED, self._changed(roles_before, now))
        raise EditConflict(f"edit {edit['editId']} could not be rejected under concurrent changes; vote again later")

    def _changed(self, before: dict[str, str], now: float) -> list[tuple[str, str, str]]:
        changes = []
        for user_id, role in before.items():
            after = self.karma.standing(user_id, touch=False).role(now)
            if after != role:
                changes.append((user_id, role, after))
        return changes

    def _conflict(self, edit: dict[str, Any], message: str) -> Decision:
        """Mark the edit `conflict` (it stays in history; its author proposes again) and say so with a 409."""
        model = self.m["edit"]
        if not update_if(
            model(edit_pk(edit["editId"]), "edit"),
            [model.editState.set(CONFLICT), model.message.set(message), model.decidedAt.set(now_iso(self.clock()))],
            model.editState == PENDING,
        ):
            return Decision(self.get(edit["editId"]) or edit)
        raise EditConflict(f"edit {edit['editId']} is now conflict: {message}", decided=self.get(edit["editId"]))

    # ---------------------------------------------------------------- the sweeper
    def expire_stale(self, *, older_than: float) -> list[dict[str, Any]]:
        """Pending edits proposed before `older_than` become `expired`; returns them. One whose votes already
        decide it (its deciding vote's decision never got through) is decided instead, by its last vote."""
        model = self.m["edit"]
        expired = []
        for item in model.by_state.query(PENDING, range_key_condition=model.createdAt < now_iso(older_than)):
            edit = self._view(item)
            votes = sorted(self.votes(edit["editId"]), key=lambda v: v["createdAt"])
            try:
                if votes and self._decide_if_due(edit, decider=votes[-1]["voter"]) is not None:
                    continue
            except EditConflict:  # decided as a conflict (the map moved on), or to be decided next sweep
                continue
            # one edit's failure (throttled, S3, a version that will not load) never stops the sweep: tried next time
            except (TransactionCancelled, ClientError, BotoCoreError, PynamoDBException, EditNotFound, PatchRejected):
                _log.exception("a decided edit could not be applied; left pending", extra={"edit_id": edit["editId"]})
                continue
            if not update_if(
                item,
                [model.editState.set(EXPIRED), model.decidedAt.set(now_iso(self.clock())),
                 model.message.set("undecided for 7 days")],
                model.editState == PENDING,
            ):
                continue
            expired.append(self._view(item))
        return expired

    # ---------------------------------------------------------------- privacy
    def by_author(self, user_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The user's edits and votes (for an export)."""
        edit, vote = self.m["edit"], self.m["vote"]
        edits = [self._view(e) for e in edit.by_author.query(user_id, filter_condition=edit.sk == "edit")]
        votes = [{"editId": v.editId, "decision": v.decision, "reason": v.reason, "createdAt": v.createdAt}
                 for v in vote.by_author.query(user_id, filter_condition=vote.sk.startswith("vote#"))]
        return edits, votes

    def erasure_id(self, user_id: str) -> str:
        """The anonymous id an erased account's items get: `deleted-` and random hex, not derived from the id.
        Kept (Erasure) until `end_erasure`, so an erase retried after a crash names every item the same."""
        erasure = self.m["erasure"]
        try:
            erasure(erasure_pk(user_id), "erasure", anonymousId=f"deleted-{secrets.token_hex(6)}").save(
                condition=erasure.pk.does_not_exist())
        except PutError as exc:
            if not conditional_failed(exc):
                raise
        return str(erasure.get(erasure_pk(user_id), "erasure", consistent_read=True).anonymousId)

    def end_erasure(self, user_id: str) -> None:
        """The erase is complete: forget which anonymous id the account had."""
        self.m["erasure"](erasure_pk(user_id), "erasure").delete()

    def anonymize(self, user_id: str, anonymous_id: str) -> int:
        """Erasing an account: its edits stay in map history under `anonymous_id`, its comments and vote
        reasons go; pending edits are withdrawn (expired). Its votes are moved to `vote#{anonymous_id}`, the
        edits it decided name `anonymous_id` (`decidedBy`), and so do the edits of its maps (`mapUserId`, as
        the maps move to that partition: MapStore.move). Each step is safe to repeat, in an order that a retry
        after a crash finds what is left. Returns how many items changed."""
        return (self._anonymize_edits(user_id, anonymous_id) + self._anonymize_votes(user_id, anonymous_id)
                + self._anonymize_map_owner(user_id, anonymous_id))

    def _anonymize_edits(self, user_id: str, anonymous_id: str) -> int:
        edit, versions = self.m["edit"], self.m["version"]
        changed = 0
        for item in edit.by_author.query(user_id, filter_condition=edit.sk == "edit"):
            if item.appliedVersion is not None:  # before the edit: a retry finds the edit by its author
                update_if(
                    versions(map_pk(item.mapId), version_sk(int(item.appliedVersion))),
                    [versions.author.set(anonymous_id)],
                    versions.sk.exists(),
                )
            actions = [edit.author.set(anonymous_id), edit.comment.set("")]
            if item.editState == PENDING:
                actions += [edit.editState.set(EXPIRED), edit.message.set("its author's account was deleted")]
            item.update(actions=actions)
            changed += 1
        return changed

    def _anonymize_votes(self, user_id: str, anonymous_id: str) -> int:
        vote, edit = self.m["vote"], self.m["edit"]
        changed = 0
        for item in vote.by_author.query(user_id, filter_condition=vote.sk.startswith("vote#")):
            # before the vote moves: a retry finds the edit through the vote
            changed += update_if(edit(item.pk, "edit"), [edit.decidedBy.set(anonymous_id)], edit.decidedBy == user_id)
            moved = vote(item.pk, f"vote#{anonymous_id}", editId=item.editId, author=anonymous_id,
                         decision=item.decision, reason=None, createdAt=item.createdAt)
            try:
                run_transaction(self.karma.connection(), [
                    ("save", moved, {"condition": vote.sk.does_not_exist()}),
                    ("delete", vote(item.pk, item.sk), {"condition": vote.sk.exists()}),
                ])
            except TransactionCancelled as exc:
                if "ConditionalCheckFailed" not in exc.codes:
                    raise
                continue  # moved by an erase running at the same moment
            changed += 1
        return changed

    def _anonymize_map_owner(self, user_id: str, anonymous_id: str) -> int:
        """Every edit of the user's maps (any author, any state) names the maps' new partition: one Query of the
        ByMapOwner index (keys only)."""
        edit = self.m["edit"]
        changed = 0
        for item in edit.by_map_owner.query(user_id):
            changed += update_if(edit(item.pk, item.sk), [edit.mapUserId.set(anonymous_id)], edit.mapUserId == user_id)
        return changed
