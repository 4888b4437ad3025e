"""The Health function against moto: /health makes no AWS calls; /health/ready and /health/detailed check the
configuration, every table, the bucket and every state machine, and name what failed without naming the account."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError

from local_stack.template import LocalTemplate
from tests.apigw import call, event
from tests.conftest import REGION, load_function

ROOT = Path(__file__).resolve().parents[3]
TABLES = ("GenerationsTable", "TracksTable", "UsersTable", "QuotasTable", "TranscriptionsTable", "SongsTable", "BlendsTable",
          "MapsTable", "FingerprintsTable", "NotificationsTable", "BillingTable",
          "CommunityTable", "ConnectionsTable")
MACHINES = ("GenerationStateMachine", "TrackStateMachine", "ListenStateMachine", "SongStateMachine", "BlendStateMachine",
            "MapStateMachine", "SongAudioStateMachine")
ROLE = "arn:aws:iam::123456789012:role/health-test"


@pytest.fixture
def health(aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The function with its environment as the template sets it, and the template's state machines in moto
    (the variables hold the ARNs moto gave them)."""
    for key, value in sam_template.functions["HealthFunction"].environment.items():
        monkeypatch.setenv(key, value)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for name in MACHINES:
        spec = sam_template.state_machines[name]
        created = sfn.create_state_machine(name=name, definition=json.dumps(spec["definition"]), roleArn=ROLE)
        variable = {"GenerationStateMachine": "GENERATION_STATE_MACHINE_ARN",
                    "SongAudioStateMachine": "SONG_AUDIO_STATE_MACHINE_ARN"}.get(
            name, name.removesuffix("StateMachine").upper() + "_STATE_MACHINE_ARN"
        )
        monkeypatch.setenv(variable, created["stateMachineArn"])
    return load_function("health")


def get(module: ModuleType, path: str) -> tuple[int, Any]:
    return call(module, event("GET", path, user=None))


def assert_names_nothing_of_the_account(body: Any, aws: dict[str, Any], sam_template: LocalTemplate) -> None:
    text = json.dumps(body)
    assert "arn:" not in text and "123456789012" not in text and "000000000000" not in text
    assert not any(physical in text for physical in sam_template.names.values())
    assert "testing" not in text  # the credentials
    assert "Traceback" not in text and "botocore" not in text


def test_the_template_gives_the_function_every_variable_it_checks(sam_template: LocalTemplate) -> None:
    module = load_function("health")
    env = sam_template.functions["HealthFunction"].environment
    for dependency in module.DEPENDENCIES:
        assert env.get(dependency.variable), dependency.variable
    assert {d.name for d in module.DEPENDENCIES} == {
        *sam_template.tables,
        *sam_template.buckets,
        *sam_template.state_machines,
    }
    routes = {(r.method, r.path, r.authorizer) for r in sam_template.functions["HealthFunction"].routes}
    assert {("GET", "/health/ready", False), ("GET", "/health/detailed", False)} <= routes


def test_ready_when_configured_and_every_table_and_the_bucket_answer(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate
) -> None:
    status, body = get(health, "/health/ready")
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"configuration", *TABLES, "MediaBucket"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_a_missing_variable_is_not_ready_and_named(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SONGS_TABLE_NAME")
    monkeypatch.setenv("BLEND_STATE_MACHINE_ARN", "")  # set but empty is missing too
    status, body = get(health, "/health/ready")
    assert status == 503, body
    assert body["status"] == "not-ready"
    assert body["checks"]["configuration"] == {
        "status": "error",
        "reason": "missing environment variables: SONGS_TABLE_NAME, BLEND_STATE_MACHINE_ARN",
    }
    assert body["checks"]["SongsTable"]["status"] == "error"
    assert body["checks"]["SongsTable"]["reason"] == "not configured (SONGS_TABLE_NAME is not set)"
    assert body["checks"]["GenerationsTable"]["status"] == "ok"
    assert "configuration" in body["message"] and "SongsTable" in body["message"]
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_a_missing_table_is_not_ready_and_named_by_its_logical_id(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate
) -> None:
    aws["dynamodb"].delete_table(TableName=sam_template.names["TracksTable"])
    status, body = get(health, "/health/ready")
    assert status == 503, body
    assert body["checks"]["TracksTable"] == {
        "kind": "table",
        "status": "error",
        "latencyMs": body["checks"]["TracksTable"]["latencyMs"],
        "reason": "not found",
    }
    assert [name for name, check in body["checks"].items() if check["status"] != "ok"] == ["TracksTable"]
    assert body["message"] == "not ready: TracksTable failed"
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_a_missing_bucket_is_not_ready(health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate) -> None:
    aws["s3"].delete_bucket(Bucket=aws["bucket"])
    status, body = get(health, "/health/ready")
    assert status == 503 and body["checks"]["MediaBucket"]["reason"] == "not found", body
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_an_unreachable_table_times_out_with_a_short_reason(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb = health._client("dynamodb")
    real = dynamodb.describe_table

    def describe_table(**kwargs: Any) -> Any:
        if kwargs["TableName"] == sam_template.names["QuotasTable"]:
            raise ConnectTimeoutError(endpoint_url=f"https://dynamodb.{REGION}.amazonaws.com/")
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "describe_table", describe_table)
    status, body = get(health, "/health/ready")
    assert status == 503
    assert body["checks"]["QuotasTable"]["reason"] == "timed out"
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_a_client_that_cannot_be_made_is_a_failed_check_not_a_server_error(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    status, body = get(health, "/health/detailed")
    assert status == 503, body
    failed = {name: check.get("reason") for name, check in body["checks"].items() if check["kind"] != "bucket"}
    assert failed == dict.fromkeys([*TABLES, *MACHINES], "no region configured")  # (S3 falls back to us-east-1)
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_a_check_that_hangs_fails_at_the_deadline(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "DEADLINE_SECONDS", 0.3)
    s3 = health._client("s3")
    monkeypatch.setattr(s3, "head_bucket", lambda **kwargs: time.sleep(2))
    started = time.perf_counter()
    status, body = get(health, "/health/ready")
    assert time.perf_counter() - started < 1.5  # the answer does not wait for the stalled call
    assert status == 503
    assert body["checks"]["MediaBucket"]["reason"] == "no answer within 0.3 s"
    assert body["checks"]["GenerationsTable"]["status"] == "ok"


def test_checks_run_at_once(health: ModuleType, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = health._client("dynamodb")
    real = dynamodb.describe_table

    def slow(**kwargs: Any) -> Any:
        time.sleep(0.2)
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "describe_table", slow)
    started = time.perf_counter()
    status, _ = get(health, "/health/ready")
    assert status == 200
    assert time.perf_counter() - started < 0.2 * len(TABLES) / 2  # seven 0.2 s calls, not one after another


def test_detailed_gives_every_dependency_with_its_latency_and_no_account_details(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate
) -> None:
    status, body = get(health, "/health/detailed")
    assert status == 200, body
    assert body["status"] == "ok" and body["service"] == "soundcanvas" and body["version"] == "dev"
    assert isinstance(body["elapsedMs"], int | float)
    assert list(body["checks"]) == [*TABLES, "MediaBucket", *MACHINES]
    kinds = {**dict.fromkeys(TABLES, "table"), "MediaBucket": "bucket", **dict.fromkeys(MACHINES, "stateMachine")}
    for name, check in body["checks"].items():
        assert check["kind"] == kinds[name] and check["status"] == "ok", (name, check)
        assert isinstance(check["latencyMs"], int | float) and 0 <= check["latencyMs"] < 5000
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_detailed_is_degraded_when_a_state_machine_is_gone(
    health: ModuleType, aws: dict[str, Any], sam_template: LocalTemplate
) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "SongStateMachine")
    sfn.delete_state_machine(stateMachineArn=arn)
    status, body = get(health, "/health/detailed")
    assert status == 503, body
    assert body["status"] == "degraded" and body["message"] == "degraded: SongStateMachine failed"
    assert body["checks"]["SongStateMachine"]["status"] == "error"
    assert body["checks"]["SongStateMachine"]["reason"] == "not found"
    assert_names_nothing_of_the_account(body, aws, sam_template)


def test_liveness_stays_free_of_botocore() -> None:
    """Importing the module and answering /health load no botocore (its import is most of a cold start)."""
    code = (
        "import json, sys, types; import app; "
        "event = json.load(open('events/core/api_health.json')); "
        "context = types.SimpleNamespace(function_name='health', memory_limit_in_mb=256, aws_request_id='r', "
        "invoked_function_arn='arn:aws:lambda:us-east-1:000000000000:function:health'); "
        "answer = app.lambda_handler(event, context); "
        "print(json.dumps([answer['statusCode'], 'botocore.session' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={
            "PYTHONPATH": f"{ROOT / 'functions/core/health'}:{ROOT / 'layers/common'}",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [200, False]
