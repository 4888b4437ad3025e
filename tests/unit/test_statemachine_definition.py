"""The workflow definition's contract, read from statemachine/ and template.yaml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local_stack.template import LocalTemplate
from soundcanvas import errors

ROOT = Path(__file__).resolve().parents[2]
DEFINITION_TEXT = (ROOT / "statemachine/generation.asl.json").read_text()
DEFINITION = json.loads(DEFINITION_TEXT)
STATES = DEFINITION["States"]
TASKS = {name: s for name, s in STATES.items() if s["Type"] == "Task"}
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
OUR_ERRORS = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}


def _targets(state: dict) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    return found


def test_every_transition_names_an_existing_state() -> None:
    assert DEFINITION["StartAt"] in STATES
    for name, state in STATES.items():
        for target in _targets(state):
            assert target in STATES, f"{name} -> {target} does not exist"


def test_every_state_is_reachable() -> None:
    seen, todo = set(), [DEFINITION["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_targets(STATES[name]))
    assert seen == set(STATES)


def test_every_substitution_is_provided_by_the_template(sam_template: LocalTemplate) -> None:
    variables = set(re.findall(r"\$\{(\w+)\}", DEFINITION_TEXT))
    machine = sam_template.raw["Resources"]["GenerationStateMachine"]["Properties"]
    assert variables == set(machine["DefinitionSubstitutions"])
    # ...and each names a function of the template.
    resolved = sam_template.state_machines["GenerationStateMachine"]["definition"]
    arns = {fn.arn for fn in sam_template.functions.values()}
    for state in resolved["States"].values():
        if state["Type"] == "Task":
            assert state["Resource"] in arns


def test_every_error_name_is_a_real_error() -> None:
    for name, state in STATES.items():
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for error in clause["ErrorEquals"]:
                assert error in OUR_ERRORS or error in LAMBDA_ERRORS or error.startswith("States."), (name, error)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_has_a_timeout_and_retries(name: str) -> None:
    task = TASKS[name]
    assert 0 < task["TimeoutSeconds"] <= 900
    assert task["Retry"], f"{name} has no Retry"


@pytest.mark.parametrize("name", sorted(set(TASKS) - {"MarkFailed"}))
def test_work_tasks_retry_transient_errors_only_and_catch_into_mark_failed(name: str) -> None:
    task = TASKS[name]
    for retry in task["Retry"]:
        assert "States.ALL" not in retry["ErrorEquals"]
        assert set(retry["ErrorEquals"]) <= LAMBDA_ERRORS | {"TransientError"}
    (catch,) = task["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}


def test_failures_end_failed_after_marking_the_job() -> None:
    assert STATES["MarkFailed"]["Next"] == "Failed"
    assert STATES["Failed"]["Type"] == "Fail"


def test_the_execution_has_an_overall_timeout_longer_than_its_tasks() -> None:
    longest_path = sum(TASKS[n]["TimeoutSeconds"] for n in ("StartJob", "Analyze", "Compose", "Render", "MarkFailed"))
    assert DEFINITION["TimeoutSeconds"] >= longest_path


def test_template_functions_timeouts_fit_the_task_timeouts(sam_template: LocalTemplate) -> None:
    by_state = {"Analyze": "AnalyzeFunction", "Compose": "ComposeFunction", "Render": "RenderFunction"}
    for state, function in by_state.items():
        assert sam_template.functions[function].timeout <= TASKS[state]["TimeoutSeconds"]
