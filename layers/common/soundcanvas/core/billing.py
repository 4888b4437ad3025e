"""Stripe's events applied to users' entitlements (soundcanvas.core.entitlements), once each, in order.

Stripe delivers each event at least once, retries for up to three days, and promises no order, so:

* **Once.** Every event id is recorded in BillingTable (`event#{evt_...}`) by a conditional put before
  it is applied; a second delivery finds it and changes nothing (`duplicate`). The record says what
  the event did (`outcome`) and expires after EVENT_RETENTION_DAYS (TTL). A failure while applying
  removes the claim, so Stripe's retry applies it; a claim left by a crash is taken over after
  CLAIM_TIMEOUT_SECONDS.
* **In order.** Each change to the user's item is conditional on the event's `created` time being no
  earlier than the last applied one's (`planEventAt`): a late, older event is recorded as `older` and
  changes nothing. A change that ends a plan applies only to the subscription the plan is on.
* **Whose.** Our user id reaches Stripe as the Checkout session's `client_reference_id` and as the
  subscription's `metadata.userId` (set by POST /billing/checkout). `checkout.session.completed` also
  records `customer#{cus_...}` -> userId, so events that carry only the customer (invoices) find the user.

The events and what they do:

* checkout.session.completed (mode subscription, paid): plan pro, status active, the customer and
  subscription recorded. Payment still pending (a bank debit): the customer is linked (`linked`) and
  the subscription's own event decides the plan.
* customer.subscription.created / updated: status active, trialing or past_due: pro; any other
  status (unpaid, canceled, incomplete, incomplete_expired, paused): free.
* customer.subscription.deleted: free, status canceled.
* invoice.payment_failed: status past_due, the plan stays: Stripe retries the payment, and when it
  gives up the subscription becomes unpaid or canceled, and that event takes the plan away.
* anything else: recorded and ignored.

`past_due` keeps pro on purpose: it is Stripe's grace period while it retries a card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError
from pynamodb.models import Model

from soundcanvas.core.entitlements import FREE, PRO, EntitlementStore, StaleChange
from soundcanvas.core.inputs import is_subject
from soundcanvas.core.records import bind, conditional_failed, now_iso

EVENT_RETENTION_DAYS = 30  # Stripe retries for 3 days; a month of outcomes to look back on
CLAIM_TIMEOUT_SECONDS = 300  # a claim this old without an outcome was left by a crash: a retry takes it over
PRO_STATUSES = frozenset({"active", "trialing", "past_due"})
# What `handle` says an event did.
APPLIED, IGNORED, OLDER, OTHER_SUBSCRIPTION, UNMATCHED, LINKED, PENDING = (
    "applied", "ignored", "older", "other-subscription", "unmatched", "linked", "pending")


class BadEvent(ValueError):
    """A verified payload that is not a Stripe event we can read (no id, type or created time)."""


@dataclass(frozen=True)
class Result:
    """What handling one delivery did: `duplicate` (seen before: nothing done), the outcome, and whose plan."""

    duplicate: bool
    outcome: str
    user_id: str | None = None


@lru_cache(maxsize=8)
def _billing_class(table_name: str, region: str, host: str | None) -> Any:
    class BillingItem(Model):
        class Meta:
            pass

        pk = UnicodeAttribute(hash_key=True)  # event#{evt_...} | customer#{cus_...}
        eventType = UnicodeAttribute(null=True)
        eventCreated = NumberAttribute(null=True)
        outcome = UnicodeAttribute(null=True)
        userId = UnicodeAttribute(null=True)
        receivedAt = NumberAttribute(null=True)
        updatedAt = UnicodeAttribute(null=True)
        expiresAt = NumberAttribute(null=True)  # TTL: event items only

    return bind(BillingItem, table_name, region, host)


class BillingStore:
    """BillingTable: the events seen (once each) and which user each Stripe customer is."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.model: Any = _billing_class(table_name, region, host)
        self.clock = clock

    def claim(self, event_id: str, event_type: str, created: int) -> bool:
        """Record the event as being applied; False when it was seen before (a duplicate delivery)."""
        m = self.model
        now = self.clock()
        item = m(f"event#{event_id}", eventType=event_type, eventCreated=int(created), outcome=PENDING,
                 receivedAt=int(now), updatedAt=now_iso(now), expiresAt=int(now) + EVENT_RETENTION_DAYS * 86400)
        abandoned = (m.outcome == PENDING) & (m.receivedAt < int(now) - CLAIM_TIMEOUT_SECONDS)
        try:
            item.save(condition=m.pk.does_not_exist() | abandoned)
        except PutError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def finish(self, event_id: str, outcome: str, user_id: str | None) -> None:
        """Record what the claimed event did."""
        m = self.model
        actions = [m.outcome.set(outcome), m.updatedAt.set(now_iso(self.clock()))]
        if user_id:
            actions.append(m.userId.set(user_id))
        m(f"event#{event_id}").update(actions=actions)

    def release(self, event_id: str) -> None:
        """Forget a claim whose event could not be applied, so that Stripe's retry applies it."""
        m = self.model
        try:
            m(f"event#{event_id}").delete(condition=m.outcome == PENDING)
        except DeleteError as exc:
            if not conditional_failed(exc):
                raise

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The record of an event seen, or None."""
        try:
            item = self.model.get(f"event#{event_id}", consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return {"eventType": item.eventType, "eventCreated": item.eventCreated, "outcome": item.outcome,
                "userId": item.userId}

    def link_customer(self, customer_id: str, user_id: str) -> None:
        """Remember which user a Stripe customer is (a put: the link is the same whoever writes it)."""
        self.model(f"customer#{customer_id}", userId=user_id, updatedAt=now_iso(self.clock())).save()

    def customer_user(self, customer_id: str) -> str | None:
        try:
            return str(self.model.get(f"customer#{customer_id}", consistent_read=True).userId)
        except self.model.DoesNotExist:
            return None

    def forget_customer(self, customer_id: str) -> bool:
        """Remove a customer's link (for an account's erasure); False when there was none."""
        m = self.model
        try:
            m(f"customer#{customer_id}").delete(condition=m.pk.exists())
        except DeleteError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True


def _id(value: Any) -> str | None:
    """A Stripe reference: an id string, or an expanded object's `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


class Billing:
    """Applies verified Stripe events: `handle(event)` once per event id, each change in order."""

    def __init__(self, store: BillingStore, entitlements: EntitlementStore) -> None:
        self.store, self.entitlements = store, entitlements

    def handle(self, event: dict[str, Any]) -> Result:
        """Apply one event (a verified webhook payload, parsed); a duplicate delivery changes nothing."""
        event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
        obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) \
                or not isinstance(created, int) or isinstance(created, bool) or not isinstance(obj, dict):
            raise BadEvent("not a Stripe event: it needs id, type, created and data.object")
        if not self.store.claim(event_id, event_type, created):
            return Result(duplicate=True, outcome=(self.store.event(event_id) or {}).get("outcome") or PENDING)
        try:
            outcome, user_id = self._apply(event_id, event_type, created, obj)
        except BaseException:
            self.store.release(event_id)
            raise
        self.store.finish(event_id, outcome, user_id)
        return Result(duplicate=False, outcome=outcome, user_id=user_id)

    def _apply(self, event_id: str, event_type: str, created: int, obj: dict[str, Any]) -> tuple[str, str | None]:
        if event_type == "checkout.session.completed":
            return self._checkout_completed(event_id, created, obj)
        if event_type in ("customer.subscription.created", "customer.subscription.updated",
                          "customer.subscription.deleted"):
            return self._subscription(event_id, event_type, created, obj)
        if event_type == "invoice.payment_failed":
            return self._payment_failed(event_id, created, obj)
        return IGNORED, None

    def _change(self, user_id: str, **change: Any) -> str:
        try:
            self.entitlements.change(user_id, **change)
        except StaleChange as stale:
            return OLDER if stale.reason == "older" else OTHER_SUBSCRIPTION
        return APPLIED

    def _checkout_completed(self, event_id: str, created: int, session: dict[str, Any]) -> tuple[str, str | None]:
        user_id = session.get("client_reference_id")
        if session.get("mode") != "subscription":
            return IGNORED, None
        if not isinstance(user_id, str) or not is_subject(user_id):
            return UNMATCHED, None
        customer, subscription = _id(session.get("customer")), _id(session.get("subscription"))
        if customer:
            self.store.link_customer(customer, user_id)
        if session.get("payment_status") not in ("paid", "no_payment_required") or not subscription:
            return LINKED, user_id  # e.g. a bank debit still clearing: the subscription's own event decides
        return self._change(user_id, event_id=event_id, event_at=created, plan=PRO, status="active",
                            customer_id=customer, subscription_id=subscription), user_id

    def _user_of(self, obj: dict[str, Any]) -> str | None:
        """Our user for a Stripe object: its metadata.userId (set at checkout), else its customer's link."""
        metadata = obj.get("metadata")
        user_id = metadata.get("userId") if isinstance(metadata, dict) else None
        if isinstance(user_id, str) and is_subject(user_id):
            return user_id
        customer = _id(obj.get("customer"))
        return self.store.customer_user(customer) if customer else None

    def _subscription(self, event_id: str, event_type: str, created: int,
                      subscription: dict[str, Any]) -> tuple[str, str | None]:
        user_id = self._user_of(subscription)
        subscription_id = _id(subscription.get("id"))
        if user_id is None or subscription_id is None:
            return UNMATCHED, user_id
        customer = _id(subscription.get("customer"))
        status = "canceled" if event_type.endswith(".deleted") else str(subscription.get("status") or "")
        if status in PRO_STATUSES:
            return self._change(user_id, event_id=event_id, event_at=created, plan=PRO, status=status,
                                customer_id=customer, subscription_id=subscription_id), user_id
        return self._change(user_id, event_id=event_id, event_at=created, plan=FREE, status=status or "canceled",
                            customer_id=customer, only_subscription=subscription_id), user_id

    def _payment_failed(self, event_id: str, created: int, invoice: dict[str, Any]) -> tuple[str, str | None]:
        user_id = self._user_of(invoice)
        if user_id is None:
            return UNMATCHED, None
        # API versions before 2025-03 name the subscription on the invoice; later ones under parent.
        parent = invoice.get("parent")
        details = parent.get("subscription_details") if isinstance(parent, dict) else None
        subscription_id = _id(invoice.get("subscription")) or (
            _id(details.get("subscription")) if isinstance(details, dict) else None)
        if subscription_id is None:
            return IGNORED, user_id  # a one-off invoice: no plan hangs on it
        return self._change(user_id, event_id=event_id, event_at=created, status="past_due",
                            only_subscription=subscription_id), user_id
