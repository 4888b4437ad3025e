"""Load on the local stack: 20 users submit 40 generations and 40 track uploads at once; every job
and track finishes, none is lost, and nobody sees another user's work. `make bench` runs the same
fleet at 200 + 200 and reports its latency and throughput; the test keeps a small load so that
`make test` stays well under 20 minutes on two cores (about two minutes here)."""

from __future__ import annotations

import pytest

from bench.fleet import run_fleet
from local_stack.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_twenty_users_at_once(stack: LocalStack) -> None:
    try:
        row = run_fleet(stack, users=20, generations=40, tracks=40, piece_seconds=15, timeout=900)
    finally:
        stack.wait_idle(900)  # never leave a backlog of executions to the tests that follow
    assert row["statuses"] == {"COMPLETE": 40, "READY": 40}, row
    assert row["isolated"], row
