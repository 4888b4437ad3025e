"""Many users at once on the local stack: each of `users` clients submits its share of generations
(create, upload the sample picture) and track uploads (form, upload the sample FLAC), all at the
same time; then every job must reach COMPLETE and every track READY, none lost, and no user may
see another's. Reports API latency during the run and jobs finished per minute.

    python -m bench.fleet              # 20 users, 200 generations, 200 track uploads
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from local_stack.stack import ROOT, LocalStack

PICTURE = ROOT / "events/generation/images/sunset.jpg"
TRACK = ROOT / "events/library/audio/demo-track.flac"


class _User:
    def __init__(self, stack: LocalStack, name: str, latencies: list[float], lock: threading.Lock) -> None:
        self.stack, self.name = stack, name
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.token(name, seconds=4 * 3600)}"
        self.latencies, self.lock = latencies, lock
        self.jobs: list[str] = []
        self.tracks: list[str] = []

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        response = self.session.request(method, f"{self.stack.api_url}{path}", timeout=60, **kwargs)
        with self.lock:
            self.latencies.append(time.perf_counter() - started)
        return response

    def submit(self, generations: int, tracks: int, piece_seconds: int) -> None:
        picture, flac = PICTURE.read_bytes(), TRACK.read_bytes()
        for _ in range(generations):
            job = self.call("POST", "/generations", json={"durationSeconds": piece_seconds}).json()
            form = job["upload"]
            sent = requests.post(form["url"], data=form["fields"], files={"file": ("p.jpg", picture, "image/jpeg")},
                                 timeout=60)
            sent.raise_for_status()
            self.jobs.append(job["jobId"])
        for i in range(tracks):
            files = [{"fileName": f"{self.name}-{i}.flac", "contentType": "audio/flac", "sizeBytes": len(flac)}]
            (item,) = self.call("POST", "/tracks/uploads", json={"files": files}).json()["files"]
            form = item["upload"]
            sent = requests.post(form["url"], data=form["fields"], files={"file": ("t.flac", flac, "audio/flac")},
                                 timeout=60)
            sent.raise_for_status()
            self.tracks.append(item["trackId"])

    def settle(self, deadline: float) -> dict[str, str]:
        """Poll until every job and track is final; their final statuses."""
        final: dict[str, str] = {}
        pending = [("/generations/", j) for j in self.jobs] + [("/tracks/", t) for t in self.tracks]
        while pending and time.monotonic() < deadline:
            still = []
            for prefix, item in pending:
                response = self.call("GET", f"{prefix}{item}")
                status = "MISSING" if response.status_code == 404 else response.json().get("status")
                if status in ("COMPLETE", "FAILED", "READY", "MISSING"):  # MISSING: lost, or filed under another user
                    final[item] = status
                else:
                    still.append((prefix, item))
            pending = still
            if pending:
                time.sleep(0.5)
        for _, item in pending:
            final[item] = "UNFINISHED"
        return final

    def sees_only_own(self, others: list[_User]) -> bool:
        mine = {j["jobId"] for j in self.call("GET", "/generations?limit=100").json()["items"]}
        tracks = {t["trackId"] for t in self.call("GET", "/tracks?limit=100").json()["items"]}
        foreign = [o for o in others if o is not self]
        leaked = any(mine & set(o.jobs) or tracks & set(o.tracks) for o in foreign)
        probe = foreign[0] if foreign else None
        if probe and probe.jobs and self.call("GET", f"/generations/{probe.jobs[0]}").status_code != 404:
            leaked = True
        return mine == set(self.jobs) and tracks == set(self.tracks) and not leaked


def run_fleet(stack: LocalStack, *, users: int = 20, generations: int = 200, tracks: int = 200,
              piece_seconds: int = 15, timeout: float = 1800.0) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()
    stamp = time.monotonic_ns()
    fleet = [_User(stack, f"fleet{stamp}-{i}", latencies, lock) for i in range(users)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=users) as pool:
        for future in [pool.submit(u.submit, generations // users + (i < generations % users),
                                   tracks // users + (i < tracks % users), piece_seconds)
                       for i, u in enumerate(fleet)]:
            future.result()
        submitted = time.monotonic() - started
        deadline = time.monotonic() + timeout
        results = [f.result() for f in [pool.submit(u.settle, deadline) for u in fleet]]
    elapsed = time.monotonic() - started
    statuses: dict[str, int] = {}
    for result in results:
        for status in result.values():
            statuses[status] = statuses.get(status, 0) + 1
    isolated = all(u.sees_only_own(fleet) for u in fleet)
    samples = sorted(latencies)
    finished = sum(n for s, n in statuses.items() if s in ("COMPLETE", "READY"))
    return {
        "users": users, "generations": generations, "tracks": tracks, "pieceSeconds": piece_seconds,
        "statuses": statuses, "isolated": isolated, "submitSeconds": round(submitted, 1),
        "elapsedSeconds": round(elapsed, 1), "finishedPerMinute": round(finished / elapsed * 60, 1),
        "apiP50Ms": round(statistics.median(samples) * 1000, 1),
        "apiP95Ms": round(samples[int(len(samples) * 0.95) - 1] * 1000, 1), "apiRequests": len(samples),
    }


def fleet_lines(row: dict[str, Any]) -> list[str]:
    ok = row["statuses"].get("COMPLETE", 0) == row["generations"] and row["statuses"].get("READY", 0) == row["tracks"]
    return [
        f"| load: {row['users']} users submit {row['generations']} generations ({row['pieceSeconds']} s pieces) and "
        f"{row['tracks']} track uploads at once | all submitted in {row['submitSeconds']} s, all finished in "
        f"{row['elapsedSeconds']} s: {row['finishedPerMinute']} jobs and tracks per minute; {row['statuses']}; "
        f"API p50 {row['apiP50Ms']} ms, p95 {row['apiP95Ms']} ms over {row['apiRequests']} requests during the run | "
        f"every job COMPLETE and track READY, none lost, no user sees another's | "
        f"{'yes' if ok and row['isolated'] else 'NO'} |",
    ]


def main() -> int:
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        row = run_fleet(stack)
    sys.stdout.write(json.dumps(row, indent=2) + "\n" + "\n".join(fleet_lines(row)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
