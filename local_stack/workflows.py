"""Step Functions for the local stack, run by moto's ASL engine.

moto bundles LocalStack's complete Amazon States Language interpreter (`moto.stepfunctions.parser`);
with moto's config ``stepfunctions: {execute_state_machine: True}`` its Step Functions backend runs
every execution with it, each in its own threads. A Task state calling a Lambda function sends a
real Lambda ``Invoke`` to the local endpoint: the gateway, which runs the template's handler in
this process (`local_stack.lambda_invoke`). History, status and errors are
moto's, read through the Step Functions API (``DescribeExecution``, ``GetExecutionHistory``).

This module is the one place the local stack adapts that engine, and says why:

* `EngineSwitch` turns the engine on for the stack's lifetime and back off at stop: moto's config,
  ``MOTO_PORT``, and these patches. (1) moto 5.2.1's ``StartExecution`` deep-copies the state
  machine, running executions (threads, locks) included, and fails with "cannot pickle
  '_thread.RLock'" once one execution exists; an execution is a live object, so a copy shares it.
  (2) Retry intervals and Wait seconds are real seconds in the engine; ``time_scale`` multiplies
  the sleep the engine computes (backoff and jitter included) so tests run fast, while the
  definition, its TimeoutSeconds and what it means stay untouched. The engine's per-error ERROR
  logs (the state's parse tree, once per nesting level) are silenced; histories keep the errors.
  The patches are process-wide: one local stack per process at a time, as the shared environment
  variables already require.
* The engine creates a boto3 client (and a TCP connection) for every Lambda call, from boto3's
  default session, in execution threads: about 30 ms of CPU per Task on a busy 2-core machine,
  and a default session is not safe to build clients from in several threads at once. The switch
  gives it `LambdaClients`: one client per region from a session of its own, built once under a
  lock, with moto's settings (no retries: ASL Retry decides) and a pool for concurrent calls.
* `check_definition` refuses, when the stack starts, a definition whose tasks the stack cannot
  run: only Lambda functions of the template (by ARN, or through ``arn:aws:states:::lambda:invoke``)
  exist locally, and nothing can call back a ``.waitForTaskToken`` task or poll a ``.sync`` job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
# The engine logs every task error at ERROR, again at each level it passes through, each time with
# the state's whole parse tree: pages per retried or caught error. The execution history has the facts.
ENGINE_ERROR_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"
LAMBDA_POOL_CONNECTIONS = 64  # Task calls in flight at once that keep their connection for the next call
_FUNCTION_ARN_PREFIX = "arn:aws:lambda:"


class UnsupportedDefinition(ValueError):
    """A state machine definition uses something the local stack cannot run (the message names the state)."""


# ---------------------------------------------------------------------------------------------- start-time checks


def check_definition(machine: str, definition: dict[str, Any], functions: Collection[str]) -> None:
    """Raise `UnsupportedDefinition` naming the state and the feature if a Task needs something not here.

    ``functions`` are the ARNs of the template's Lambda functions. Nested Map and Parallel states are
    checked too. The engine itself rejects definitions that are not valid ASL when they are created.
    """
    for where, state in _states(machine, definition):
        if state.get("Type") == "Task":
            _check_task(where, state, functions)
        for key in ("ItemReader", "ResultWriter"):
            if key in state:
                raise UnsupportedDefinition(f"{where}: {key} (a distributed Map reading or writing S3 through "
                                            "Step Functions) is not supported by the local stack")


def _states(where: str, definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, nested ones included, with a readable location."""
    for name, state in (definition.get("States") or {}).items():
        here = f"{where}.{name}"
        yield here, state
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _states(f"{here}.{key}", state[key])
        for index, branch in enumerate(state.get("Branches") or []):
            yield from _states(f"{here}.Branches[{index}]", branch)


def _check_task(where: str, state: dict[str, Any], functions: Collection[str]) -> None:
    resource = str(state.get("Resource", ""))
    for suffix in (".waitForTaskToken", ".sync:2", ".sync"):
        if resource.endswith(suffix):
            raise UnsupportedDefinition(f"{where}: the {suffix} integration ({resource}) is not supported by the "
                                        "local stack")
    if resource.startswith(_FUNCTION_ARN_PREFIX):
        function = resource
    elif resource == LAMBDA_INVOKE:
        function = _invoked_function(where, state)
    else:
        raise UnsupportedDefinition(f"{where}: Task resource {resource!r} is not supported by the local stack (only "
                                    f"the template's Lambda functions, by ARN or through {LAMBDA_INVOKE})")
    if function not in functions and function.rsplit(":", 1)[-1] not in _names(functions):
        raise UnsupportedDefinition(f"{where}: Lambda function {function!r} is not in the template")


def _invoked_function(where: str, state: dict[str, Any]) -> str:
    arguments = state.get("Parameters") or state.get("Arguments") or {}
    function = arguments.get("FunctionName") if isinstance(arguments, dict) else None
    if not isinstance(function, str) or function.startswith("{%"):
        raise UnsupportedDefinition(f"{where}: {LAMBDA_INVOKE} needs a literal FunctionName locally (a function "
                                    "chosen at run time cannot be checked at start)")
    return function


def _names(arns: Collection[str]) -> set[str]:
    return {arn.rsplit(":", 1)[-1] for arn in arns}


# ---------------------------------------------------------------------------------------------- the engine switch


class EngineSwitch:
    """Turn moto's ASL engine on (`on`), pointed at the local endpoint, and restore everything (`off`)."""

    def __init__(self, endpoint: str, time_scale: float, credentials: tuple[str, str]) -> None:
        if not isinstance(time_scale, int | float) or time_scale < 0:
            raise ValueError(f"time_scale must be a number >= 0, not {time_scale!r}")
        self.endpoint, self.time_scale, self.credentials = endpoint, float(time_scale), credentials
        self.port = int(urlsplit(endpoint).port or 80)
        self._undo: list[Callable[[], None]] = []

    def on(self) -> None:
        config: dict[str, Any] = default_user_config.setdefault("stepfunctions", {})  # type: ignore[assignment]
        previous_config = dict(config)
        self._undo.append(lambda: _restore(config, previous_config))
        config["execute_state_machine"] = True  # moto's get_backend() reads it on every Step Functions request
        previous_port = os.environ.get("MOTO_PORT")
        self._undo.append(lambda: _restore_env("MOTO_PORT", previous_port))
        os.environ["MOTO_PORT"] = str(self.port)  # where the engine's own clients go (LambdaClients replaces Lambda's)
        self._patch(Execution, "__deepcopy__", _share_execution)
        self._patch(lambda_eval_utils, "boto_client_for", LambdaClients(self.endpoint, self.credentials))
        self._patch(retrier_decl, "time", ScaledSleep(self.time_scale))
        self._patch(WaitFunction, "_wait_interval", scaled_wait(self.time_scale))
        self._quiet(ENGINE_ERROR_LOGGER)

    def off(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _quiet(self, name: str) -> None:
        logger = logging.getLogger(name)
        previous = logger.level
        logger.setLevel(logging.CRITICAL)
        self._undo.append(lambda: logger.setLevel(previous))

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        missing = object()
        previous = owner.__dict__.get(name, missing) if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: delattr(owner, name) if previous is missing else setattr(owner, name, previous))


class LambdaClients:
    """Stands in for the engine's client factory in its Lambda Task code: one Lambda client per region, reused."""

    def __init__(self, endpoint: str, credentials: tuple[str, str]) -> None:
        self.endpoint = endpoint
        # Not the default session the handlers share; the local stack's credentials, as its other clients.
        self._session = boto3.session.Session(aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1])
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        if service != "lambda":
            raise UnsupportedDefinition(f"the local stack's Tasks call Lambda only, not {service}")
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = self._session.client(
                    "lambda", region_name=region, endpoint_url=self.endpoint,
                    config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                                  connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                                  read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                                  max_pool_connections=LAMBDA_POOL_CONNECTIONS),
                )
            return client


def _share_execution(self: Execution, memo: dict[int, Any]) -> Execution:
    """A running execution is a live object (threads, locks): a copy of its state machine shares it."""
    return self


class ScaledSleep:
    """Stands in for the `time` module where the engine sleeps between retries: sleeps `scale` x the interval."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)


def scaled_wait(scale: float) -> Callable[[WaitFunction, Any, float], None]:
    """A Wait state's wait, `scale` x its seconds; it still ends early when the execution stops."""

    def wait(self: WaitFunction, env: Any, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds * scale
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            env.program_state_event.wait(remaining)

    return wait


def _restore(config: dict[str, Any], previous: dict[str, Any]) -> None:
    config.clear()
    config.update(previous)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
