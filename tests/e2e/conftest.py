"""One local stack for the end-to-end tests: real HTTP to the API on loopback, real presigned
uploads to the S3 endpoint, the workflows run by moto's ASL engine with the real handlers (retry
intervals and Wait seconds shortened by time_scale; task and execution timeouts are real)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "events/generation/images/sunset.jpg"


class ShiftableClock:
    """Wall-clock time plus an offset the tests move forward (to expire forms and URLs)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def to_window_start(self, window_seconds: int) -> None:
        """Move forward to a second after the next fixed quota window starts, so that a test filling the quota
        never straddles two windows (where the count would start again mid-test)."""
        from soundcanvas.core.quotas import Quota, window

        _, next_start = window(Quota("any", 1, window_seconds), self())
        self.offset += next_start + 1 - self()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order in which `make` hands out the end-to-end files, a file at a time to two workers (--dist loadfile
    --no-loadscope-reorder): the files with a test marked slow (the load run, the API fuzz test: a minute or more)
    first, so that none of them starts last and leaves one worker alone at the end; then the files with the most
    tests, as pytest-xdist's own order would. Tests keep their order within a file; tests outside tests/e2e keep
    their place."""
    here = Path(__file__).parent
    places = [i for i, item in enumerate(items) if item.path.is_relative_to(here)]
    by_file: dict[Path, list[pytest.Item]] = {}
    for i in places:
        by_file.setdefault(items[i].path, []).append(items[i])

    def first(path: Path) -> tuple[bool, int]:
        tests = by_file[path]
        return not any(item.get_closest_marker("slow") for item in tests), -len(tests)

    ordered = [item for path in sorted(by_file, key=first) for item in by_file[path]]
    for i, item in zip(places, ordered, strict=True):
        items[i] = item


@pytest.fixture(scope="session")
def clock() -> ShiftableClock:
    return ShiftableClock()


@pytest.fixture(scope="session")
def stack(clock: ShiftableClock) -> Iterator[LocalStack]:
    with LocalStack(api_port=0, aws_port=0, time_scale=0.01, clock=clock,
                    # Many tests create generations as the same few users within minutes; the
                    # generation quota has its own tests (unit, and track uploads end to end).
                    env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", "GENERATION_QUOTA": "1000",
                                   # Listen's length limit, low enough to test with 95 s of sound
                                   "TRANSCRIPTION_MAX_SECONDS": "90"}) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_clock(clock: ShiftableClock) -> Iterator[None]:
    yield
    clock.offset = 0.0


class Client:
    """A caller of the local API acting as one user."""

    def __init__(self, stack: LocalStack, user: str) -> None:
        self.stack, self.user = stack, user
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.token(user)}"

    def url(self, path: str) -> str:
        return f"{self.stack.api_url}{path}"

    def create(self, **body: Any) -> dict[str, Any]:
        response = self.session.post(self.url("/generations"), json=body, timeout=30)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def upload(self, job: dict[str, Any], data: bytes, *, filename: str = "picture.jpg",
               content_type: str | None = None, fields: dict[str, str] | None = None) -> requests.Response:
        form = job["upload"]
        ctype = content_type or form["fields"]["Content-Type"]
        return requests.post(form["url"], data=fields or form["fields"], files={"file": (filename, data, ctype)},
                             timeout=60)

    def get(self, job_id: str) -> requests.Response:
        return self.session.get(self.url(f"/generations/{job_id}"), timeout=30)

    def wait(self, job_id: str, timeout: float = 180.0,
             seen: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get(job_id).json()
            if seen:
                seen(state)
            if state["status"] in ("COMPLETE", "FAILED"):
                return dict(state)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s: {state}")


@pytest.fixture
def alice(stack: LocalStack) -> Client:
    return Client(stack, "alice")


@pytest.fixture
def mallory(stack: LocalStack) -> Client:
    return Client(stack, "mallory")


def job_objects(stack: LocalStack, user: str, job_id: str) -> list[str]:
    s3 = stack.client("s3")
    bucket = stack.template.names["MediaBucket"]
    keys = []
    for prefix in ("images", "analysis", "midi", "audio"):
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{user}/{job_id}/")
        keys += [o["Key"] for o in listing.get("Contents", [])]
    return sorted(keys)


def machine_executions(stack: LocalStack, machine: str) -> list[dict[str, Any]]:
    """Every execution of one of the template's state machines (Step Functions' ListExecutions)."""
    arn = stack.template.state_machines[machine]["arn"]
    pages = stack.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=arn)
    return [execution for page in pages for execution in page["executions"]]


def state_attempts(stack: LocalStack, execution_arn: str, state: str) -> int:
    """How many times an execution ran a Task state's function (its history, read once the execution has
    ended): each try, the first and every retry, is one LambdaFunctionStarted event inside the state."""
    current, count = None, 0
    for event in stack.history(execution_arn):
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in ("LambdaFunctionStarted", "TaskStarted") and current == state:
            count += 1
    return count
