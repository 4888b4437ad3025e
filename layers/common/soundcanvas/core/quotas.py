"""Per-user quotas, counted atomically in DynamoDB (QuotasTable).

Each quota is a fixed window (for example 10 generations per 15 minutes) or a calendar month in
UTC (a plan's monthly allowance, soundcanvas.core.entitlements). One item per user, quota and
window holds the count; taking `n` units is a single conditional UpdateItem (`ADD` only while the
count stays within the limit), so concurrent requests can never slip past it, and a refused
request changes nothing. Items expire (TTL) a day after their window ends. A month's counter has
its own key (`{user}#{name}#month-YYYY-MM`), so it never shares an item with a fixed window that
starts at the same second; its limit is read at every take, so a user whose plan grows mid-month
keeps what they used and gets the new limit.

Only work is counted: a route validates its request and checks state first, then spends the
units inside `spend(...)`, which gives them back if the work is then refused (a conflict found by
the conditional write that commits it, say).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from soundcanvas.core.records import bind, update_if


@dataclass(frozen=True)
class Quota:
    name: str  # what is counted, e.g. "generations"
    limit: int
    window_seconds: int = 0  # a fixed window of this length; unused when `monthly`
    monthly: bool = False  # the calendar month in UTC instead of a fixed window
    advice: str = ""  # added to the refusal: how to get more (e.g. "upgrade to pro ...")

    def __post_init__(self) -> None:
        if not self.monthly and self.window_seconds <= 0:
            raise ValueError(f"quota {self.name}: a fixed window needs window_seconds > 0")


def window(quota: Quota, now: float) -> tuple[int, int]:
    """The [start, end) of the quota's window holding `now`, in epoch seconds."""
    if quota.monthly:
        moment = datetime.fromtimestamp(now, UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        following = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp()), int(following.timestamp())
    start = int(now // quota.window_seconds) * quota.window_seconds
    return start, start + quota.window_seconds


def _counter_key(user_id: str, quota: Quota, start: int) -> str:
    if quota.monthly:
        return f"{user_id}#{quota.name}#month-{datetime.fromtimestamp(start, UTC):%Y-%m}"
    return f"{user_id}#{quota.name}#{start}"


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class QuotaExceeded(Exception):
    """The caller used up a quota; `retry_after` is how many seconds until its window resets (`resets_at`)."""

    def __init__(self, quota: Quota, retry_after: int, resets_at: int | None = None) -> None:
        if quota.monthly:
            message = f"quota exceeded: {quota.limit} {quota.name} per month"
            if resets_at is not None:
                message += f"; it renews at {_iso(resets_at)}"
        else:
            window_text = _describe(quota.window_seconds)
            message = f"quota exceeded: {quota.limit} {quota.name} per {window_text}; try again in {retry_after} s"
        if quota.advice:
            message += f"; {quota.advice}"
        super().__init__(message)
        self.quota, self.retry_after, self.resets_at = quota, retry_after, resets_at


def _describe(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


@lru_cache(maxsize=8)
def _counter_class(table_name: str, region: str, host: str | None) -> Any:
    class QuotaCounter(Model):
        class Meta:
            pass

        key = UnicodeAttribute(hash_key=True)  # {userId}#{quota}#{window start} or #month-YYYY-MM
        used = NumberAttribute(default=0)
        expiresAt = NumberAttribute()

    return bind(QuotaCounter, table_name, region, host)


class QuotaStore:
    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock=time.time) -> None:
        self.model: Any = _counter_class(table_name, region, host)
        self.clock = clock

    @contextmanager
    def spend(self, user_id: str, quota: Quota, units: int = 1) -> Iterator[int]:
        """Take `units` for the work in the block (yields what is left); if the block raises, give them back."""
        now = self.clock()
        start, _ = window(quota, now)
        left = self.take(user_id, quota, units, now=now)
        try:
            yield left
        except BaseException:
            self._give_back(user_id, quota, units, start)
            raise

    def _give_back(self, user_id: str, quota: Quota, units: int, start: int) -> None:
        m = self.model
        update_if(m(_counter_key(user_id, quota, start)), [m.used.add(-units)], m.used >= units)

    def take(self, user_id: str, quota: Quota, units: int = 1, *, now: float | None = None) -> int:
        """Use `units` of the quota in the current window; returns what is left, or raises QuotaExceeded."""
        now = self.clock() if now is None else now
        start, end = window(quota, now)
        retry_after = max(1, math.ceil(end - now))
        if units > quota.limit:
            raise QuotaExceeded(quota, retry_after, end)
        m = self.model
        record = m(_counter_key(user_id, quota, start))
        if not update_if(
            record,
            [m.used.add(units), m.expiresAt.set(end + 86400)],
            m.used.does_not_exist() | (m.used <= quota.limit - units),
        ):
            raise QuotaExceeded(quota, retry_after, end)
        return int(quota.limit - record.used)

    def used(self, user_id: str, quota: Quota, *, now: float | None = None) -> tuple[int, int]:
        """How many units the user has used in the current window (a consistent read), and when it ends."""
        now = self.clock() if now is None else now
        start, end = window(quota, now)
        try:
            record = self.model.get(_counter_key(user_id, quota, start), consistent_read=True)
        except self.model.DoesNotExist:
            return 0, end
        return int(record.used or 0), end
