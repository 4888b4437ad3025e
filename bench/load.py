"""A load generator that runs in its own process (as a real client would): N concurrent
clients, each with a keep-alive connection, GET one URL M times; prints the latencies as JSON.
With --interval, each client polls: it starts a request every INTERVAL seconds (as the web
client polls a job), instead of sending the next one as soon as the last is answered.

    python -m bench.load URL --clients 20 --requests 50 [--interval 0.5] [--header 'Name: value']
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import requests


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    samples: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(args.clients)

    def client(index: int) -> None:
        session = requests.Session()
        session.get(args.url, headers=headers, timeout=30)  # open the connection before timing
        mine, bad = [], []
        start.wait()
        # Real clients poll out of step with each other: spread the first polls over one interval.
        next_start = time.perf_counter() + args.interval * index / args.clients
        time.sleep(max(0.0, next_start - time.perf_counter()))
        for _ in range(args.requests):
            began = time.perf_counter()
            response = session.get(args.url, headers=headers, timeout=30)
            mine.append(time.perf_counter() - began)
            if args.interval:
                next_start += args.interval
                time.sleep(max(0.0, next_start - time.perf_counter()))
            if response.status_code != 200:
                bad.append(response.status_code)
        with lock:
            samples.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    sys.stdout.write(json.dumps({"samples": samples, "errors": errors, "seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
