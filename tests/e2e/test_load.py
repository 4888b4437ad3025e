"""Load on the local stack: 20 users submit generations and track uploads at once; every job and
track finishes, none is lost, and nobody sees another user's work. (`make bench` runs the same
fleet at full size, 200 and 200, and reports latency and throughput.)"""

from __future__ import annotations

import pytest

from bench.fleet import run_fleet
from local_stack.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_twenty_users_at_once(stack: LocalStack) -> None:
    row = run_fleet(stack, users=20, generations=40, tracks=40, piece_seconds=15, timeout=600)
    assert row["statuses"] == {"COMPLETE": 40, "READY": 40}, row
    assert row["isolated"], row
