"""Step Functions for the local stack, run by moto's ASL engine.

moto bundles LocalStack's complete Amazon States Language interpreter (`moto.stepfunctions.parser`);
with moto's config ``stepfunctions: {execute_state_machine: True}`` its Step Functions backend runs
every execution with it, each in its own threads. A Task state calling a Lambda function sends a
real Lambda ``Invoke`` to ``http://localhost:$MOTO_PORT``: the local gateway, which runs the
template's handler in this process (`local_stack.lambda_invoke`). History, status and errors are
moto's, read through the Step Functions API (``DescribeExecution``, ``GetExecutionHistory``).

This module is the one place the local stack adapts that engine, and says why:

* `EngineSwitch` turns the engine on for the stack's lifetime and back off at stop: moto's config,
  ``MOTO_PORT``, and two patches. (1) moto 5.2.1's ``StartExecution`` deep-copies the state
  machine, running executions (threads, locks) included, and fails with "cannot pickle
  '_thread.RLock'" once one execution exists; an execution is a live object, so a copy shares it.
  (2) Retry intervals and Wait seconds are real seconds in the engine; ``time_scale`` multiplies
  the sleep the engine computes (backoff and jitter included) so tests run fast, while the
  definition, its TimeoutSeconds and what it means stay untouched. The patches are process-wide:
  one local stack per process at a time, as the shared environment variables already require.
* `check_definition` refuses, when the stack starts, a definition whose tasks the stack cannot
  run: only Lambda functions of the template (by ARN, or through ``arn:aws:states:::lambda:invoke``)
  exist locally, and nothing can call back a ``.waitForTaskToken`` task or poll a ``.sync`` job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
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

    def __init__(self, port: int, time_scale: float) -> None:
        if not isinstance(time_scale, int | float) or time_scale < 0:
            raise ValueError(f"time_scale must be a number >= 0, not {time_scale!r}")
        self.port, self.time_scale = port, float(time_scale)
        self._undo: list[Callable[[], None]] = []

    def on(self) -> None:
        config: dict[str, Any] = default_user_config.setdefault("stepfunctions", {})  # type: ignore[assignment]
        previous_config = dict(config)
        self._undo.append(lambda: _restore(config, previous_config))
        config["execute_state_machine"] = True  # moto's get_backend() reads it on every Step Functions request
        previous_port = os.environ.get("MOTO_PORT")
        self._undo.append(lambda: _restore_env("MOTO_PORT", previous_port))
        os.environ["MOTO_PORT"] = str(self.port)  # where the engine sends Lambda Invoke
        self._patch(Execution, "__deepcopy__", _share_execution)
        self._patch(retrier_decl, "time", ScaledSleep(self.time_scale))
        self._patch(WaitFunction, "_wait_interval", scaled_wait(self.time_scale))

    def off(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        missing = object()
        previous = owner.__dict__.get(name, missing) if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: delattr(owner, name) if previous is missing else setattr(owner, name, previous))


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
