"""Each workflow definition's contract, read from statemachine/ and template.yaml."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_stack.template import LocalTemplate
from soundcanvas.core import errors

ROOT = Path(__file__).resolve().parents[3]
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
OUR_ERRORS = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
# Each state machine of the template, and the task every failure must end in.
MACHINES = {"GenerationStateMachine": "MarkFailed", "TrackStateMachine": "TrackFailed",
            "ListenStateMachine": "TranscriptionFailed", "SongStateMachine": "SongFailed",
            "BlendStateMachine": "BlendFailed", "MapStateMachine": "MapFailed",
            "SongAudioStateMachine": "SongAudioFailed"}


class _UntaggedLoader(yaml.SafeLoader):
    """CloudFormation's short tags (!Sub, !Ref, ...) read as the plain values they tag: irrelevant here."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_UntaggedLoader.add_multi_constructor("!", _untagged)


@functools.cache
def _raw_template() -> dict[str, Any]:
    """template.yaml read once (PyYAML takes half a second over it; every parametrized test asks)."""
    return dict(yaml.load((ROOT / "template.yaml").read_text(), Loader=_UntaggedLoader))  # noqa: S506 (a SafeLoader)


def _definition_uri(machine: str) -> Path:
    return ROOT / _raw_template()["Resources"][machine]["Properties"]["DefinitionUri"]


def _load(machine: str) -> tuple[str, dict[str, Any]]:
    text = _definition_uri(machine).read_text()
    return text, json.loads(text)


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}


def _targets(state: dict) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    return found


# Tasks whose failure has its own handler: a song's preview failing marks the preview FAILED (PreviewFailed)
# and leaves the song READY, so those tasks catch into PreviewFailed instead of SongFailed. A track whose
# fingerprint fails still becomes READY: FingerprintTrack's Catch keeps the error and goes on to FinishTrack.
OWN_FAILURE = {("SongStateMachine", "PlanPreview"): "PreviewFailed", ("SongStateMachine", "RenderPreview"): "PreviewFailed",
               ("SongStateMachine", "RecordPreview"): "PreviewFailed"}
CARRY_ON = {("TrackStateMachine", "FingerprintTrack"): {"ErrorEquals": ["States.ALL"],
                                                        "ResultPath": "$.track.fingerprintError", "Next": "FinishTrack"}}
FAILURE_TASKS = {*MACHINES.values(), "PreviewFailed"}
WORK_TASKS = [
    (machine, task) for machine in MACHINES for task in sorted(_tasks(_load(machine)[1])) if task not in FAILURE_TASKS
]


def test_every_state_machine_of_the_template_is_checked(sam_template: LocalTemplate) -> None:
    assert set(sam_template.state_machines) == set(MACHINES)


@pytest.mark.parametrize("machine", MACHINES)
def test_every_transition_names_an_existing_state(machine: str) -> None:
    _, definition = _load(machine)
    states = definition["States"]
    assert definition["StartAt"] in states
    for name, state in states.items():
        for target in _targets(state):
            assert target in states, f"{name} -> {target} does not exist"


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_is_reachable(machine: str) -> None:
    _, definition = _load(machine)
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_targets(definition["States"][name]))
    assert seen == set(definition["States"])


@pytest.mark.parametrize("machine", MACHINES)
def test_every_substitution_is_provided_by_the_template(machine: str, sam_template: LocalTemplate) -> None:
    text, _ = _load(machine)
    variables = set(re.findall(r"\$\{(\w+)\}", text))
    props = sam_template.raw["Resources"][machine]["Properties"]
    assert variables == set(props["DefinitionSubstitutions"])
    # ...and each task names a function of the template.
    resolved = sam_template.state_machines[machine]["definition"]
    arns = {fn.arn for fn in sam_template.functions.values()}
    for state in resolved["States"].values():
        if state["Type"] == "Task":
            assert state["Resource"] in arns


@pytest.mark.parametrize("machine", MACHINES)
def test_every_error_name_is_a_real_error(machine: str) -> None:
    _, definition = _load(machine)
    for name, state in definition["States"].items():
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for error in clause["ErrorEquals"]:
                assert error in OUR_ERRORS or error in LAMBDA_ERRORS or error.startswith("States."), (name, error)


@pytest.mark.parametrize("machine", MACHINES)
def test_every_task_has_a_timeout_and_retries(machine: str) -> None:
    for name, task in _tasks(_load(machine)[1]).items():
        assert 0 < task["TimeoutSeconds"] <= 900, name
        assert task["Retry"], f"{name} has no Retry"


@pytest.mark.parametrize(("machine", "name"), WORK_TASKS)
def test_work_tasks_retry_transient_errors_only_and_catch_into_the_failure_task(machine: str, name: str) -> None:
    task = _tasks(_load(machine)[1])[name]
    for retry in task["Retry"]:
        assert "States.ALL" not in retry["ErrorEquals"]
        assert set(retry["ErrorEquals"]) <= LAMBDA_ERRORS | {"TransientError"}
    (catch,) = task["Catch"]
    failure = OWN_FAILURE.get((machine, name), MACHINES[machine])
    assert catch == CARRY_ON.get((machine, name), {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failure})


@pytest.mark.parametrize("machine", MACHINES)
def test_failures_end_failed_after_marking(machine: str) -> None:
    states = _load(machine)[1]["States"]
    assert states[MACHINES[machine]]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


@pytest.mark.parametrize("machine", MACHINES)
def test_the_execution_has_an_overall_timeout_longer_than_its_tasks(machine: str) -> None:
    _, definition = _load(machine)
    assert definition["TimeoutSeconds"] >= sum(t["TimeoutSeconds"] for t in _tasks(definition).values())


@pytest.mark.parametrize("machine", MACHINES)
def test_template_functions_timeouts_fit_the_task_timeouts(machine: str, sam_template: LocalTemplate) -> None:
    by_arn = {fn.arn: fn for fn in sam_template.functions.values()}
    for name, task in _tasks(sam_template.state_machines[machine]["definition"]).items():
        assert by_arn[task["Resource"]].timeout <= task["TimeoutSeconds"], name
