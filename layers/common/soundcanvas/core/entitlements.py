"""What a user's plan entitles them to: the plan on their UsersTable item, and the monthly allowances.

The user's item in UsersTable (partition key `userId`) is shared: the library's Guess the Track
settings and Listen's preferences live there too. Like those stores, this one declares only its
own attributes and writes them with UpdateItem actions, never a whole-item put:

    plan                  "free" | "pro" (absent: free)
    planStatus            the Stripe subscription's status as last heard ("active", "trialing",
                          "past_due", "unpaid", "canceled", "incomplete", ...), or absent
    stripeCustomerId      the Stripe customer (cus_...) that pays for it
    stripeSubscriptionId  the Stripe subscription (sub_...) the plan is on
    planUpdatedAt         when we last changed any of these (ISO 8601, our clock)
    planEventAt           the `created` time (epoch seconds) of the Stripe event that set them
    planEventId           that event's id (evt_...)

Stripe delivers events at least once and in no particular order, so every change is conditional:
it applies only when its event was created no earlier than `planEventAt` (an older event arriving
late changes nothing), and a change that takes the plan away applies only to the subscription the
plan is on (the end of an old subscription does not cancel a newer one). soundcanvas.core.billing
turns Stripe's events into these changes.

The allowances: each plan includes a number of drum maps and transcriptions a calendar month (UTC),
counted by soundcanvas.core.quotas next to the APIs' rate quotas. `Allowances.spend` is what the
APIs wrap their work in; the numbers come from Settings (FREE_MAPS_PER_MONTH, ...).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from soundcanvas.core.quotas import Quota, QuotaStore
from soundcanvas.core.records import bind, now_iso, update_if
from soundcanvas.core.settings import Settings

FREE, PRO = "free", "pro"
KINDS = ("maps", "transcriptions")  # what a plan's monthly allowance counts
ATTRIBUTES = ("plan", "planStatus", "stripeCustomerId", "stripeSubscriptionId", "planUpdatedAt", "planEventAt",
              "planEventId")
UPGRADE_HINT = "upgrade to pro with POST /billing/checkout"


@dataclass(frozen=True)
class Plan:
    """A plan and what it includes each calendar month."""

    name: str
    maps_per_month: int
    transcriptions_per_month: int

    def allowance(self, kind: str) -> int:
        if kind not in KINDS:
            raise ValueError(f"no monthly allowance for {kind!r}; known: {', '.join(KINDS)}")
        return int(getattr(self, f"{kind}_per_month"))


def plans(settings: Settings) -> dict[str, Plan]:
    """The plans table: free and pro, their allowances from the settings (overridable per stack)."""
    return {
        FREE: Plan(FREE, settings.free_maps_per_month, settings.free_transcriptions_per_month),
        PRO: Plan(PRO, settings.pro_maps_per_month, settings.pro_transcriptions_per_month),
    }


@lru_cache(maxsize=8)
def _entitlement_class(table_name: str, region: str, host: str | None) -> Any:
    class Entitlement(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        plan = UnicodeAttribute(null=True)
        planStatus = UnicodeAttribute(null=True)
        stripeCustomerId = UnicodeAttribute(null=True)
        stripeSubscriptionId = UnicodeAttribute(null=True)
        planUpdatedAt = UnicodeAttribute(null=True)
        planEventAt = NumberAttribute(null=True)
        planEventId = UnicodeAttribute(null=True)

    return bind(Entitlement, table_name, region, host)


class StaleChange(Exception):
    """A change refused by its conditions: `reason` is "older" (a newer event was applied already) or
    "other-subscription" (it would end a subscription the plan is no longer on)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EntitlementStore:
    """Reads and changes the entitlement attributes of the user's UsersTable item."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time) -> None:
        self.model: Any = _entitlement_class(table_name, region, host)
        self.clock = clock

    def get(self, user_id: str) -> dict[str, Any]:
        """The user's entitlement attributes (a consistent read); an unknown user is on the free plan."""
        try:
            record = self.model.get(user_id, consistent_read=True, attributes_to_get=list(ATTRIBUTES))
        except self.model.DoesNotExist:
            return {"plan": FREE, **{name: None for name in ATTRIBUTES[1:]}}
        view = {name: getattr(record, name) for name in ATTRIBUTES}
        view["plan"] = view["plan"] or FREE
        if view["planEventAt"] is not None:
            view["planEventAt"] = int(view["planEventAt"])
        return view

    def plan_name(self, user_id: str) -> str:
        """The name of the user's plan ("free" when they have none)."""
        plan = self.get(user_id)["plan"]
        return plan if plan in (FREE, PRO) else FREE

    def change(self, user_id: str, *, event_id: str, event_at: int, plan: str | None = None,
               status: str | None = None, customer_id: str | None = None, subscription_id: str | None = None,
               only_subscription: str | None = None) -> None:
        """Apply one Stripe event's change (None leaves an attribute as it is); raises StaleChange when an event
        created later was applied already, or when `only_subscription` is given and the plan is on another
        subscription. Events created in the same second apply in the order they arrive."""
        if plan is not None and plan not in (FREE, PRO):
            raise ValueError(f"unknown plan {plan!r}")
        m = self.model
        actions = [m.planEventAt.set(int(event_at)), m.planEventId.set(event_id),
                   m.planUpdatedAt.set(now_iso(self.clock()))]
        for attribute, value in ((m.plan, plan), (m.planStatus, status), (m.stripeCustomerId, customer_id),
                                 (m.stripeSubscriptionId, subscription_id)):
            if value is not None:
                actions.append(attribute.set(value))
        in_order = m.planEventAt.does_not_exist() | (m.planEventAt <= int(event_at))
        condition = in_order
        if only_subscription is not None:
            condition = in_order & (m.stripeSubscriptionId.does_not_exist()
                                    | (m.stripeSubscriptionId == only_subscription))
        if not update_if(m(user_id), actions, condition):
            current = self.get(user_id)
            older = current["planEventAt"] is not None and current["planEventAt"] > int(event_at)
            raise StaleChange("older" if older else "other-subscription")


class Allowances:
    """The monthly allowances of each user's plan, spent beside the APIs' rate quotas."""

    def __init__(self, entitlements: EntitlementStore, quotas: QuotaStore, plan_table: dict[str, Plan]) -> None:
        self.entitlements, self.quotas, self.plans = entitlements, quotas, plan_table

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Any = time.time) -> Allowances:
        """Allowances on the stack's UsersTable and QuotasTable (USERS_TABLE_NAME, QUOTAS_TABLE_NAME)."""
        host = settings.dynamodb_endpoint
        return cls(EntitlementStore(settings.users_table_name, settings.region, host=host, clock=clock),
                   QuotaStore(settings.quotas_table_name, settings.region, host=host, clock=clock),
                   plans(settings))

    def plan(self, user_id: str) -> Plan:
        return self.plans[self.entitlements.plan_name(user_id)]

    def allowances(self, user_id: str) -> dict[str, Any]:
        """The user's plan and what it includes a month: {"plan": "free", "maps": 30, "transcriptions": 30}."""
        plan = self.plan(user_id)
        return {"plan": plan.name, **{kind: plan.allowance(kind) for kind in KINDS}}

    def quota(self, plan: Plan, kind: str) -> Quota:
        """The monthly quota of `kind` on `plan`; its refusal names the plan and how to get more."""
        included = f"the {plan.name} plan includes {plan.allowance(kind)} {kind} a month"
        pro = self.plans[PRO]
        if pro.allowance(kind) > plan.allowance(kind):
            advice = f"{included}; {UPGRADE_HINT} for {pro.allowance(kind)} a month"
        else:
            advice = f"{included}, the most of any plan"
        return Quota(kind, plan.allowance(kind), monthly=True, advice=advice)

    @contextmanager
    def spend(self, user_id: str, kind: str, units: int = 1) -> Iterator[int]:
        """Take `units` of this month's allowance of `kind` for the work in the block (yields what is left);
        given back if the block raises; QuotaExceeded (429) when the month's allowance is used up."""
        with self.quotas.spend(user_id, self.quota(self.plan(user_id), kind), units) as left:
            yield left

    def usage(self, user_id: str) -> dict[str, Any]:
        """The user's plan and, for each allowance, its limit, what is used and left, and when it renews."""
        plan = self.plan(user_id)
        usage: dict[str, Any] = {}
        for kind in KINDS:
            quota = self.quota(plan, kind)
            used, renews = self.quotas.used(user_id, quota)
            usage[kind] = {"limit": quota.limit, "used": used, "left": max(0, quota.limit - used),
                           "renewsAt": now_iso(renews)}
        return {"plan": plan.name, "allowances": usage}
