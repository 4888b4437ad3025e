"""Proposing an edit of a public drum map and voting on one, as the community's routes do it: the request
models, the limits spent, and who is told. `POST /maps/{mapId}/edits`, `POST /edits/{editId}/revert` and
`POST /edits/{editId}/votes` (functions/maps/community_api) and GraphQL's `proposeMapEdit` and `voteOnEdit`
(functions/core/graphql_api) call these; the rules themselves are soundcanvas.maps.edits' and .karma's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soundcanvas.core.notifications import Notifier
from soundcanvas.core.quotas import QuotaStore
from soundcanvas.maps import edits, karma
from soundcanvas.maps.edits import Decision, EditConflict, EditStore
from soundcanvas.maps.karma import Standing


class Operation(BaseModel):
    """One RFC 6902 operation (applied by the jsonpatch package)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: str = Field(max_length=300, pattern=r"^(/[^/]*)*$", description="A JSON Pointer, e.g. /levels/expert/3/lane")
    value: Any = None
    from_: str | None = Field(default=None, alias="from", max_length=300, pattern=r"^(/[^/]*)*$")

    @model_validator(mode="after")
    def _complete(self) -> Operation:
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            raise ValueError(f"a {self.op} operation needs a value")
        if self.op in ("move", "copy") and self.from_ is None:
            raise ValueError(f"a {self.op} operation needs from")
        return self

    def as_rfc6902(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True)


class EditRequest(BaseModel):
    """Body of POST /maps/{mapId}/edits."""

    model_config = ConfigDict(extra="forbid")
    baseVersion: int = Field(ge=1, description="The version the patch was made against.")
    patch: list[Operation] = Field(min_length=1, max_length=edits.MAX_OPERATIONS)
    comment: str = Field(default="", max_length=1000, description="What the edit fixes, for the verifiers.")


class VoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=1000)


OUTCOME_TEXT = {
    edits.APPLIED: ("applied", "was approved and published as version {version} of the map."),
    edits.REJECTED: ("rejected", "was rejected by the verifiers."),
    edits.CONFLICT: ("in conflict", "could not be applied: {message}"),
}


def tell_author(notifier: Notifier, edit: dict[str, Any]) -> None:
    """The edit's author learns its outcome (in the app, and by e-mail unless they opted out)."""
    state, text = OUTCOME_TEXT[edit["state"]]
    body = text.format(version=edit.get("appliedVersion"), message=edit.get("message") or "")
    notifier.try_notify(edit["author"], kind="edit-decided", subject=f"Your drum map edit was {state}",
                        text=f"Your edit of map {edit['mapId']} ({edit['comment'] or 'no comment'}) {body}",
                        entity={"kind": "edit", "id": edit["editId"]})


def tell_roles(notifier: Notifier, changes: list[tuple[str, str, str]]) -> None:
    for user_id, before, after in changes:
        notifier.try_notify(user_id, kind="role-changed", subject=f"You are now a {after}",
                            text=f"Your karma changed your role from {before} to {after}. "
                                 f"{karma.ROLE_TEXT[after]}", entity={"kind": "user", "id": user_id})


def propose(*, store: EditStore, quotas: QuotaStore, standing: Standing, record: dict[str, Any], now: float,
            base_version: int, operations: list[dict[str, Any]], comment: str,
            revert_of: str | None = None) -> dict[str, Any]:
    """A new pending edit of the visible map `record`: a suspended author is EditForbidden before the role's
    daily limit is spent; a patch that does not apply or makes an invalid map is PatchRejected."""
    role = standing.role(now)
    store.check_may_propose(standing)  # before the daily limit is spent
    with quotas.spend(standing.user_id, karma.edit_quota(role)):
        return store.submit(standing, record, base_version=base_version, operations=operations, comment=comment,
                            revert_of=revert_of)


def vote(*, store: EditStore, quotas: QuotaStore, notifier: Notifier, standing: Standing, edit_id: str,
         decision: str, reason: str | None) -> Decision:
    """One vote, within the daily vote limit; the author is told when it decided the edit (or found the map moved
    on: the EditConflict is raised after they are told), and anyone whose role the karma changed."""
    try:
        with quotas.spend(standing.user_id, karma.VOTE_QUOTA):
            decided = store.vote(standing, edit_id, decision=decision, reason=reason)
    except EditConflict as exc:
        if exc.decided is not None:  # this vote found the map moved on: the edit is now a conflict
            tell_author(notifier, exc.decided)
        raise
    if decided.outcome:
        tell_author(notifier, decided.edit)
        tell_roles(notifier, decided.role_changes)
    return decided
