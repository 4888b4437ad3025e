"""The local stack's rule target (local_stack/starter.py): executions started by events queue before
they start, at most `limit` running at once, in the order the events came."""

from __future__ import annotations

import threading
import time

from local_stack.starter import ExecutionStarter

MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:Generation"


class FakeStepFunctions:
    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.order: list[str] = []
        self.most_running = 0
        self.lock = threading.Lock()

    def start(self, machine_arn: str, input_text: str, name: str) -> str:
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        with self.lock:
            self.status[arn] = "RUNNING"
            self.order.append(input_text)
            self.most_running = max(self.most_running, list(self.status.values()).count("RUNNING"))
        return arn

    def finish_all(self) -> None:
        with self.lock:
            self.status = {arn: "SUCCEEDED" for arn in self.status}


def test_events_queue_before_they_start_and_at_most_limit_run_at_once() -> None:
    sfn = FakeStepFunctions()
    starter = ExecutionStarter(lambda m, i, n: sfn.start(m, i, n), lambda arn: sfn.status[arn], limit=2,
                               max_run_seconds=60)
    try:
        arns = [starter.submit(MACHINE, f"e{i}", f"input-{i}") for i in range(5)]
        assert arns[0] == "arn:aws:states:us-east-1:000000000000:execution:Generation:e0"
        time.sleep(0.5)
        assert sfn.order == ["input-0", "input-1"] and len(starter.queued()) == 3
        deadline = time.monotonic() + 10
        while starter.queued() and time.monotonic() < deadline:
            sfn.finish_all()
            time.sleep(0.05)
        assert all(starter.wait_started(arn, timeout=5) for arn in arns)
        assert sfn.order == [f"input-{i}" for i in range(5)] and sfn.most_running == 2
    finally:
        starter.stop()
