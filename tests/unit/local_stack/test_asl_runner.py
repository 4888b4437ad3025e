"""The local States Language runner: path processing, errors, retries, choices, parallel and validation."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from local_stack.asl import LAMBDA_INVOKE, Context, Execution, StateMachine, UnsupportedDefinition

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
HELLO = FN + "HelloFunction"
REPO = Path(__file__).resolve().parents[3]


class TransientError(Exception):
    """A retryable failure raised by a handler."""


def machine(states: dict[str, Any], resources: dict[str, Any] | None = None, *, start: str | None = None,
            time_scale: float = 0.0, **top: Any) -> StateMachine:
    definition = {"StartAt": start or next(iter(states)), "States": states, **top}
    return StateMachine(definition, resources or {}, time_scale=time_scale)


def task(resource: str = HELLO, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields} if "Next" not in fields \
        else {"Type": "Task", "Resource": resource, **fields}


def events(execution: Execution, kind: str) -> list[dict[str, Any]]:
    return [event for event in execution.history if event["type"] == kind]


def recorder(seen: list[Any], result: Any = "done") -> Any:
    """A handler that records its payloads."""

    def handler(payload: Any, context: Context) -> Any:
        seen.append(payload)
        return result

    return handler


def cause_of(execution: Execution) -> str:
    assert execution.cause is not None
    return execution.cause


def hello(payload: Any, context: Context) -> str:
    return "Hello, AWS Step Functions!"


class Flaky:
    """Fails with the given exceptions in turn, then returns its payload."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[Any, int]] = []
        self.lock = threading.Lock()

    def __call__(self, payload: Any, context: Context) -> Any:
        with self.lock:
            self.calls.append((payload, context.retry_count))
            if self.failures:
                raise self.failures.pop(0)
        return {"ok": True}


def named(name: str) -> Exception:
    """An exception whose Step Functions error name is `name`."""
    exc = Exception(f"{name} happened")
    exc.error_name = name  # type: ignore[attr-defined]
    return exc


# --- input and output processing (examples from the Step Functions developer guide) -----------------


def test_input_path_selects_part_of_the_input() -> None:
    seen: list[Any] = []
    sm = machine({"S": task(InputPath="$.dataset2")}, {HELLO: recorder(seen)})
    doc_input = {"comment": "Example for InputPath.", "dataset1": {"val1": 1, "val2": 2, "val3": 3},
                 "dataset2": {"val1": "a", "val2": "b", "val3": "c"}}
    assert sm.execute(doc_input).status == "SUCCEEDED"
    assert seen == [{"val1": "a", "val2": "b", "val3": "c"}]


def test_parameters_mix_static_values_and_paths() -> None:
    params = {"comment": "Selecting what I care about.",
              "MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability",
                            "StaticValue": "foo"}}
    sm = machine({"S": {"Type": "Pass", "Parameters": params, "End": True}})
    doc_input = {"comment": "Example for Parameters.",
                 "product": {"details": {"color": "blue", "size": "small", "material": "cotton"},
                             "availability": "in stock", "sku": "2317", "cost": "$23"}}
    assert sm.execute(doc_input).output == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_result_selector_then_result_path() -> None:
    emr_result = {"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
                  "output": {"SdkHttpMetadata": {"HttpStatusCode": 200},
                             "SdkResponseMetadata": {"RequestId": "1234-5678-9012"},
                             "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}
    sm = machine({"Create Cluster": task(
        "emr", ResultSelector={"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        ResultPath="$.EMROutput")}, {"emr": lambda p, c: emr_result})
    assert sm.execute({"OtherDataFromInput": {}}).output == {
        "OtherDataFromInput": {},
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


DOC_INPUT = {"comment": "This is a test of the input and output of a Task state.", "details": "Default example",
             "who": "AWS Step Functions"}


@pytest.mark.parametrize(("result_path", "state_input", "expected"), [
    (None, DOC_INPUT, "Hello, AWS Step Functions!"),  # field absent: same as "$"
    ("$", DOC_INPUT, "Hello, AWS Step Functions!"),
    ("$.taskresult", DOC_INPUT, {**DOC_INPUT, "taskresult": "Hello, AWS Step Functions!"}),
    ("$.strings.lambdaresult",
     {"comment": "An input comment.", "strings": {"string1": "foo", "string2": "bar", "string3": "baz"},
      "who": "AWS Step Functions"},
     {"comment": "An input comment.",
      "strings": {"string1": "foo", "string2": "bar", "string3": "baz", "lambdaresult": "Hello, AWS Step Functions!"},
      "who": "AWS Step Functions"}),
    ("$.comment", DOC_INPUT, {**DOC_INPUT, "comment": "Hello, AWS Step Functions!"}),
    ("$.a.b['c d']", {"x": 1}, {"x": 1, "a": {"b": {"c d": "Hello, AWS Step Functions!"}}}),
    ("$.items[1]", {"items": [0, 0]}, {"items": [0, "Hello, AWS Step Functions!"]}),
])
def test_result_path_places_the_result(result_path: str | None, state_input: Any, expected: Any) -> None:
    fields = {} if result_path is None else {"ResultPath": result_path}
    sm = machine({"S": task(**fields)}, {HELLO: hello})
    execution = sm.execute(state_input)
    assert execution.output == expected
    assert execution.input == state_input  # the input was copied, not changed in place


def test_result_path_null_discards_the_result() -> None:
    sm = machine({"S": task(ResultPath=None)}, {HELLO: hello})
    assert sm.execute({"keep": 1}).output == {"keep": 1}


def test_result_path_that_cannot_apply_is_result_path_match_failure() -> None:
    sm = machine({"S": task(ResultPath="$.x")}, {HELLO: hello})
    execution = sm.execute("a string input")
    assert (execution.status, execution.error) == ("FAILED", "States.ResultPathMatchFailure")


def test_input_result_and_output_path_together() -> None:
    sm = machine({"HelloWorld": task(InputPath="$.lambda", ResultPath="$.data.lambdaresult", OutputPath="$.data")},
                 {HELLO: lambda p, c: f"Hello, {p['who']}!"})
    doc_input = {"comment": "An input comment.", "data": {"val1": 23, "val2": 17}, "extra": "foo",
                 "lambda": {"who": "AWS Step Functions"}}
    assert sm.execute(doc_input).output == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


def test_null_input_and_output_paths_give_empty_objects() -> None:
    seen: list[Any] = []
    sm = machine({"S": task(InputPath=None, OutputPath=None)}, {HELLO: recorder(seen, 1)})
    assert sm.execute({"a": 1}).output == {}
    assert seen == [{}]


def test_pass_state_result_and_bracket_and_index_paths() -> None:
    sm = machine({
        "P": {"Type": "Pass", "Result": {"x": [10, {"y z": 20}]}, "ResultPath": "$.r", "Next": "Q"},
        "Q": {"Type": "Pass", "Parameters": {"first.$": "$.r.x[0]", "second.$": "$['r']['x'][1]['y z']"},
              "End": True},
    })
    assert sm.execute({}).output == {"first": 10, "second": 20}


@pytest.mark.parametrize("state", [
    {"Type": "Pass", "InputPath": "$.missing", "End": True},
    {"Type": "Pass", "OutputPath": "$.missing", "End": True},
    {"Type": "Pass", "Parameters": {"v.$": "$.missing"}, "End": True},
    {"Type": "Pass", "Parameters": {"v.$": "$.list[5]"}, "End": True},
])
def test_missing_path_is_a_runtime_error(state: dict[str, Any]) -> None:
    execution = machine({"S": state}).execute({"list": [1]})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "An error occurred while executing the state 'S'" in cause_of(execution)


def test_parameters_path_error_names_the_field() -> None:
    execution = machine({"S": {"Type": "Pass", "Parameters": {"v.$": "$.nope"}, "End": True}}).execute({})
    assert "The JSONPath '$.nope' specified for the field 'v.$' could not be found" in cause_of(execution)


def test_runtime_errors_are_not_caught_by_states_all() -> None:
    handler = Flaky()
    sm = machine({
        "S": task(Parameters={"v.$": "$.missing"}, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                  Retry=[{"ErrorEquals": ["States.ALL"]}]),
        "Recover": {"Type": "Succeed"},
    }, {HELLO: handler})
    execution = sm.execute({})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert handler.calls == [] and not events(execution, "Caught") and not events(execution, "RetryScheduled")


def test_task_result_larger_than_the_limit_is_a_terminal_error() -> None:
    sm = machine({"S": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]),
                  "Recover": {"Type": "Succeed"}}, {HELLO: lambda p, c: "x" * 300_000})
    execution = sm.execute({})
    assert (execution.status, execution.error) == ("FAILED", "States.DataLimitExceeded")


# --- context object and intrinsic functions ----------------------------------------------------------


def test_context_object_fields() -> None:
    params = {key + ".$": "$$." + key for key in (
        "Execution.Id", "Execution.Name", "Execution.StartTime", "Execution.Input", "State.Name",
        "State.EnteredTime", "State.RetryCount", "StateMachine.Id", "StateMachine.Name")}
    sm = StateMachine({"StartAt": "Ctx", "States": {"Ctx": {"Type": "Pass", "Parameters": params, "End": True}}}, {},
                      name="Generation", arn="arn:aws:states:eu-west-1:111122223333:stateMachine:Generation")
    out = sm.execute({"k": "v"}, name="run-1").output
    assert out["Execution.Id"] == "arn:aws:states:eu-west-1:111122223333:execution:Generation:run-1"
    assert out["Execution.Name"] == "run-1"
    assert out["Execution.Input"] == {"k": "v"}
    assert out["State.Name"] == "Ctx" and out["State.RetryCount"] == 0
    assert out["StateMachine.Id"] == "arn:aws:states:eu-west-1:111122223333:stateMachine:Generation"
    assert out["StateMachine.Name"] == "Generation"
    timestamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    assert timestamp.fullmatch(out["Execution.StartTime"]) and timestamp.fullmatch(out["State.EnteredTime"])


def test_execution_arn_can_be_given() -> None:
    execution = machine({"S": {"Type": "Succeed"}}).execute(
        {}, execution_arn="arn:aws:states:us-east-1:123456789012:execution:M:given")
    assert (execution.execution_arn, execution.name) == ("arn:aws:states:us-east-1:123456789012:execution:M:given",
                                                         "given")


def test_retry_count_reaches_parameters_and_callable() -> None:
    handler = Flaky(TransientError("a"), TransientError("b"))
    sm = machine({"S": task(Parameters={"n.$": "$$.State.RetryCount"},
                            Retry=[{"ErrorEquals": ["TransientError"]}])}, {HELLO: handler})
    assert sm.execute({}).status == "SUCCEEDED"
    assert handler.calls == [({"n": 0}, 0), ({"n": 1}, 1), ({"n": 2}, 2)]


def test_intrinsic_functions() -> None:
    params = {
        "greeting.$": "States.Format('Hello, my name is {}.', $.name)",
        "fromTemplate.$": "States.Format($.template, $.name)",
        "escaped.$": "States.Format('\\{\\} {} \\'q\\'', $.n)",
        "parsed.$": "States.StringToJson($.escapedJsonString)",
        "text.$": "States.JsonToString($.unescapedJson)",
        "array.$": "States.Array($.Id, 'two', 3, true, null)",
        "sum.$": "States.MathAdd($.n, -1)",
        "nested.$": "States.ArrayGetItem(States.StringSplit($.csv, ','), 1)",
        "length.$": "States.ArrayLength(States.Array(1, 2, 3))",
        "contains.$": "States.ArrayContains($.list, 2)",
        "merged.$": "States.JsonMerge($.unescapedJson, $.more, false)",
        "b64.$": "States.Base64Decode(States.Base64Encode($.name))",
        "id.$": "States.UUID()",
        "ctx.$": "States.Format('{}', $$.State.Name)",
    }
    sm = machine({"I": {"Type": "Pass", "Parameters": params, "End": True}})
    out = sm.execute({"name": "Arnav", "template": "Hello, my name is {}.", "escapedJsonString": "{\"foo\": \"bar\"}",
                      "unescapedJson": {"foo": "bar"}, "more": {"baz": 1}, "Id": 123456, "n": 111, "csv": "a,b,c",
                      "list": [1, 2]}).output
    assert out["greeting"] == out["fromTemplate"] == "Hello, my name is Arnav."
    assert out["escaped"] == "{} 111 'q'"
    assert out["parsed"] == {"foo": "bar"}
    assert out["text"] == '{"foo":"bar"}'
    assert out["array"] == [123456, "two", 3, True, None]
    assert out["sum"] == 110
    assert out["nested"] == "b"
    assert (out["length"], out["contains"]) == (3, True)
    assert out["merged"] == {"foo": "bar", "baz": 1}
    assert out["b64"] == "Arnav"
    assert re.fullmatch(r"[0-9a-f-]{36}", out["id"])
    assert out["ctx"] == "I"


def test_intrinsic_with_bad_arguments_is_a_runtime_error() -> None:
    sm = machine({"I": {"Type": "Pass", "Parameters": {"v.$": "States.StringToJson($.s)"}, "End": True}})
    execution = sm.execute({"s": "{not json"})
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "States.StringToJson" in cause_of(execution)


# --- tasks, errors, retries, catchers ----------------------------------------------------------------


def test_task_error_name_and_lambda_style_cause() -> None:
    def broken(payload: Any, context: Context) -> Any:
        raise ValueError("the picture is empty")

    execution = machine({"S": task()}, {HELLO: broken}).execute({})
    assert (execution.status, execution.error) == ("FAILED", "ValueError")
    cause = json.loads(cause_of(execution))
    assert cause["errorMessage"] == "the picture is empty" and cause["errorType"] == "ValueError"
    assert isinstance(cause["stackTrace"], list) and "broken" in "".join(cause["stackTrace"])


def test_error_name_attribute_overrides_the_class_name() -> None:
    execution = machine({"S": task()}, {HELLO: Flaky(named("Lambda.TooManyRequestsException"))}).execute({})
    assert execution.error == "Lambda.TooManyRequestsException"
    assert json.loads(cause_of(execution))["errorType"] == "Lambda.TooManyRequestsException"


def test_result_that_is_not_json_is_a_marshal_error() -> None:
    execution = machine({"S": task()}, {HELLO: lambda p, c: {"when": object()}}).execute({})
    assert execution.error == "Runtime.MarshalError"


def test_callable_gets_a_copy_of_its_input() -> None:
    def mutate(payload: Any, context: Context) -> str:
        payload["list"].append(99)
        return "ok"

    sm = machine({"S": task(ResultPath="$.r")}, {HELLO: mutate})
    assert sm.execute({"list": [1]}).output == {"list": [1], "r": "ok"}


def test_retry_backoff_intervals_and_attempt_count() -> None:
    handler = Flaky(TransientError("1"), TransientError("2"), TransientError("3"), TransientError("4"))
    retry = [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 4, "BackoffRate": 2.0,
              "MaxDelaySeconds": 5}]
    execution = machine({"S": task(Retry=retry)}, {HELLO: handler}, time_scale=0.001).execute({})
    assert execution.status == "SUCCEEDED"
    assert len(handler.calls) == 5
    retries = events(execution, "RetryScheduled")
    assert [r["interval_seconds"] for r in retries] == [1, 2, 4, 5]  # doubled, capped by MaxDelaySeconds
    assert [r["attempt"] for r in retries] == [1, 2, 3, 4]
    assert [r["delay_seconds"] for r in retries] == pytest.approx([0.001, 0.002, 0.004, 0.005])


def test_retry_exhausted_then_caught_into_result_path() -> None:
    handler = Flaky(*(TransientError("still failing") for _ in range(3)))
    sm = machine({
        "Work": task(Retry=[{"ErrorEquals": ["TransientError"], "MaxAttempts": 2}],
                     Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
                     Next="Done"),
        "Done": {"Type": "Succeed"},
        "Recover": {"Type": "Pass", "Result": "recovered", "ResultPath": "$.handled", "End": True},
    }, {HELLO: handler})
    execution = sm.execute({"jobId": "j1"})
    assert execution.status == "SUCCEEDED"
    assert len(handler.calls) == 3
    out = execution.output
    assert out["jobId"] == "j1" and out["handled"] == "recovered"
    assert out["error"]["Error"] == "TransientError"
    assert json.loads(out["error"]["Cause"])["errorMessage"] == "still failing"
    assert [e["state"] for e in events(execution, "StateEntered")] == ["Work", "Recover"]
    assert events(execution, "Caught")[0]["next"] == "Recover"


def test_only_the_named_error_is_retried() -> None:
    handler = Flaky(ValueError("permanent"))
    sm = machine({
        "Work": task(Retry=[{"ErrorEquals": ["TransientError"], "MaxAttempts": 5}],
                     Catch=[{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Recover"}]),
        "Recover": {"Type": "Succeed"},
    }, {HELLO: handler})
    execution = sm.execute({})
    assert len(handler.calls) == 1 and not events(execution, "RetryScheduled")
    assert execution.output["error"]["Error"] == "ValueError"


def test_retriers_keep_separate_counters() -> None:
    # The developer guide's example: ErrorA, ErrorB, ErrorC, ErrorB -> waits 1, 2 (first retrier), 5 (second);
    # the fourth error finds the first retrier's two attempts used up, so it goes to the catcher.
    handler = Flaky(named("ErrorA"), named("ErrorB"), named("ErrorC"), named("ErrorB"))
    sm = machine({
        "X": task(Retry=[{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0,
                          "MaxAttempts": 2},
                         {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
                  Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Z"}], Next="Y"),
        "Y": {"Type": "Succeed"},
        "Z": {"Type": "Pass", "End": True},
    }, {HELLO: handler})
    execution = sm.execute({})
    assert [r["interval_seconds"] for r in events(execution, "RetryScheduled")] == [1, 2, 5]
    assert [r["retrier"] for r in events(execution, "RetryScheduled")] == [0, 0, 1]
    assert execution.output == {"Error": "ErrorB", "Cause": execution.output["Cause"]}
    assert len(handler.calls) == 4


def test_max_attempts_zero_never_retries_and_states_all_retries_the_rest() -> None:
    handler = Flaky(named("States.Timeout"))
    sm = machine({"S": task(Retry=[{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0},
                                   {"ErrorEquals": ["States.ALL"]}])}, {HELLO: handler})
    assert sm.execute({}).error == "States.Timeout" and len(handler.calls) == 1
    handler = Flaky(TransientError("x"))
    sm = machine({"S": task(Retry=[{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0},
                                   {"ErrorEquals": ["States.ALL"]}])}, {HELLO: handler})
    assert sm.execute({}).status == "SUCCEEDED" and len(handler.calls) == 2


def test_full_jitter_stays_within_the_interval() -> None:
    handler = Flaky(*(TransientError(str(i)) for i in range(3)))
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "JitterStrategy": "FULL"}]
    execution = machine({"S": task(Retry=retry)}, {HELLO: handler}, time_scale=0.001).execute({})
    for event in events(execution, "RetryScheduled"):
        assert 0 <= event["delay_seconds"] <= event["interval_seconds"] * 0.001


def test_task_failed_matches_task_errors_but_not_timeouts() -> None:
    catch = [{"ErrorEquals": ["States.TaskFailed"], "Next": "Recover"}]
    states = {"S": task(Catch=catch), "Recover": {"Type": "Succeed"}}
    assert machine(states, {HELLO: Flaky(ValueError("x"))}).execute({}).status == "SUCCEEDED"
    assert machine(states, {HELLO: Flaky(named("States.Timeout"))}).execute({}).error == "States.Timeout"


def test_task_timeout_is_caught_as_states_timeout() -> None:
    release = threading.Event()

    def slow(payload: Any, context: Context) -> str:
        assert context.remaining_seconds() is not None
        release.wait(30)
        return "late"

    sm = machine({"S": task(TimeoutSeconds=1, Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}]),
                  "TimedOut": {"Type": "Pass", "Result": "gave up", "End": True}}, {HELLO: slow})
    try:
        execution = sm.execute({})
    finally:
        release.set()
    assert (execution.status, execution.output) == ("SUCCEEDED", "gave up")
    assert events(execution, "TaskFailed")[0]["error"] == "States.Timeout"


def test_execution_timeout_ends_timed_out() -> None:
    sm = machine({"W": {"Type": "Wait", "Seconds": 30, "End": True}}, time_scale=1.0, TimeoutSeconds=1)
    execution = sm.execute({})
    assert (execution.status, execution.error) == ("TIMED_OUT", "States.Timeout")
    assert events(execution, "ExecutionTimedOut")


# --- optimized Lambda integration --------------------------------------------------------------------


def test_lambda_invoke_integration_wraps_the_result() -> None:
    seen: list[tuple[Any, str | None]] = []

    def fn(payload: Any, context: Context) -> dict[str, Any]:
        seen.append((payload, context.function_name))
        return {"n": payload["n"] + 1}

    sm = machine({"Invoke": task(LAMBDA_INVOKE, Parameters={"FunctionName": HELLO + ":$LATEST", "Payload.$": "$"},
                                 ResultSelector={"n.$": "$.Payload.n", "code.$": "$.StatusCode"})},
                 {"HelloFunction": fn})
    assert sm.execute({"n": 1}).output == {"n": 2, "code": 200}
    assert seen == [({"n": 1}, "HelloFunction")]
    full = machine({"Invoke": task(LAMBDA_INVOKE, Parameters={"FunctionName": "HelloFunction", "Payload.$": "$"})},
                   {HELLO: fn}).execute({"n": 5}).output
    assert full["Payload"] == {"n": 6} and full["ExecutedVersion"] == "$LATEST" and full["StatusCode"] == 200


# --- Choice, Wait, Fail, Parallel --------------------------------------------------------------------


def choose(rule: dict[str, Any], data: Any) -> str:
    sm = machine({"C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
                  "Yes": {"Type": "Pass", "Result": "yes", "End": True},
                  "No": {"Type": "Pass", "Result": "no", "End": True}})
    execution = sm.execute(data)
    assert execution.status == "SUCCEEDED", execution.cause
    return execution.output


@pytest.mark.parametrize(("rule", "data", "expected"), [
    ({"Variable": "$.v", "StringEquals": "a"}, {"v": "a"}, "yes"),
    ({"Variable": "$.v", "StringEquals": "a"}, {"v": 1}, "no"),
    ({"Variable": "$.v", "StringLessThan": "b"}, {"v": "a"}, "yes"),
    ({"Variable": "$.v", "StringGreaterThanEquals": "b"}, {"v": "a"}, "no"),
    ({"Variable": "$.v", "StringEqualsPath": "$.w"}, {"v": "x", "w": "x"}, "yes"),
    ({"Variable": "$.v", "StringMatches": "log-*.txt"}, {"v": "log-2024.txt"}, "yes"),
    ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "axxb"}, "no"),
    ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "a*b"}, "yes"),
    ({"Variable": "$.v", "NumericEquals": 1}, {"v": 1.0}, "yes"),
    ({"Variable": "$.v", "NumericEquals": 1}, {"v": True}, "no"),
    ({"Variable": "$.v", "NumericLessThan": 1}, {"v": 0.5}, "yes"),
    ({"Variable": "$.v", "NumericGreaterThan": 1}, {"v": 1}, "no"),
    ({"Variable": "$.v", "NumericGreaterThanEquals": 1}, {"v": 1}, "yes"),
    ({"Variable": "$.v", "NumericLessThanEquals": 1}, {"v": 2}, "no"),
    ({"Variable": "$.v", "NumericLessThanPath": "$.w"}, {"v": 1, "w": 2}, "yes"),
    ({"Variable": "$.v", "BooleanEquals": True}, {"v": True}, "yes"),
    ({"Variable": "$.v", "BooleanEquals": True}, {"v": 1}, "no"),
    ({"Variable": "$.v", "BooleanEqualsPath": "$.w"}, {"v": False, "w": False}, "yes"),
    ({"Variable": "$.v", "TimestampEquals": "2001-01-01T12:00:00Z"}, {"v": "2001-01-01T13:00:00+01:00"}, "yes"),
    ({"Variable": "$.v", "TimestampLessThan": "2001-01-01T12:00:00Z"}, {"v": "2000-12-31T23:59:59.5Z"}, "yes"),
    ({"Variable": "$.v", "TimestampGreaterThan": "2001-01-01T12:00:00Z"}, {"v": "not a time"}, "no"),
    ({"Variable": "$.v", "TimestampGreaterThanEqualsPath": "$.w"},
     {"v": "2001-01-02T00:00:00Z", "w": "2001-01-01T00:00:00Z"}, "yes"),
    ({"Variable": "$.v", "IsPresent": True}, {"v": None}, "yes"),
    ({"Variable": "$.v", "IsPresent": False}, {}, "yes"),
    ({"Variable": "$.v", "IsNull": True}, {"v": None}, "yes"),
    ({"Variable": "$.v", "IsString": True}, {"v": "s"}, "yes"),
    ({"Variable": "$.v", "IsNumeric": True}, {"v": False}, "no"),
    ({"Variable": "$.v", "IsBoolean": False}, {"v": 0}, "yes"),
    ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-08-18T17:33:00Z"}, "yes"),
    ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-08-18 17:33:00"}, "no"),
    ({"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20}, {"Variable": "$.v", "NumericLessThan": 30}]},
     {"v": 22}, "yes"),
    ({"Or": [{"Variable": "$.v", "StringEquals": "a"}, {"Variable": "$.v", "StringEquals": "b"}]}, {"v": "c"}, "no"),
    ({"Not": {"Variable": "$.type", "StringEquals": "Private"}}, {"type": "Public"}, "yes"),
    ({"Variable": "$$.State.Name", "StringEquals": "C"}, {}, "yes"),
])
def test_choice_operators(rule: dict[str, Any], data: Any, expected: str) -> None:
    assert choose(rule, data) == expected


def test_choice_without_match_or_default_fails() -> None:
    sm = machine({"C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "D"}]},
                  "D": {"Type": "Succeed"}})
    assert sm.execute({"v": 2}).error == "States.NoChoiceMatched"


def test_choice_on_a_missing_variable_is_a_runtime_error() -> None:
    execution = machine({"C": {"Type": "Choice", "Choices": [{"Variable": "$.type", "StringEquals": "x",
                                                              "Next": "D"}]},
                         "D": {"Type": "Succeed"}}).execute({})
    assert execution.error == "States.Runtime" and "$.type" in cause_of(execution)


def test_choice_applies_input_and_output_path() -> None:
    sm = machine({"C": {"Type": "Choice", "InputPath": "$.job", "OutputPath": "$.id",
                        "Choices": [{"Variable": "$.claimed", "BooleanEquals": True, "Next": "D"}]},
                  "D": {"Type": "Succeed"}})
    assert sm.execute({"job": {"claimed": True, "id": "j1"}}).output == "j1"


def test_wait_is_scaled_and_reads_seconds_path() -> None:
    sm = machine({"A": {"Type": "Wait", "Seconds": 3600, "Next": "B"},
                  "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
                  "C": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": True}})
    execution = sm.execute({"s": 7200})
    assert execution.status == "SUCCEEDED"
    assert [(e["seconds"], e["delay_seconds"]) for e in events(execution, "WaitStarted")] == \
        [(3600, 0), (7200, 0), (0, 0)]


def test_wait_seconds_path_must_select_a_number() -> None:
    execution = machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}).execute({"s": "soon"})
    assert execution.error == "States.Runtime"


def test_fail_with_error_and_cause() -> None:
    execution = machine({"F": {"Type": "Fail", "Error": "GenerationFailed", "Cause": "no notes"}}).execute({})
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "GenerationFailed", "no notes")
    execution = machine({"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.c)"}}) \
        .execute({"e": "Dynamic", "c": 7})
    assert (execution.error, execution.cause) == ("Dynamic", "bad 7")


def test_parallel_runs_branches_and_collects_outputs() -> None:
    add = lambda p, c: p[0] + p[1]  # noqa: E731
    sub = lambda p, c: p[0] - p[1]  # noqa: E731
    sm = machine({"FunWithMath": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Add", "States": {"Add": task("add")}},
        {"StartAt": "Subtract", "States": {"Subtract": task("sub")}},
    ]}}, {"add": add, "sub": sub})
    execution = sm.execute([3, 2])
    assert execution.output == [5, 1]
    assert {e.get("branch") for e in events(execution, "StateEntered")} == {None, "FunWithMath[0]", "FunWithMath[1]"}


def test_parallel_branch_failure_is_caught_and_stops_siblings() -> None:
    sm = machine({
        "Fan": {"Type": "Parallel", "Next": "Done", "ResultPath": "$.results",
                "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.error", "Next": "Recover"}],
                "Branches": [
                    {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b0"}}},
                    {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 60, "Next": "Never"},
                                                   "Never": {"Type": "Pass", "End": True}}},
                ]},
        "Done": {"Type": "Succeed"},
        "Recover": {"Type": "Succeed"},
    }, time_scale=1.0)
    execution = sm.execute({"id": 1})
    assert execution.output == {"id": 1, "error": {"Error": "BranchBroke", "Cause": "b0"}}
    assert "Never" not in [e["state"] for e in events(execution, "StateEntered")]


def test_parallel_retry_reruns_the_branches() -> None:
    handler = Flaky(TransientError("once"))
    sm = machine({"Fan": {"Type": "Parallel", "End": True, "Retry": [{"ErrorEquals": ["TransientError"]}],
                          "ResultSelector": {"first.$": "$[0]"},
                          "Branches": [{"StartAt": "T", "States": {"T": task()}}]}}, {HELLO: handler})
    execution = sm.execute({})
    assert execution.output == {"first": {"ok": True}} and len(handler.calls) == 2


# --- validation at construction ----------------------------------------------------------------------


@pytest.mark.parametrize(("definition", "resources", "message"), [
    ({"StartAt": "Blend", "States": {"Blend": {"Type": "Map", "End": True}}}, {},
     'state "Blend": type Map is not supported by the local runner '
     "(supported: Task, Pass, Choice, Wait, Succeed, Fail, Parallel)"),
    ({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {},
     "definition: QueryLanguage JSONata is not supported by the local runner (only JSONPath)"),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata", "End": True}}}, {},
     'state "P": QueryLanguage JSONata is not supported by the local runner (only JSONPath)'),
    ({"StartAt": "Analyze", "States": {"Analyze": {"Type": "Task", "Resource": FN + "Foo", "End": True}}},
     {FN + "Bar": hello}, f'state "Analyze": no local handler for resource "{FN}Foo"'),
    ({"StartAt": "Invoke", "States": {"Invoke": {"Type": "Task", "Resource": LAMBDA_INVOKE, "End": True,
                                                 "Parameters": {"FunctionName": "Missing", "Payload.$": "$"}}}},
     {HELLO: hello}, f'state "Invoke": no local handler for function "Missing" (resource "{LAMBDA_INVOKE}")'),
    ({"StartAt": "Cb", "States": {"Cb": {"Type": "Task", "Resource": LAMBDA_INVOKE + ".waitForTaskToken",
                                         "End": True}}}, {},
     'state "Cb": resource "arn:aws:states:::lambda:invoke.waitForTaskToken" uses the .waitForTaskToken '
     "integration pattern, which is not supported by the local runner"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}, {},
     'state "A": Next "Nowhere" is not a state of this machine'),
    ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": HELLO, "End": True,
                                       "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone"}]}}}, {HELLO: hello},
     'state "T": Catch[0].Next "Gone" is not a state of this machine'),
    ({"States": {"A": {"Type": "Succeed"}}}, {}, "definition: StartAt is missing"),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True,
                                       "Parameters": {"h.$": "States.Hash($.a, 'SHA-256')"}}}}, {},
     'state "P" Parameters: intrinsic function States.Hash is not supported by the local runner'),
    ({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "C",
                                       "Choices": [{"Variable": "$.v", "StringContains": "a", "Next": "C"}]}}}, {},
     'state "C": Choices[0]: comparison operator "StringContains" is not supported by the local runner'),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Resutl": 1}}}, {},
     'state "P": unknown field "Resutl" for a Pass state'),
    ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": HELLO, "End": True, "HeartbeatSeconds": 5}}},
     {HELLO: hello}, 'state "T": field "HeartbeatSeconds" is not supported by the local runner'),
    ({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": HELLO, "End": True,
                                       "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}},
     {HELLO: hello}, 'state "T" Retry[0]: States.ALL must appear alone, in the last entry'),
    ({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "InputPath": "$.items[*].id"}}}, {},
     "uses JsonPath syntax the local runner does not support"),
    ({"StartAt": "F", "States": {"F": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "In", "States": {"In": {"Type": "Map", "End": True}}}]}}}, {},
     'state "In" (branch 0 of "F"): type Map is not supported by the local runner'),
])
def test_unsupported_definitions_are_rejected_before_running(definition: dict[str, Any], resources: dict[str, Any],
                                                              message: str) -> None:
    with pytest.raises(UnsupportedDefinition) as info:
        StateMachine(definition, resources)
    assert message in str(info.value)


# --- the real workflow and concurrency ---------------------------------------------------------------


def generation_machine(resources_by_name: dict[str, Any]) -> StateMachine:
    text = (REPO / "statemachine" / "generation.asl.json").read_text()
    arns = {key: f"{FN}{key.removesuffix('FunctionArn')}" for key in set(re.findall(r"\$\{(\w+)\}", text))}
    definition = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: arns[m.group(1)], text))
    return StateMachine(definition, {FN + name: fn for name, fn in resources_by_name.items()}, time_scale=0)


def test_the_generation_workflow_definition_runs() -> None:
    steps = {"StartJob": lambda p, c: {"claimed": True}, "Analyze": lambda p, c: {"tempo": 120},
             "Compose": lambda p, c: {"midiKey": "m.mid"}, "Render": lambda p, c: {"audioKey": "a.mp3"},
             "MarkFailed": lambda p, c: {"marked": True}}
    execution = generation_machine(steps).execute({"jobId": "j1"})
    assert execution.status == "SUCCEEDED"
    assert execution.output["render"] == {"audioKey": "a.mp3"}

    analyze = Flaky(TransientError("throttled"), ValueError("not a picture"))
    execution = generation_machine({**steps, "Analyze": analyze}).execute({"jobId": "j1"})
    assert (execution.status, execution.error) == ("FAILED", "GenerationFailed")
    assert len(analyze.calls) == 2  # the transient error was retried, the permanent one was not
    marked = next(e for e in events(execution, "StateExited") if e["state"] == "MarkFailed")["output"]
    assert marked["error"]["Error"] == "ValueError"


def test_concurrent_executions_keep_their_own_data() -> None:
    def double(payload: Any, context: Context) -> int:
        if context.retry_count == 0 and payload["n"] % 2:
            raise TransientError("odd numbers fail once")
        return payload["n"] * 2

    sm = machine({
        "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "exec.$": "$$.Execution.Name"}, "Next": "Double"},
        "Double": task(ResultPath="$.doubled", Retry=[{"ErrorEquals": ["TransientError"]}]),
    }, {HELLO: double}, time_scale=0.001)
    results: dict[int, Execution] = {}

    def run(n: int) -> None:
        results[n] = sm.execute({"n": n}, name=f"exec-{n}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(8))
    for n, execution in results.items():
        assert execution.status == "SUCCEEDED"
        assert execution.output == {"n": n, "exec": f"exec-{n}", "doubled": n * 2}
        assert len(events(execution, "RetryScheduled")) == n % 2
