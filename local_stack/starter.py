"""The EventBridge rule target of the local stack: StartExecution for each matching event, with a
local limit on how many of those executions run at once.

In AWS every execution starts at once and Lambda scales out, so a Task's TimeoutSeconds measures
its function's own run. Locally each function is one warm environment that handles one event at a
time (`local_stack.functions`): 200 executions started together would queue inside their Task
states, and the queueing would count against the tasks' timeouts (Analyze's 60 s, for one). So the
queue sits before the execution starts: at most `limit` executions started by events run at once,
the others wait their turn here, as the hand-written runner's worker pool made them wait. The
product's own StartExecution calls go straight to Step Functions.

An execution's ARN is known before it starts (Step Functions names it after the machine and the
execution name), so `submit` returns it at once; `started` says whether it has started yet.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("local_stack.starter")
POLL_SECONDS = 0.1  # how often a full set of running executions is checked for one that ended


@dataclass
class _Pending:
    machine_arn: str
    name: str
    input_text: str
    arn: str
    started: threading.Event = field(default_factory=threading.Event)


class ExecutionStarter:
    """Starts queued executions in order, at most `limit` running at once; `stop` ends the dispatcher.

    `start(machine_arn, input_text, name)` is StartExecution; `status(arn)` is DescribeExecution's status.
    """

    def __init__(self, start: Callable[[str, str, str], str], status: Callable[[str], str], *, limit: int,
                 max_run_seconds: float) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._start, self._status = start, status
        self.limit, self.max_run_seconds = limit, max_run_seconds
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._running: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._dispatch, name="execution-starter", daemon=True)
        self._thread.start()

    def submit(self, machine_arn: str, name: str, input_text: str) -> str:
        """Queue an execution; its ARN."""
        arn = machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        pending = _Pending(machine_arn, name, input_text, arn)
        with self._lock:
            self._pending[arn] = pending
        self._queue.put(pending)
        return arn

    def queued(self) -> list[str]:
        """The ARNs of submitted executions that have not started yet."""
        with self._lock:
            return [arn for arn, p in self._pending.items() if not p.started.is_set()]

    def wait_started(self, arn: str, timeout: float) -> bool:
        """Block until a submitted execution has started (True at once for any other ARN)."""
        with self._lock:
            pending = self._pending.get(arn)
        return pending is None or pending.started.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            pending = self._queue.get()
            if pending is None:
                return
            self._wait_for_a_slot()
            if self._stopping.is_set():
                return
            try:
                self._start(pending.machine_arn, pending.input_text, pending.name)
                self._running.append(pending.arn)
            except Exception:
                log.exception("could not start execution %s", pending.arn)
            finally:
                pending.started.set()
                with self._lock:
                    self._pending.pop(pending.arn, None)

    def _wait_for_a_slot(self) -> None:
        """Poll only while `limit` executions are running; none runs past its machine's timeout."""
        deadline = time.monotonic() + self.max_run_seconds
        while True:
            self._running = [arn for arn in self._running if self._status(arn) == "RUNNING"]
            if len(self._running) < self.limit:
                return
            if time.monotonic() >= deadline or self._stopping.wait(POLL_SECONDS):
                log.warning("starting past the limit of %d running executions", self.limit)
                return
