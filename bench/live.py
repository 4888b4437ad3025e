"""Live progress push latency on the local stack: from a record's update to the message at a client.

    python -m bench.live [--out docs/live-bench.md] [--clients 50] [--rounds 3]

One local stack (its WebSocket API, the same WebSocketFunction, the same PostToConnection path the workflow
functions use). `--clients` WebSocket clients connect with ID tokens and subscribe, then the records change
through the product's own store (`soundcanvas.generation.jobs.JobStore`: claim, advance, advance, advance to
COMPLETE, regenerate), the write the workflow steps make. A latency is the time from just before that write
(the DynamoDB update included) to the message's arrival at the client's socket, on the same clock.

Two scenarios:
- each client subscribed to a generation of its own user, the records changed by 8 writer threads at once
  (many workflows moving together);
- all clients subscribed to one record (a fan-out of `--clients` pushes per change).

Target (the seed design's): p95 <= 100 ms with 50 clients subscribed. Nothing here fails the build.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import platform
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.report import say
from local_stack.stack import ROOT, LocalStack

DEFAULT_OUT = ROOT / "docs" / "live-bench.md"
TARGET_MS = 100.0
STEPS = (("analyze", "compose"), ("compose", "render"), ("render", "done"))


def clients_main(url: str, subscriptions: list[tuple[str, str, str]], pipe: Any) -> None:
    """The clients, in their own process (as real clients are elsewhere): connect, subscribe, tell the parent,
    stamp each push's arrival (wall clock, shared by both processes) until told to stop, send the stamps back."""
    arrivals: list[tuple[str, str, str, float]] = []
    lock = threading.Lock()
    sockets: list[ClientConnection] = []
    opened = contextlib.ExitStack()
    for token, kind, item_id in subscriptions:
        ws = opened.enter_context(connect(f"{url}?token={token}", open_timeout=30))
        ws.send(json.dumps({"action": "subscribe", "kind": kind, "id": item_id}))
        answer = json.loads(ws.recv(timeout=30))
        if answer.get("action") != "subscribed":
            raise RuntimeError(f"subscribe refused: {answer}")
        sockets.append(ws)

    def listen(ws: ClientConnection) -> None:
        try:
            for data in ws:
                now = time.time()
                message = json.loads(data)
                with lock:
                    arrivals.append((message["id"], message["status"], message["stage"], now))
        except ConnectionClosed:
            pass

    threads = [threading.Thread(target=listen, args=(ws,), daemon=True) for ws in sockets]
    for thread in threads:
        thread.start()
    pipe.send("ready")
    pipe.recv()  # the parent's writes are done (and it waited for the pushes to land)
    opened.close()
    with lock:
        pipe.send(list(arrivals))


class Clients:
    """The client process of one scenario."""

    def __init__(self, url: str, subscriptions: list[tuple[str, str, str]]) -> None:
        self.pipe, child = multiprocessing.get_context("spawn").Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=clients_main,
                                                                    args=(url, subscriptions, child), daemon=True)
        self.process.start()
        if not self.pipe.poll(300) or self.pipe.recv() != "ready":
            raise RuntimeError("the clients did not connect")

    def arrivals(self) -> list[tuple[str, str, str, float]]:
        self.pipe.send("stop")
        received: list[tuple[str, str, str, float]] = self.pipe.recv()
        self.process.join(30)
        return received


def latencies(writes: list[tuple[tuple[str, str, str], float, float]], arrivals: list[tuple[str, str, str, float]],
              expected_per_write: int) -> dict[str, Any]:
    """For each write, its pushes: the first `expected_per_write` arrivals of its (id, status, stage) after it."""
    by_key: dict[tuple[str, str, str], list[float]] = {}
    for item_id, status, stage, at in arrivals:
        by_key.setdefault((item_id, status, stage), []).append(at)
    from_start: list[float] = []
    from_update: list[float] = []
    lost = 0
    for key, started, updated in writes:
        times = sorted(t for t in by_key.get(key, []) if t >= started)
        # a record passes the same stage once per round: the pushes of this write are the next ones
        mine = [t for t in times if not _taken(key, t)][:expected_per_write]
        for t in mine:
            _TAKEN.add((key, t))
            from_start.append((t - started) * 1000)
            from_update.append((t - updated) * 1000)
        lost += expected_per_write - len(mine)
    return {**summary(from_start, lost), "update": summary(from_update, lost)}


_TAKEN: set[tuple[tuple[str, str, str], float]] = set()


def _taken(key: tuple[str, str, str], at: float) -> bool:
    return (key, at) in _TAKEN


def one_cycle(jobs: Any, user: str, job_id: str, run: int,
              updated: dict[str, float]) -> list[tuple[tuple[str, str, str], float, float]]:
    """Claim, three advances to COMPLETE, then a regenerate: each write's key, when it began and when the record was
    updated (the publisher's entry, stamped by `stamp_updates`)."""
    writes: list[tuple[tuple[str, str, str], float, float]] = []

    def write(key: tuple[str, str, str], change: Any) -> None:
        started = time.time()
        if change() in (None, False):
            raise RuntimeError(f"write {key} refused")
        writes.append((key, started, updated.pop(f"{key[0]}#{threading.get_ident()}", started)))

    write((job_id, "RUNNING", "analyze"), lambda: jobs.claim(user, job_id, run=run))
    for finished, nxt in STEPS:
        write((job_id, "COMPLETE" if nxt == "done" else "RUNNING", nxt),
              lambda f=finished, n=nxt: jobs.advance(user, job_id, finished=f, elapsed_ms=1, next_stage=n))
    write((job_id, "PENDING", "analyze"), lambda: jobs.restart(user, job_id, options={}))
    return writes


def stamp_updates(live: Any) -> dict[str, float]:
    """Stamp when each record update returned (live.changed is entered right after it), per record and thread."""
    updated: dict[str, float] = {}
    original = live.changed

    def changed(kind: str, user_id: str, item_id: str, record: Any) -> None:
        updated[f"{item_id}#{threading.get_ident()}"] = time.time()
        original(kind, user_id, item_id, record)

    live.changed = changed
    return updated


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(latencies: list[float], lost: int) -> dict[str, Any]:
    return {"n": len(latencies), "lost": lost, "p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
            "max": max(latencies)}


def own_records(stack: LocalStack, jobs: Any, updated: dict[str, float], clients: int, rounds: int,
                writers: int) -> dict[str, Any]:
    """Each client follows its own user's generation; `writers` threads move the records at once."""
    records = []
    for i in range(clients):
        user, job_id = f"bench-{i}", uuid.uuid4().hex
        jobs.create(user, job_id, options={}, image_key=f"images/{user}/{job_id}/input.jpg",
                    content_type="image/jpeg", retention_days=1)
        records.append((user, job_id))
    group = Clients(stack.ws_url, [(stack.token(user), "generation", job_id) for user, job_id in records])
    writes: list[tuple[tuple[str, str, str], float, float]] = []
    for round_no in range(rounds):
        with ThreadPoolExecutor(max_workers=writers) as pool:
            for cycle in pool.map(lambda r, n=round_no: one_cycle(jobs, r[0], r[1], n, updated), records):
                writes += cycle
    time.sleep(1.0)  # the last pushes land
    return latencies(writes, group.arrivals(), 1)


def one_record(stack: LocalStack, jobs: Any, updated: dict[str, float], clients: int, rounds: int) -> dict[str, Any]:
    """Every client follows the same record: each change fans out to all of them."""
    user, job_id = "bench-fanout", uuid.uuid4().hex
    jobs.create(user, job_id, options={}, image_key=f"images/{user}/{job_id}/input.jpg", content_type="image/jpeg",
                retention_days=1)
    group = Clients(stack.ws_url, [(stack.token(user), "generation", job_id)] * clients)
    writes: list[tuple[tuple[str, str, str], float, float]] = []
    for round_no in range(rounds):
        writes += one_cycle(jobs, user, job_id, round_no, updated)
        time.sleep(0.05)
    time.sleep(1.0)
    return latencies(writes, group.arrivals(), clients)


def row(label: str, result: dict[str, Any]) -> str:
    update = result["update"]
    met = "yes" if update["p95"] <= TARGET_MS and result["lost"] == 0 else "no"
    return (f"| {label} | p50 {update['p50']:.1f} ms, **p95 {update['p95']:.1f} ms**, max {update['max']:.1f} ms "
            f"| p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms | {result['n']} ({result['lost']} lost) "
            f"| p95 <= {TARGET_MS:.0f} ms | {met} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=3, help="records changed at once (the local stack runs 3 "
                        "executions at once)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load = os.getloadavg()[0]  # other work on the machine shares the two processes' CPU
    with LocalStack(api_port=0, aws_port=0, seed_catalog=False,
                    env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        from soundcanvas.core import live
        from soundcanvas.generation.jobs import JobStore

        jobs = JobStore(stack.template.names["GenerationsTable"], "us-east-1", host=stack.endpoint)
        updated = stamp_updates(live)
        say(f"live progress: {args.clients} clients, {args.rounds} rounds of 5 changes per record")
        own = own_records(stack, jobs, updated, args.clients, args.rounds, args.writers)
        own_label = f"{args.clients} clients, each subscribed to a generation of its own, {args.writers} writers at once"
        say(row(own_label, own))
        fan = one_record(stack, jobs, updated, args.clients, args.rounds)
        fan_label = f"{args.clients} clients subscribed to one generation (a fan-out of {args.clients} per change)"
        say(row(fan_label, fan))
        counts = dict(live.stats)
    lines = [
        f"# Live progress benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Written by `make bench` (`python -m bench.live`). {platform.machine()}, {os.cpu_count()} cores (load average "
        f"{load:.1f} at the start), Python {platform.python_version()}. One local stack: its WebSocket API "
        "(`websockets`), the template's WebSocketFunction, and the PostToConnection path every workflow function "
        "uses (`soundcanvas.core.live`). "
        "The clients run in a process of their own, as real clients are elsewhere. The records change through "
        "the product's own store (`JobStore.claim`, three `advance` to COMPLETE, `restart`: the writes the workflow "
        "and the API make), five changes per record per round. A latency runs from the record's update (the "
        "DynamoDB UpdateItem returned) to the message's arrival at the client's socket, on the wall clock both "
        "processes share; the column beside it also counts the UpdateItem itself.",
        "",
        "| scenario | push latency from the update | including the update | messages | target | met |",
        "|---|---|---|---|---|---|",
        row(own_label, own),
        row(fan_label, fan),
        "",
        f"Publisher counters in this run: {json.dumps(counts, sort_keys=True)}.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    say(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
