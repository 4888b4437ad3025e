"""Per-user quotas, counted atomically in DynamoDB (QuotasTable).

Each quota is a fixed window (for example 10 generations per 15 minutes). One item per user,
quota and window holds the count; taking `n` units is a single conditional UpdateItem (`ADD`
only while the count stays within the limit), so concurrent requests can never slip past it,
and a refused request changes nothing. Items expire (TTL) a day after their window ends.

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
from functools import lru_cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from soundcanvas.core.records import bind, conditional_failed


@dataclass(frozen=True)
class Quota:
    name: str  # what is counted, e.g. "generations"
    limit: int
    window_seconds: int


class QuotaExceeded(Exception):
    """The caller used up a quota; `retry_after` is how many seconds until its window resets."""

    def __init__(self, quota: Quota, retry_after: int) -> None:
        window = _describe(quota.window_seconds)
        super().__init__(f"quota exceeded: {quota.limit} {quota.name} per {window}; try again in {retry_after} s")
        self.quota, self.retry_after = quota, retry_after


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

        key = UnicodeAttribute(hash_key=True)  # {userId}#{quota}#{window start}
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
        start = int(now // quota.window_seconds) * quota.window_seconds
        left = self.take(user_id, quota, units, now=now)
        try:
            yield left
        except BaseException:
            self._give_back(user_id, quota, units, start)
            raise

    def _give_back(self, user_id: str, quota: Quota, units: int, start: int) -> None:
        m = self.model
        try:
            m(f"{user_id}#{quota.name}#{start}").update(actions=[m.used.add(-units)], condition=m.used >= units)
        except UpdateError as exc:
            if not conditional_failed(exc):
                raise

    def take(self, user_id: str, quota: Quota, units: int = 1, *, now: float | None = None) -> int:
        """Use `units` of the quota in the current window; returns what is left, or raises QuotaExceeded."""
        now = self.clock() if now is None else now
        start = int(now // quota.window_seconds) * quota.window_seconds
        end = start + quota.window_seconds
        retry_after = max(1, math.ceil(end - now))
        if units > quota.limit:
            raise QuotaExceeded(quota, retry_after)
        m = self.model
        record = m(f"{user_id}#{quota.name}#{start}")
        try:
            record.update(
                actions=[m.used.add(units), m.expiresAt.set(end + 86400)],
                condition=m.used.does_not_exist() | (m.used <= quota.limit - units),
            )
        except UpdateError as exc:
            if conditional_failed(exc):
                raise QuotaExceeded(quota, retry_after) from exc
            raise
        return int(quota.limit - record.used)
