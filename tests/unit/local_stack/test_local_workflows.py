"""The local stack's adaptations of moto's ASL engine (local_stack/workflows.py): what it refuses at
start, and how time_scale shortens the engine's sleeps without touching the definition."""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from typing import Any

import pytest
from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution import Execution

from local_stack import workflows
from local_stack.workflows import LAMBDA_INVOKE, EngineSwitch, UnsupportedDefinition, check_definition

CREDENTIALS = ("LOCALKEY", "local-secret")
FN = "arn:aws:lambda:us-east-1:000000000000:function:Render"
FUNCTIONS = {FN}


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states)}


def task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


def test_template_functions_by_arn_or_through_lambda_invoke_are_runnable() -> None:
    check_definition("m", machine(("A", task(FN))), FUNCTIONS)
    check_definition("m", machine(("A", task(LAMBDA_INVOKE, Parameters={"FunctionName": FN, "Payload.$": "$"}))),
                     FUNCTIONS)
    check_definition("m", machine(("A", task(LAMBDA_INVOKE, Parameters={"FunctionName": "Render"}))), FUNCTIONS)


@pytest.mark.parametrize(("state", "message"), [
    (task(f"{LAMBDA_INVOKE}.waitForTaskToken", Parameters={"FunctionName": FN}), "m.A: the .waitForTaskToken"),
    (task("arn:aws:states:::ecs:runTask.sync"), "m.A: the .sync integration"),
    (task("arn:aws:states:::sqs:sendMessage"), "m.A: Task resource 'arn:aws:states:::sqs:sendMessage'"),
    (task("arn:aws:states:us-east-1:000000000000:activity:a"), "m.A: Task resource"),
    (task("arn:aws:lambda:us-east-1:000000000000:function:Other"), "m.A: Lambda function"),
    (task(LAMBDA_INVOKE, Parameters={"FunctionName.$": "$.fn"}), "m.A: arn:aws:states:::lambda:invoke needs a literal"),
])
def test_tasks_the_stack_cannot_run_are_refused_naming_state_and_feature(state: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedDefinition, match=message.replace(".", r"\.").replace("$", r"\$")):
        check_definition("m", machine(("A", state)), FUNCTIONS)


def test_nested_map_and_parallel_states_are_checked() -> None:
    inner = machine(("Bad", task("arn:aws:states:::sns:publish")))
    mapped = {"Type": "Map", "ItemProcessor": inner, "End": True}
    parallel = {"Type": "Parallel", "Branches": [machine(("Ok", task(FN))), inner], "End": True}

    with pytest.raises(UnsupportedDefinition, match=r"m\.Each\.ItemProcessor\.Bad"):
        check_definition("m", machine(("Each", mapped)), FUNCTIONS)
    with pytest.raises(UnsupportedDefinition, match=r"m\.Both\.Branches\[1\]\.Bad"):
        check_definition("m", machine(("Both", parallel)), FUNCTIONS)


def test_a_distributed_map_reading_s3_is_refused() -> None:
    mapped = {"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
              "ItemProcessor": machine(("Ok", task(FN))), "End": True}

    with pytest.raises(UnsupportedDefinition, match=r"m\.Each: ItemReader"):
        check_definition("m", machine(("Each", mapped)), FUNCTIONS)


def engine_log_level() -> int:
    return logging.getLogger(workflows.ENGINE_ERROR_LOGGER).level


def test_the_switch_turns_the_engine_on_and_restores_everything() -> None:
    before = (copy.deepcopy(default_user_config["stepfunctions"]), os.environ.get("MOTO_PORT"), retrier_decl.time,
              WaitFunction.__dict__["_wait_interval"], "__deepcopy__" in Execution.__dict__, engine_log_level(),
              lambda_eval_utils.boto_client_for)
    switch = EngineSwitch("http://127.0.0.1:4566", 0.01, CREDENTIALS)
    switch.on()
    try:
        assert default_user_config["stepfunctions"]["execute_state_machine"] is True
        assert os.environ["MOTO_PORT"] == "4566"
        assert engine_log_level() == logging.CRITICAL
        client = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
        assert lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda") is client  # reused
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    finally:
        switch.off()

    after = (default_user_config["stepfunctions"], os.environ.get("MOTO_PORT"), retrier_decl.time,
             WaitFunction.__dict__["_wait_interval"], "__deepcopy__" in Execution.__dict__, engine_log_level(),
             lambda_eval_utils.boto_client_for)
    assert after == before


def test_retry_sleeps_are_scaled() -> None:
    sleeper = workflows.ScaledSleep(0.01)
    started = time.monotonic()
    sleeper.sleep(10)  # a 10 s backoff
    assert time.monotonic() - started < 1


class _Env:
    def __init__(self) -> None:
        self.program_state_event = threading.Event()
        self.running = True

    def is_running(self) -> bool:
        return self.running


def test_a_wait_state_waits_scale_times_its_seconds() -> None:
    wait = workflows.scaled_wait(0.01)
    started = time.monotonic()
    wait(None, _Env(), 20)  # type: ignore[arg-type]
    assert 0.15 < time.monotonic() - started < 1.5


def test_a_scaled_wait_ends_when_the_execution_stops() -> None:
    env = _Env()
    wait = workflows.scaled_wait(1.0)

    def stop() -> None:
        env.running = False
        env.program_state_event.set()  # the engine pulses the event when the execution stops

    threading.Timer(0.1, stop).start()
    started = time.monotonic()
    wait(None, env, 30)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5


def test_time_scale_must_be_a_non_negative_number() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        EngineSwitch("http://127.0.0.1:4566", -1, CREDENTIALS)
