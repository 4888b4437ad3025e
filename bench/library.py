"""`GET /due` with a big library: p95 on the local stack with 1,000 and then 10,000 tracks, 100 of them due.

The library is written straight into the tracks table (batch writes through the local endpoint,
the same record shape the workflow writes); then one client asks, back to back, for what a Guess
the Track client asks for: the default page of the most overdue tracks (20), each with its
presigned snippet URL. The query reads the `ByUserDue` index, so its cost
should follow the 100 due tracks, not the library's size.

    python -m bench.library          # prints the rows on its own
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from typing import Any

import requests

from local_stack.stack import LocalStack

DUE = 100
PAGE = 20  # GET /due's default limit
SIZES = (1_000, 10_000)
REQUESTS = 40
TARGET_MS = 50.0
FLAT = 1.25  # p95 at 10,000 tracks within 25 % of p95 at 1,000


def _fill(stack: LocalStack, user: str, count: int, *, due: int, now: float) -> None:
    """Add `count` READY tracks to the user's library; the first `due` of them are due now."""
    from soundcanvas.core.records import now_iso
    from soundcanvas.library.tracks import READY, TrackStore

    store = TrackStore(stack.template.names["TracksTable"], "us-east-1", host=stack.endpoint)
    with store.model.batch_write() as batch:
        for i in range(count):
            track_id = uuid.uuid4().hex
            key = f"library/{user}/{track_id}/original.mp3"
            batch.save(store.model(
                user, track_id, createdAt=now_iso(now - i), updatedAt=now_iso(now), status=READY, source="upload",
                fileName=f"{track_id}.mp3", originalKey=key, mp3Key=key, format="mp3", name=f"Track {i}",
                artist="Bench", durationSeconds=240.0, reviewCount=0,
                dueAt=int(now - 3600 - i) if i < due else int(now + 86400 * (1 + i % 60)),
            ))


def _p95(stack: LocalStack, user: str) -> dict[str, float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.token(user)}"
    url = f"{stack.api_url}/due"
    for _ in range(5):  # warm
        assert len(session.get(url, timeout=30).json()["items"]) == PAGE
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or len(response.json()["items"]) != PAGE:
            raise RuntimeError(f"GET /due answered {response.status_code}: {response.text[:200]}")
    samples.sort()
    return {"p50": statistics.median(samples) * 1000, "p95": samples[int(len(samples) * 0.95) - 1] * 1000}


def due_rows(stack: LocalStack) -> list[dict[str, Any]]:
    user, now, rows, stored = f"bench-{uuid.uuid4().hex[:8]}", time.time(), [], 0
    for size in SIZES:
        _fill(stack, user, size - stored, due=DUE if stored == 0 else 0, now=now)
        stored = size
        rows.append({"tracks": size, **_p95(stack, user)})
    return rows


def due_lines(rows: list[dict[str, Any]]) -> list[str]:
    small, large = rows[0], rows[-1]
    growth = large["p95"] / small["p95"]
    lines = []
    for row in rows:
        lines.append(f"| GET /due (first {PAGE} of {DUE} due, with snippet URLs), {row['tracks']:,} tracks in the library, "
                     f"{REQUESTS} requests back to back | p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms | "
                     f"p95 <= {TARGET_MS:.0f} ms | {'yes' if row['p95'] <= TARGET_MS else 'NO'} |")
    lines.append(f"| GET /due p95 growth from {small['tracks']:,} to {large['tracks']:,} tracks | x {growth:.2f} | "
                 f"flat (<= x {FLAT}) | {'yes' if growth <= FLAT else 'NO'} |")
    return lines


def main() -> int:
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        rows = due_rows(stack)
    sys.stdout.write("\n".join(due_lines(rows)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
