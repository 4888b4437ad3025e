"""The health routes over real HTTP on the local stack: readiness and the detailed report check every table, the
bucket and every state machine the template defines, without a token, and name nothing of the account."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from local_stack import template
from local_stack.stack import LocalStack

pytestmark = pytest.mark.e2e


def get(stack: LocalStack, path: str) -> requests.Response:
    return requests.get(f"{stack.api_url}{path}", headers={"Origin": "https://status.example"}, timeout=30)


def assert_names_nothing_of_the_account(stack: LocalStack, body: Any) -> None:
    text = json.dumps(body)
    assert "arn:" not in text and template.ACCOUNT not in text
    assert not any(physical in text for physical in stack.template.names.values())
    assert "LOCALSTACKKEY" not in text and "secret" not in text.lower()


def test_the_local_stack_is_ready(stack: LocalStack) -> None:
    response = get(stack, "/health/ready")  # no Authorization header: the route is public
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"configuration", *stack.template.tables, *stack.template.buckets}
    assert all(check["status"] == "ok" for check in body["checks"].values()), body
    assert_names_nothing_of_the_account(stack, body)


def test_the_detailed_report_has_every_table_bucket_and_state_machine(stack: LocalStack) -> None:
    response = get(stack, "/health/detailed")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["service"] == "soundcanvas" and body["version"]
    checks = body["checks"]
    assert set(checks) == {*stack.template.tables, *stack.template.buckets, *stack.template.state_machines}
    for name in stack.template.state_machines:
        assert checks[name]["kind"] == "stateMachine" and checks[name]["status"] == "ok", (name, checks[name])
    for name, check in checks.items():
        assert check["status"] == "ok", (name, check)
        assert isinstance(check["latencyMs"], int | float) and 0 <= check["latencyMs"] < 5000, (name, check)
    assert_names_nothing_of_the_account(stack, body)


def test_a_missing_variable_makes_the_stack_not_ready(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The local stack's functions share this process's environment; only the Health function reads this one.
    monkeypatch.delenv("GENERATION_STATE_MACHINE_ARN")
    response = get(stack, "/health/ready")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not-ready" and body["message"] == "not ready: configuration failed"
    assert body["checks"]["configuration"]["reason"] == "missing environment variables: GENERATION_STATE_MACHINE_ARN"
    detailed = get(stack, "/health/detailed")
    assert detailed.status_code == 503 and detailed.json()["status"] == "degraded"
    assert detailed.json()["checks"]["GenerationStateMachine"]["reason"] == (
        "not configured (GENERATION_STATE_MACHINE_ARN is not set)"
    )
    assert_names_nothing_of_the_account(stack, body)
    monkeypatch.undo()
    assert get(stack, "/health/ready").status_code == 200
