"""Per-user quotas: atomic fixed-window counters in DynamoDB, and the API's 429 with Retry-After."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from soundcanvas.core.quotas import Quota, QuotaExceeded, QuotaStore
from tests.apigw import call, event
from tests.conftest import FakeContext, ManualClock, load_function

TEN_PER_15_MIN = Quota("generations", 10, 900)


@pytest.fixture
def quotas(aws: dict[str, Any], sam_template: Any, clock: ManualClock) -> QuotaStore:
    clock.now = 1_800_000_000.0  # the start of a 15-minute window
    return QuotaStore(sam_template.names["QuotasTable"], "us-east-1", clock=clock)


def test_a_window_counts_up_to_its_limit_then_refuses(quotas: QuotaStore, clock: ManualClock) -> None:
    assert [quotas.take("alice", TEN_PER_15_MIN) for _ in range(10)] == list(range(9, -1, -1))
    clock.now += 600
    with pytest.raises(QuotaExceeded) as refused:
        quotas.take("alice", TEN_PER_15_MIN)
    assert refused.value.retry_after == 300 and "10 generations per 15 minutes" in str(refused.value)
    assert quotas.take("bob", TEN_PER_15_MIN) == 9  # per user
    clock.now += 300  # the next window
    assert quotas.take("alice", TEN_PER_15_MIN) == 9


def test_a_batch_that_does_not_fit_takes_nothing(quotas: QuotaStore) -> None:
    quotas.take("alice", TEN_PER_15_MIN, 7)
    with pytest.raises(QuotaExceeded):
        quotas.take("alice", TEN_PER_15_MIN, 4)
    assert quotas.take("alice", TEN_PER_15_MIN, 3) == 0
    with pytest.raises(QuotaExceeded):
        quotas.take("bob", TEN_PER_15_MIN, 11)


def test_the_apis_answer_429_with_retry_after(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENERATION_QUOTA", "2")
    monkeypatch.setenv("TRACK_UPLOAD_QUOTA", "4")
    generations = load_function("generations_api")
    for _ in range(2):
        assert call(generations, event("POST", "/generations", body={}))[0] == 201
    result = generations.lambda_handler(event("POST", "/generations", body={}), FakeContext())
    headers = {**(result.get("headers") or {}), **{k: v[0] for k, v in (result.get("multiValueHeaders") or {}).items()}}
    assert result["statusCode"] == 429 and 0 < int(headers["Retry-After"]) <= 900
    assert "2 generations per 15 minutes" in call(generations, event("POST", "/generations", body={}))[1]["message"]
    assert call(generations, event("POST", "/generations", user="bob", body={}))[0] == 201
    tracks = load_function("tracks_api")
    monkeypatch.setattr(tracks, "stepfunctions", mock.Mock())
    files = [{"fileName": f"{i}.mp3", "contentType": "audio/mpeg", "sizeBytes": 10} for i in range(3)]
    assert call(tracks, event("POST", "/tracks/uploads", body={"files": files}))[0] == 201
    status, payload = call(tracks, event("POST", "/tracks/uploads", body={"files": files[:2]}))
    assert status == 429 and payload["retryAfterSeconds"] > 0
    assert call(tracks, event("GET", "/tracks"))[1]["items"].__len__() == 3  # the refused batch made nothing


def test_units_spent_on_work_that_is_then_refused_are_given_back(quotas: QuotaStore) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), quotas.spend("alice", TEN_PER_15_MIN, 4) as left:
        assert left == 6
        raise Refused
    with quotas.spend("alice", TEN_PER_15_MIN, 10) as left:  # all ten are there again
        assert left == 0
    with pytest.raises(QuotaExceeded), quotas.spend("alice", TEN_PER_15_MIN):
        pass  # a refusal by the quota itself gives nothing back: it took nothing
    assert quotas.take("bob", TEN_PER_15_MIN) == 9


def test_a_monthly_quota_runs_for_the_calendar_month_in_utc(quotas: QuotaStore, clock: ManualClock) -> None:
    from datetime import UTC, datetime

    monthly = Quota("maps", 3, monthly=True, advice="the free plan includes 3 maps a month")
    clock.now = datetime(2026, 12, 31, 23, 59, 0, tzinfo=UTC).timestamp()  # the year's last minute
    assert [quotas.take("alice", monthly) for _ in range(3)] == [2, 1, 0]
    with pytest.raises(QuotaExceeded) as refused:
        quotas.take("alice", monthly)
    assert refused.value.retry_after == 60 and refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert str(refused.value) == ("quota exceeded: 3 maps per month; it renews at 2027-01-01T00:00:00Z; "
                                  "the free plan includes 3 maps a month")
    assert quotas.used("alice", monthly) == (3, int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()))
    clock.now += 60  # January: a new month
    assert quotas.used("alice", monthly)[0] == 0
    assert quotas.take("alice", monthly) == 2
    clock.now = datetime(2027, 2, 28, 12, tzinfo=UTC).timestamp()
    with pytest.raises(QuotaExceeded) as refused:
        quotas.take("alice", monthly, 4)
    assert refused.value.resets_at == datetime(2027, 3, 1, tzinfo=UTC).timestamp()


def test_a_monthly_counter_never_shares_an_item_with_a_window_starting_at_the_same_second(
        quotas: QuotaStore, clock: ManualClock) -> None:
    from datetime import UTC, datetime

    clock.now = datetime(2027, 1, 1, tzinfo=UTC).timestamp()  # also the start of an hourly window
    hourly, monthly = Quota("maps", 2, 3600), Quota("maps", 5, monthly=True)
    assert quotas.take("alice", hourly, 2) == 0
    assert quotas.take("alice", monthly) == 4
    assert quotas.used("alice", hourly)[0] == 2 and quotas.used("alice", monthly)[0] == 1


def test_a_monthly_limit_is_read_at_each_take(quotas: QuotaStore) -> None:
    """A plan that grows mid-month: what was used stays counted, the new limit applies at once."""
    assert quotas.take("alice", Quota("maps", 2, monthly=True), 2) == 0
    with pytest.raises(QuotaExceeded):
        quotas.take("alice", Quota("maps", 2, monthly=True))
    assert quotas.take("alice", Quota("maps", 10, monthly=True)) == 7


def test_a_fixed_window_needs_a_length() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        Quota("maps", 2)
