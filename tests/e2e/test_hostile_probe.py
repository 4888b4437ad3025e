"""What a hostile probe of `make local` found, tried again over real HTTP: a generation form
posted twice, token subjects the product cannot store, hostile bodies and cursors on every JSON
operation of the API's own OpenAPI document, and the local API's own refusals (414, 431)."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.stack import LocalStack
from tests import imagegen
from tests.e2e.conftest import SAMPLE, Client, job_objects

pytestmark = pytest.mark.e2e


def test_a_generation_form_posted_again_changes_nothing(alice: Client, stack: LocalStack) -> None:
    job = alice.create(durationSeconds=15)
    assert alice.upload(job, SAMPLE.read_bytes()).status_code == 204
    done = alice.wait(job["jobId"])
    assert done["status"] == "COMPLETE"
    other = imagegen.jpeg_bytes(64, 64)
    assert alice.upload(job, other).status_code == 204  # S3 takes the post; the product ignores it
    stack.wait_idle()
    after = alice.get(job["jobId"]).json()
    assert after["status"] == "COMPLETE" and after["updatedAt"] == done["updatedAt"]
    assert requests.get(after["imageUrl"], timeout=30).content == SAMPLE.read_bytes()  # the analysed picture
    pictures = [k for k in job_objects(stack, "alice", job["jobId"]) if k.startswith("images/")]
    assert len(pictures) == 1 and "/picture." in pictures[0]  # the re-post was removed


@pytest.mark.parametrize(("case", "subject"), [
    ("a slash", "victim/x"),
    ("2,100 characters", "a" * 2100),
    ("control characters", "ivy\x01\x02"),
    ("empty", ""),
], ids=["slash", "2100-characters", "control-characters", "empty"])
def test_tokens_whose_subject_cannot_be_stored_get_the_standard_401(stack: LocalStack, case: str, subject: str) -> None:
    token = stack.token("ivy", sub=subject)
    for path in ("/generations", "/me/export"):
        response = requests.get(f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}, (case, response.text)


def test_health_answers_browsers_with_cors(stack: LocalStack) -> None:
    response = requests.get(f"{stack.api_url}/health", headers={"Origin": "https://status.example"}, timeout=10)
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"


def raw_request(stack: LocalStack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((stack.host, stack.api_port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_the_local_apis_own_refusals_are_json(stack: LocalStack) -> None:
    status, headers, body = raw_request(stack, b"GET /health?" + b"q" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/json" and json.loads(body)["message"]
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    status, headers, body = raw_request(stack, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431 and headers["content-type"] == "application/json" and json.loads(body)["message"]


# --- hostile inputs on every JSON operation of the OpenAPI document ---------------------------------
@pytest.fixture(scope="module")
def operations(stack: LocalStack) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path with ids filled in, the operation) for every operation of the document."""
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    found = []
    for path, item in schema.raw_schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path.replace("{", "").replace("}", ""), operation))
    return found


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


control_text = st.text(st.characters(codec="utf-8", categories=["Cc", "Cf"]), min_size=1, max_size=20)
hostile_values = st.one_of(
    st.integers(min_value=33, max_value=5000).map(lambda d: json.loads(deep(min(d, 900)))),
    st.integers(min_value=10**40, max_value=10**4200),  # past 4,300 digits: the raw bodies below
    control_text,
    st.sampled_from([True, False, None, "..", " ", "", 1e308, -1]),
)
hostile_bodies = st.one_of(
    st.integers(min_value=33, max_value=5000).map(deep),
    st.integers(min_value=41, max_value=6000).map(lambda n: '{"limit": ' + "7" * n + "}"),
    st.dictionaries(st.sampled_from(["fileName", "name", "tags", "files", "genre", "durationSeconds", "seed",
                                     "trackId", "grade", "scheduler", "cursor"]), hostile_values, min_size=1,
                    max_size=3).map(lambda d: json.dumps(d) if not _too_deep(d) else deep(40)),
)


def _too_deep(value: Any) -> bool:
    try:
        json.dumps(value)
    except RecursionError:
        return True
    return False


def hostile_cursor(user: str) -> st.SearchStrategy[str]:
    keys = st.fixed_dictionaries({"userId": st.just({"S": user})}, optional={
        "jobId": st.one_of(st.just({"S": "j"}), st.just({"N": "x"}), st.just({"B": "AA=="}), st.just({"S": ""})),
        "trackId": st.just({"S": "t" * 2000}),
        "createdAt": st.one_of(st.just({"N": "x"}), st.just({"S": 5}), st.just("plain"), st.just({"NULL": True})),
    })
    return keys.map(lambda key: base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("="))


def assert_refused_as_json(response: requests.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body.get("message"), f"{what}: {response.text[:300]}"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(body=hostile_bodies)
def test_hostile_bodies_never_get_a_server_error(stack: LocalStack, operations: list[Any], body: str) -> None:
    headers = {"Authorization": f"Bearer {stack.token('hostile')}", "Content-Type": "application/json"}
    for method, path, operation in operations:
        if "requestBody" not in operation:
            continue
        response = requests.request(method, f"{stack.api_url}{path}", data=body.encode(), headers=headers, timeout=30)
        assert_refused_as_json(response, f"{method} {path} with {body[:80]!r}")


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(cursor=hostile_cursor("hostile"))
def test_hostile_cursors_of_the_callers_own_never_get_a_server_error(stack: LocalStack, operations: list[Any],
                                                                       cursor: str) -> None:
    headers = {"Authorization": f"Bearer {stack.token('hostile')}"}
    for method, path, operation in operations:
        if not any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
            continue
        response = requests.request(method, f"{stack.api_url}{path}", params={"cursor": cursor}, headers=headers,
                                    timeout=30)
        assert_refused_as_json(response, f"{method} {path} with cursor {cursor[:40]}")
        assert response.status_code == 400, response.text
