"""Karma and roles: who may propose, verify and curate drum maps, and how much they may do a day.

Karma is the sum of an append-only ledger (`LedgerEntry` items in CommunityTable); the user's profile
keeps it as a running total, changed only in the same transaction that appends an entry, so the two
never disagree. A reversal is a compensating entry, never a change to an old one.

    +10  an edit of yours is applied          -2  an edit of yours is rejected
    +1   your vote matched the outcome        (an administrator may grant or reverse any amount)

Gains are capped: at most +200 a UTC day in all, and at most +30 a day earned from any one other
user's decisions (the vote that decided an edit), so two accounts cannot farm each other. The ledger
records what the rule asked for (`requested`) and what was credited (`amount`).

Roles follow from karma and account age; `admin` from the `admin` group in the caller's token:

    fixer     everyone signed in                        5 edits a day
    verifier  karma >= 200 and account >= 7 days old    50 edits, votes
    curator   karma >= 1,000                            200 edits, votes, marks maps verified
    admin     the `admin` group                         200 edits, votes, verifies, grants karma

Every role votes at most 40 times a day. Five rejected edits within 24 hours suspend proposing for
7 days. An account's age counts from its first request to a community route (`firstSeenAt`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from soundcanvas.core import cursors
from soundcanvas.core.quotas import Quota
from soundcanvas.core.records import delete_partition, now_iso, update_if
from soundcanvas.maps import community
from soundcanvas.maps.community import karma_pk, user_pk

FIXER, VERIFIER, CURATOR, ADMIN = "fixer", "verifier", "curator", "admin"
ROLES = (FIXER, VERIFIER, CURATOR, ADMIN)
VERIFIER_KARMA = 200
VERIFIER_AGE_SECONDS = 7 * 86400
CURATOR_KARMA = 1000
EDITS_PER_DAY = {FIXER: 5, VERIFIER: 50, CURATOR: 200, ADMIN: 200}
VOTES_PER_DAY = 40
APPLIED, REJECTED, VOTE_MATCHED = 10, -2, 1
DAILY_GAIN_CAP = 200
DAILY_GAIN_FROM_ONE_USER_CAP = 30
SUSPEND_AFTER_REJECTIONS = 5
REJECTION_WINDOW_SECONDS = 86400
SUSPENSION_SECONDS = 7 * 86400
DAY_SECONDS = 86400
ADMIN_GROUP = "admin"
TRANSACTION_ATTEMPTS = 5


ROLE_TEXT = {
    FIXER: f"You may propose {EDITS_PER_DAY[FIXER]} edits a day.",
    VERIFIER: f"You may now vote on other people's edits ({VOTES_PER_DAY} votes a day) and propose "
              f"{EDITS_PER_DAY[VERIFIER]} edits a day.",
    CURATOR: "You may now also mark maps verified.",
    ADMIN: "You administer the community.",
}


def role_for(karma: int, account_age_seconds: float, groups: Iterable[str] = ()) -> str:
    """The role of a user with this karma, account age and token groups."""
    if ADMIN_GROUP in set(groups):
        return ADMIN
    if karma >= CURATOR_KARMA:
        return CURATOR
    if karma >= VERIFIER_KARMA and account_age_seconds >= VERIFIER_AGE_SECONDS:
        return VERIFIER
    return FIXER


def edit_quota(role: str) -> Quota:
    """The daily limit of edits a role may propose (spent by the community API, shown by GET /me)."""
    return Quota("map-edits", EDITS_PER_DAY[role], DAY_SECONDS)


VOTE_QUOTA = Quota("map-votes", VOTES_PER_DAY, DAY_SECONDS)  # votes a day, every voting role


def may_vote(role: str) -> bool:
    return role in (VERIFIER, CURATOR, ADMIN)


def may_verify(role: str) -> bool:
    return role in (CURATOR, ADMIN)


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Credit:
    """One ledger entry to write: `requested` karma for `user_id`, earned by `from_user`'s decision."""

    user_id: str
    requested: int
    reason: str  # edit-applied | edit-rejected | vote-matched | grant
    entity: dict[str, str]
    from_user: str | None = None


@dataclass
class Standing:
    """What a user's profile says, and the role it gives."""

    user_id: str
    karma: int
    first_seen_at: float
    suspended_until: float | None
    groups: frozenset[str] = field(default_factory=frozenset)

    def role(self, now: float) -> str:
        return role_for(self.karma, now - self.first_seen_at, self.groups)

    def suspended(self, now: float) -> bool:
        return self.suspended_until is not None and self.suspended_until > now


class KarmaStore:
    """The ledger, the running totals and the daily gain counters; takes its table and clock as arguments."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.m = community.models(table_name, region, host)
        self.region, self.host = region, host
        self.clock = clock

    def connection(self) -> Connection:
        return Connection(region=self.region, host=self.host)

    # ---------------------------------------------------------------- standing
    def standing(self, user_id: str, groups: Iterable[str] = (), *, touch: bool = True) -> Standing:
        """The user's karma and age; on a first visit (`touch`) the account's age starts now."""
        profile_model = self.m["profile"]
        now = self.clock()
        if touch:
            profile_model(user_pk(user_id), "profile").update(
                actions=[profile_model.firstSeenAt.set(profile_model.firstSeenAt | int(now)),
                         profile_model.karma.set(profile_model.karma | 0)])
        try:
            profile = profile_model.get(user_pk(user_id), "profile", consistent_read=True)
            karma, first_seen, suspended = int(profile.karma or 0), float(profile.firstSeenAt or now), \
                (float(profile.suspendedUntil) if profile.suspendedUntil else None)
        except profile_model.DoesNotExist:
            karma, first_seen, suspended = 0, now, None
        return Standing(user_id, karma, first_seen, suspended, frozenset(groups))

    # ---------------------------------------------------------------- credits
    def credit_actions(self, credits: Iterable[Credit], *, at: float) -> list[tuple[str, Any, dict[str, Any]]]:
        """The transaction items that write `credits` under the daily caps, read now; (kind, model, kwargs)
        for `TransactWrite.save` / `.update`. The caps are conditions too: a concurrent gain that would
        break one cancels the transaction and the caller recomputes."""
        ledger, profile, gain = self.m["ledger"], self.m["profile"], self.m["gain"]
        day = day_of(at)
        expires = int(at) + 2 * DAY_SECONDS
        items: list[tuple[str, Any, dict[str, Any]]] = []
        planned: dict[str, int] = {}  # sk of a gain counter -> what this transaction adds to it
        for credit in credits:
            amount = credit.requested
            counters: list[tuple[str, int]] = []
            if amount > 0:
                day_sk = f"gain#{day}"
                day_left = DAILY_GAIN_CAP - self._gained(credit.user_id, day_sk) - planned.get(
                    f"{credit.user_id}|{day_sk}", 0)
                counters.append((day_sk, DAILY_GAIN_CAP))
                left = day_left
                if credit.from_user and credit.from_user != credit.user_id:
                    pair_sk = f"gain#{day}#{credit.from_user}"
                    pair_left = DAILY_GAIN_FROM_ONE_USER_CAP - self._gained(credit.user_id, pair_sk) - planned.get(
                        f"{credit.user_id}|{pair_sk}", 0)
                    counters.append((pair_sk, DAILY_GAIN_FROM_ONE_USER_CAP))
                    left = min(left, pair_left)
                amount = max(0, min(amount, left))
            entry = ledger(karma_pk(credit.user_id), f"{now_iso(at)}#{credit.reason}#{credit.entity.get('id', '')}",
                           userId=credit.user_id, at=now_iso(at), amount=amount, requested=credit.requested,
                           reason=credit.reason, entity=dict(credit.entity), fromUser=credit.from_user,
                           author=credit.from_user, createdAt=now_iso(at) if credit.from_user else None)
            items.append(("save", entry, {"condition": ledger.sk.does_not_exist()}))
            if amount != 0:
                items.append(("update", profile(user_pk(credit.user_id), "profile"), {
                    "actions": [profile.karma.add(amount), profile.firstSeenAt.set(profile.firstSeenAt | int(at))]}))
            for sk, cap in counters if amount > 0 else ():
                key = f"{credit.user_id}|{sk}"
                planned[key] = planned.get(key, 0) + amount
                items.append(("update", gain(user_pk(credit.user_id), sk), {
                    "actions": [gain.gained.add(amount), gain.expiresAt.set(expires)],
                    "condition": gain.gained.does_not_exist() | (gain.gained <= cap - planned[key])}))
        return items

    def _gained(self, user_id: str, sk: str) -> int:
        gain = self.m["gain"]
        try:
            return int(gain.get(user_pk(user_id), sk, consistent_read=True).gained or 0)
        except gain.DoesNotExist:
            return 0

    def grant(self, user_id: str, amount: int, *, reason: str, by: str) -> dict[str, Any]:
        """An administrator's entry (a grant or a reversal): uncapped, recorded like any other."""
        at = self.clock()
        credit = Credit(user_id, amount, "grant", {"kind": "grant", "id": f"{by}:{reason}"[:200]}, from_user=by)
        with TransactWrite(connection=self.connection()) as transaction:
            ledger, profile = self.m["ledger"], self.m["profile"]
            entry_sk = f"{now_iso(at)}#grant#{by}#{uuid.uuid4().hex[:8]}"  # two grants in one millisecond both count
            transaction.save(ledger(karma_pk(user_id), entry_sk, userId=user_id, at=now_iso(at),
                                    amount=amount, requested=amount, reason="grant", entity=credit.entity,
                                    fromUser=by, author=by, createdAt=now_iso(at)), condition=ledger.sk.does_not_exist())
            transaction.update(profile(user_pk(user_id), "profile"),
                               actions=[profile.karma.add(amount), profile.firstSeenAt.set(profile.firstSeenAt | int(at))])
        return {"userId": user_id, "amount": amount, "reason": reason, "at": now_iso(at)}

    # ---------------------------------------------------------------- reads
    def ledger(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's ledger, newest first."""
        ledger = self.m["ledger"]
        types = {"pk": "S", "sk": "S"}
        start = cursors.decode(karma_pk(user_id), cursor, types, partition="pk") if cursor else None
        results = ledger.query(karma_pk(user_id), scan_index_forward=False, limit=limit, last_evaluated_key=start)
        items = [{"at": e.at, "amount": int(e.amount), "requested": int(e.requested), "reason": e.reason,
                  "entity": e.entity.as_dict()} for e in results]
        last = results.last_evaluated_key
        return items, (cursors.encode(last) if last else None)

    def ledger_sum(self, user_id: str) -> int:
        """The ledger's total (the truth the running total is checked against)."""
        return sum(int(e.amount) for e in self.m["ledger"].query(karma_pk(user_id)))

    def rejections_since(self, user_id: str, since: float) -> int:
        ledger = self.m["ledger"]
        return sum(1 for _ in ledger.query(karma_pk(user_id), range_key_condition=ledger.sk >= now_iso(since),
                                           filter_condition=ledger.reason == "edit-rejected"))

    def suspend(self, user_id: str, until: float) -> None:
        profile = self.m["profile"]
        profile(user_pk(user_id), "profile").update(actions=[profile.suspendedUntil.set(int(until))])

    # ---------------------------------------------------------------- privacy
    def export(self, user_id: str) -> dict[str, Any]:
        standing = self.standing(user_id, touch=False)
        entries = [{"at": e.at, "amount": int(e.amount), "requested": int(e.requested), "reason": e.reason,
                    "entity": e.entity.as_dict()} for e in self.m["ledger"].query(karma_pk(user_id))]
        return {"karma": standing.karma, "firstSeenAt": now_iso(standing.first_seen_at), "ledger": entries}

    def delete_all(self, user_id: str) -> int:
        """The user's ledger, profile and counters; returns how many items."""
        return delete_partition(self.m["ledger"], karma_pk(user_id)) + delete_partition(self.m["profile"], user_pk(user_id))

    def anonymize_decider(self, user_id: str, anonymous_id: str) -> int:
        """Erasing an account: the entries its decisions and grants earned other users (ByAuthor) name
        `anonymous_id` instead, and so do those users' daily counters of gains from it. Amounts and totals stay
        as they are. A grant's entry, whose sort key names its giver, is moved (the new item written and the
        old deleted in one transaction). Safe to repeat: what was renamed is not found again. Returns how
        many items changed."""
        ledger = self.m["ledger"]
        changed = 0
        days: set[tuple[str, str]] = set()
        for entry in ledger.by_author.query(user_id, filter_condition=ledger.fromUser == user_id):
            if entry.userId == user_id:
                continue  # the user's own ledger is deleted with the account
            self._rename_entry(entry, user_id, anonymous_id)
            changed += 1
            if int(entry.amount) > 0:
                days.add((entry.userId, entry.at[:10]))
        for owner, day in sorted(days):
            changed += self._move_gain(owner, f"gain#{day}#{user_id}", f"gain#{day}#{anonymous_id}")
        return changed

    def _rename_entry(self, entry: Any, user_id: str, anonymous_id: str) -> None:
        ledger = self.m["ledger"]
        sk, entity = renamed_entry_key(entry.sk, entry.entity.as_dict(), user_id, anonymous_id)
        if sk == entry.sk:
            update_if(
                entry,
                [ledger.fromUser.set(anonymous_id), ledger.author.set(anonymous_id), ledger.entity.set(entity)],
                ledger.fromUser == user_id,
            )
            return
        moved = ledger(entry.pk, sk, **{**_attributes(entry), "fromUser": anonymous_id, "author": anonymous_id,
                                        "entity": entity})
        try:
            run_transaction(self.connection(), [
                ("save", moved, {"condition": ledger.sk.does_not_exist()}),
                ("delete", ledger(entry.pk, entry.sk), {"condition": ledger.fromUser == user_id}),
            ])
        except TransactionCancelled as exc:
            if "ConditionalCheckFailed" not in exc.codes:
                raise  # else moved by an erase running at the same moment: nothing is lost either way

    def _move_gain(self, owner: str, old_sk: str, new_sk: str) -> int:
        """Move one daily gain counter to a new sort key, its count kept; 0 when there is none (expired, or moved)."""
        gain = self.m["gain"]
        try:
            counter = gain.get(user_pk(owner), old_sk, consistent_read=True)
        except gain.DoesNotExist:
            return 0
        try:
            run_transaction(self.connection(), [
                ("save", gain(user_pk(owner), new_sk, gained=counter.gained, expiresAt=counter.expiresAt),
                 {"condition": gain.sk.does_not_exist()}),
                ("delete", gain(user_pk(owner), old_sk), {"condition": gain.gained == counter.gained}),
            ])
        except TransactionCancelled as exc:
            if "ConditionalCheckFailed" not in exc.codes:
                raise
            return 0
        return 1


def renamed_entry_key(sk: str, entity: dict[str, Any], user_id: str,
                      anonymous_id: str) -> tuple[str, dict[str, Any]]:
    """A ledger entry's sort key and entity with its giver `user_id` named `anonymous_id`: only a grant's
    name them (`{at}#grant#{by}#{hex}`, entity id `{by}:{reason}`); an edit's entry is returned as it is."""
    if entity.get("kind") != "grant":
        return sk, entity
    at, marker, rest = sk.partition(f"#grant#{user_id}#")
    new_sk = f"{at}#grant#{anonymous_id}#{rest}" if marker else sk
    entity_id = str(entity.get("id", ""))
    if entity_id.startswith(f"{user_id}:"):
        entity = {**entity, "id": f"{anonymous_id}:{entity_id[len(user_id) + 1:]}"[:200]}
    return new_sk, entity


def _attributes(item: Any) -> dict[str, Any]:
    """An item's attributes other than its keys, as a model's constructor takes them."""
    return {name: getattr(item, name) for name in item.get_attributes() if name not in ("pk", "sk")}


class TransactionCancelled(Exception):
    """A transaction DynamoDB cancelled; `codes` holds each item's reason (None where it held), in the
    order the caller listed the items."""

    def __init__(self, codes: list[str | None]) -> None:
        super().__init__(f"transaction cancelled: {codes}")
        self.codes = codes


def run_transaction(connection: Connection, items: list[tuple[str, Any, dict[str, Any]]]) -> None:
    """Write `items` ((kind, model, kwargs) with kind save | update | delete | check) in one TransactWriteItems;
    TransactionCancelled when a condition fails."""
    # PynamoDB sends condition checks, then deletes, puts, updates: the reasons come back in that order.
    sent = [i for kind in ("check", "delete", "save", "update") for i, item in enumerate(items) if item[0] == kind]
    try:
        with TransactWrite(connection=connection) as transaction:
            for kind, model, kwargs in items:
                if kind == "save":
                    transaction.save(model, **kwargs)
                elif kind == "update":
                    transaction.update(model, **kwargs)
                elif kind == "delete":
                    transaction.delete(model, **kwargs)
                else:
                    transaction.condition_check(model, **kwargs)
    except TransactWriteError as exc:
        reasons = getattr(exc, "cancellation_reasons", None)
        if not reasons:
            raise
        codes: list[str | None] = [None] * len(items)
        for position, reason in zip(sent, reasons, strict=False):
            codes[position] = getattr(reason, "code", None) if reason is not None else None
        codes = [None if code in (None, "None") else code for code in codes]
        raise TransactionCancelled(codes) from exc
