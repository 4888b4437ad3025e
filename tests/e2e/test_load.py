"""Load on the local stack: 20 users submit 20 generations and 20 track uploads at once; every job
and track finishes, none is lost, and nobody sees another user's work. `make bench` runs the same
fleet at 200 + 200 and reports its latency and throughput; the test keeps a small load so that
`make test` stays well under 20 minutes on two cores (about a minute here)."""

from __future__ import annotations

import pytest

from bench.fleet import run_fleet
from local_stack.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_twenty_users_at_once(stack: LocalStack) -> None:
    try:
        row = run_fleet(stack, users=20, generations=20, tracks=20, piece_seconds=15, timeout=900)
    finally:
        stack.wait_idle(900)  # never leave a backlog of executions to the tests that follow
    assert row["statuses"] == {"COMPLETE": 20, "READY": 20}, row
    assert row["isolated"], row
