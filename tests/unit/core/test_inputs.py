"""What the product accepts from people: names, token subjects, JSON bodies and cursors that
could otherwise reach storage or the parser unchecked (each case here was a 5xx or a stored
control character before)."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from soundcanvas.core import cursors, inputs

JOBS_PAGE = {"userId": "S", "jobId": "S", "createdAt": "S"}


@pytest.mark.parametrize(("value", "problem"), [
    ("Blue\x00Hour", "control"),
    ("Blue\x1bHour", "control"),
    ("Blue\x7fHour", "control"),
    ("Blue\u0085Hour", "control"),  # C1 next line
    ("evil\u202etxt.exe", "control"),  # right-to-left override
    ("zero\u200bwidth", "control"),
    ("", "blank"),
    ("..", "only dots"),
    (".", "only dots"),
    ("x" * 201, "at most 200"),
])
def test_names_refuse_what_a_person_cannot_see_or_use(value: str, problem: str) -> None:
    found = inputs.name_problem(value, max_length=200)
    assert found is not None and problem in found


@pytest.mark.parametrize("value", ["Blue Hour", "Señora", "Ça ira", "家族 👨\u200d👩\u200d👧", "...And Justice", "a" * 200])
def test_names_people_write_are_accepted(value: str) -> None:
    assert inputs.name_problem(value, max_length=200) is None


def test_file_names_are_names_without_paths() -> None:
    file_name = TypeAdapter(inputs.name_type(255, file_name=True))
    assert file_name.validate_python("  Blue Hour.flac ") == "Blue Hour.flac"
    for bad in ("../etc/passwd", "a\\b.wav", "   ", "..", "a\tb.wav"):
        with pytest.raises(ValidationError):
            file_name.validate_python(bad)


@pytest.mark.parametrize(("subject", "ok"), [
    ("1c8a7f9e-7b1a-4c53-9a5e-0f4b2d8a6e31", True),  # a Cognito sub
    ("demo-user", True),
    ("a" * 128, True),
    ("a" * 129, False),
    ("victim/x", False),
    ("", False),
    ("-leading-dash", False),
    ("tab\there", False),
    ("dot.ted", False),
])
def test_only_subjects_that_fit_a_key_are_users(subject: str, ok: bool) -> None:
    assert inputs.is_subject(subject) is ok


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_bodies_are_measured_before_anyone_parses_them() -> None:
    assert inputs.json_body_problem(nested(inputs.JSON_MAX_DEPTH)) is None
    assert inputs.json_body_problem(nested(inputs.JSON_MAX_DEPTH + 1))[0] == 400
    status, message = inputs.json_body_problem(nested(1000))  # json.loads raises RecursionError on this
    assert status == 400 and "1000 levels" in message
    assert inputs.json_body_problem('{"seed": ' + "9" * 4301 + "}")[0] == 400  # int() refuses 4,300+ digits
    assert inputs.json_body_problem(json.dumps({"seed": 2**63})) is None
    assert inputs.json_body_problem(json.dumps({"name": "[" * 500 + "9" * 500})) is None  # inside a string: text
    assert inputs.json_body_problem(json.dumps({"name": 'a \\" [[[['})) is None  # escaped quotes stay inside
    status, message = inputs.json_body_problem(json.dumps({"name": "x" * (inputs.JSON_MAX_BYTES + 1)}))
    assert status == 413 and "KB" in message


def cursor(key: dict) -> str:
    return cursors.encode(key)


def test_a_cursor_round_trips_for_its_user() -> None:
    key = {"userId": {"S": "alice"}, "jobId": {"S": "j1"}, "createdAt": {"S": "2026-11-30T00:00:00.000Z"}}
    assert cursors.decode("alice", cursor(key), JOBS_PAGE) == key


@pytest.mark.parametrize("key", [
    {"userId": {"S": "alice"}, "jobId": {"S": "j1"}, "createdAt": {"N": "x"}},  # the probe's 502
    {"userId": {"S": "alice"}, "jobId": {"S": "j1"}, "createdAt": {"S": "x"}, "extra": {"S": "y"}},
    {"userId": {"S": "alice"}, "jobId": {"S": "j1"}},
    {"userId": {"S": "alice"}, "jobId": {"S": ""}, "createdAt": {"S": "x"}},
    {"userId": {"S": "alice"}, "jobId": {"S": "j" * 1025}, "createdAt": {"S": "x"}},
    {"userId": {"S": "alice"}, "jobId": {"S": 5}, "createdAt": {"S": "x"}},
    {"userId": {"S": "alice"}, "jobId": {"S": "j1", "N": "1"}, "createdAt": {"S": "x"}},
    {"userId": {"S": "bob"}, "jobId": {"S": "j1"}, "createdAt": {"S": "x"}},
    {"userId": "alice", "jobId": {"S": "j1"}, "createdAt": {"S": "x"}},
])
def test_an_edited_cursor_is_refused_before_dynamodb_sees_it(key: dict) -> None:
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode("alice", cursor(key), JOBS_PAGE)


def test_number_keys_must_be_numbers() -> None:
    types = {"userId": "S", "trackId": "S", "dueAt": "N"}
    good = {"userId": {"S": "alice"}, "trackId": {"S": "t"}, "dueAt": {"N": "1796000000.25"}}
    assert cursors.decode("alice", cursor(good), types) == good
    for bad in ("x", "1e", "", "NaN", "1" * 50):
        with pytest.raises(cursors.InvalidCursor):
            cursors.decode("alice", cursor({**good, "dueAt": {"N": bad}}), types)
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode("alice", cursors.encode({"userId": {"S": "alice"}}).replace("e", "[") + "[[[", types)
