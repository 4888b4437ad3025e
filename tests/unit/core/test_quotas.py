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
