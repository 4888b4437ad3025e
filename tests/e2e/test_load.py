"""Load on the local stack: 20 users submit 200 generations and 200 track uploads at once; every
job and track finishes, none is lost, and nobody sees another user's work. (`make bench` runs the
same fleet and reports its latency and throughput.) About six minutes on two cores."""

from __future__ import annotations

import pytest

from bench.fleet import run_fleet
from local_stack.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_twenty_users_at_once(stack: LocalStack) -> None:
    try:
        row = run_fleet(stack, users=20, generations=200, tracks=200, piece_seconds=15, timeout=1500)
    finally:
        stack.wait_idle(1500)  # never leave a backlog of executions to the tests that follow
    assert row["statuses"] == {"COMPLETE": 200, "READY": 200}, row
    assert row["isolated"], row
