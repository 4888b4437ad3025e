"""The community's records in one DynamoDB table (CommunityTable in template.yaml): edits, votes, map
versions, the karma ledger and each user's running total.

    pk                 sk                         what
    edit#{editId}      edit                       an edit: its patch, state, vote counts   (EditRecord)
    edit#{editId}      vote#{userId}              one user's vote on it                    (VoteRecord)
    map#{mapId}        v#{n:06d}                  version n >= 2 of a map                  (VersionRecord)
    karma#{userId}     {at}#{reason}#{entity}     one ledger entry (a grant's: {at}#grant#{by}#{hex}) (LedgerEntry)
    user#{userId}      profile                    karma (running total), first seen, suspension (Profile)
    user#{userId}      gain#{day}[#{fromUserId}]  karma gained that UTC day (in all, from one user) (GainCounter)
    erasure#{userId}   erasure                    the anonymous id of an account being erased  (Erasure)

Indexes: `ByState` (editState, createdAt) is the verifier queue, oldest first; `ByAuthor` (author,
createdAt) finds a user's edits and votes (export, erase), and the ledger entries their decisions earned
others (`author` = `fromUser`, `createdAt` = `at`: erase); `ByMapOwner` (mapUserId, createdAt; keys only) finds
the edits of a user's maps (erase). Each item type is its own PynamoDB model bound
to the same table; every rule that must hold under concurrency is a condition on a write.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from soundcanvas.core.records import bind


class _Item(Model):
    class Meta:
        abstract = True

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


@lru_cache(maxsize=8)
def models(table_name: str, region: str, host: str | None) -> dict[str, Any]:
    """The item models of one CommunityTable: {"edit", "vote", "version", "ledger", "profile", "gain", "erasure"}.
    Each model gets its own index classes (an index remembers the one model it reads items as)."""

    def index(name: str, hash_name: str, projection: Any = None) -> Any:
        meta = type("Meta", (), {"index_name": name, "projection": projection or AllProjection()})
        return type(f"{name}Index", (GlobalSecondaryIndex,), {
            "Meta": meta, hash_name: UnicodeAttribute(hash_key=True), "createdAt": UnicodeAttribute(range_key=True)})()

    class EditRecord(_Item):
        class Meta:
            pass

        editId = UnicodeAttribute()
        mapId = UnicodeAttribute()
        mapUserId = UnicodeAttribute()  # the map record's partition key (its owner)
        songId = UnicodeAttribute()
        author = UnicodeAttribute()
        authorTrusted = BooleanAttribute(default=False)  # one approval applies a trusted author's edit
        baseVersion = NumberAttribute()
        patch = UnicodeAttribute()  # the RFC 6902 operations, as JSON
        comment = UnicodeAttribute(default="")
        diff = MapAttribute[str, Any](default=dict)  # what the patch changes, counted (see edits.diff_summary)
        revertOf = UnicodeAttribute(null=True)
        editState = UnicodeAttribute()  # pending | applied | rejected | conflict | expired
        approvals = NumberAttribute(default=0)
        rejections = NumberAttribute(default=0)
        appliedVersion = NumberAttribute(null=True)
        decidedAt = UnicodeAttribute(null=True)
        decidedBy = UnicodeAttribute(null=True)  # the vote that decided it
        message = UnicodeAttribute(null=True)  # why it is conflict or expired
        createdAt = UnicodeAttribute()
        by_state = index("ByState", "editState")
        by_author = index("ByAuthor", "author")
        by_map_owner = index("ByMapOwner", "mapUserId", KeysOnlyProjection())

    class VoteRecord(_Item):
        class Meta:
            pass

        editId = UnicodeAttribute()
        author = UnicodeAttribute()  # the voter (ByAuthor lists a user's votes beside their edits)
        decision = UnicodeAttribute()  # approve | reject
        reason = UnicodeAttribute(null=True)
        createdAt = UnicodeAttribute()
        by_author = index("ByAuthor", "author")

    class VersionRecord(_Item):
        class Meta:
            pass

        mapId = UnicodeAttribute()
        version = NumberAttribute()
        key = UnicodeAttribute()  # the document's S3 key
        author = UnicodeAttribute()
        editId = UnicodeAttribute()
        createdAt = UnicodeAttribute()

    class LedgerEntry(_Item):
        class Meta:
            pass

        userId = UnicodeAttribute()
        at = UnicodeAttribute()
        amount = NumberAttribute()  # what was credited (after the daily caps)
        requested = NumberAttribute()  # what the rule gives before the caps
        reason = UnicodeAttribute()
        entity = MapAttribute[str, Any]()  # {kind: edit | vote | grant, id}
        fromUser = UnicodeAttribute(null=True)  # whose decision earned it (the per-user daily cap)
        author = UnicodeAttribute(null=True)  # = fromUser, with createdAt = at: ByAuthor finds it (erase)
        createdAt = UnicodeAttribute(null=True)
        by_author = index("ByAuthor", "author")

    class Profile(_Item):
        class Meta:
            pass

        karma = NumberAttribute(default=0)
        firstSeenAt = NumberAttribute(null=True)
        suspendedUntil = NumberAttribute(null=True)

    class GainCounter(_Item):
        class Meta:
            pass

        gained = NumberAttribute(default=0)
        expiresAt = NumberAttribute()

    class Erasure(_Item):
        """While an account is erased: the one anonymous id all its items get (a retry reuses it)."""

        class Meta:
            pass

        anonymousId = UnicodeAttribute()

    return {name: bind(model, table_name, region, host) for name, model in (
        ("edit", EditRecord), ("vote", VoteRecord), ("version", VersionRecord), ("ledger", LedgerEntry),
        ("profile", Profile), ("gain", GainCounter), ("erasure", Erasure))}


def edit_pk(edit_id: str) -> str:
    return f"edit#{edit_id}"


def user_pk(user_id: str) -> str:
    return f"user#{user_id}"


def karma_pk(user_id: str) -> str:
    return f"karma#{user_id}"


def erasure_pk(user_id: str) -> str:
    return f"erasure#{user_id}"


def map_pk(map_id: str) -> str:
    return f"map#{map_id}"


def version_sk(version: int) -> str:
    return f"v#{version:06d}"
