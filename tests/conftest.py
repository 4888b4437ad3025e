"""Shared fixtures. Unit tests run handlers against moto's in-process mock with tables and the
bucket built from template.yaml's own properties; end-to-end tests start the local stack."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from local_stack import template
from local_stack.functions import share_botocore_loader

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


def _private_numba_cache() -> Path | None:
    """Give this pytest-xdist worker its own copy of the numba cache `make` filled (docs/testing.md#numba-cache).

    numba writes a guvectorize function's cache as two files, one after the other; two processes
    compiling the same function at once can leave one file from each, and the next process that
    loads the pair crashes with a segmentation fault (numba issue 10128; seen here in librosa's
    `_pi_wrapper`). A worker that compiles into its own copy cannot mix its files with another's.
    Runs when this module is imported, before anything imports numba (it reads the variable then); the copy is
    removed when the worker's session ends (pytest_unconfigure)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    shared = Path(os.environ.get("NUMBA_CACHE_DIR") or ROOT / ".venv" / "numba-cache")
    private = Path(tempfile.mkdtemp(prefix=f"numba-cache-{worker}-"))
    if shared.is_dir():
        shutil.copytree(shared, private, dirs_exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(private)
    return private


PRIVATE_NUMBA_CACHE = _private_numba_cache()


# Every function module makes its own botocore session at import; the unit tests import the modules again for
# nearly every test (load_function), and each new session parsed botocore's service models again (~0.15 s a module,
# most of the unit tests' setup). These processes share one loader, as the local stack's functions do.
share_botocore_loader()


def pytest_unconfigure(config: pytest.Config) -> None:
    if PRIVATE_NUMBA_CACHE is not None:
        shutil.rmtree(PRIVATE_NUMBA_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def sam_template() -> template.LocalTemplate:
    return template.load(ROOT, region=REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, sam_template: template.LocalTemplate) -> Iterator[dict[str, Any]]:
    """moto's mock with every table and the bucket created from template.yaml, and the
    environment every function reads (as the template sets it)."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    env = {
        **sam_template.functions["GenerationsApiFunction"].environment,
        **sam_template.functions["TracksApiFunction"].environment,
        **sam_template.functions["TranscriptionsApiFunction"].environment,
        **sam_template.functions["BlendsApiFunction"].environment,
        **sam_template.functions["SongsApiFunction"].environment,
        **sam_template.functions["MapsApiFunction"].environment,
        **sam_template.functions["CommunityApiFunction"].environment,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SoundCanvasTest",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # moto replaces boto3's default session on entry unless told not to, so every test would load the service models
    # again (~0.2 s a test); its stubber is on every botocore client whatever the session, so keeping it is safe
    with mock_aws(config={"core": {**default_user_config["core"], "reset_boto3_session": False}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for logical_id, table in sam_template.tables.items():
            dynamodb.create_table(
                TableName=sam_template.names[logical_id],
                BillingMode=table["BillingMode"],
                AttributeDefinitions=table["AttributeDefinitions"],
                KeySchema=table["KeySchema"],
                **{k: table[k] for k in ("GlobalSecondaryIndexes",) if k in table},
            )
        table_name = sam_template.names["GenerationsTable"]
        s3 = boto3.client("s3", region_name=REGION)
        bucket = sam_template.names["MediaBucket"]
        s3.create_bucket(Bucket=bucket)
        yield {
            "s3": s3,
            "dynamodb": dynamodb,
            "bucket": bucket,
            "table": table_name,
            "tracks_table": sam_template.names["TracksTable"],
            "users_table": sam_template.names["UsersTable"],
            "transcriptions_table": sam_template.names["TranscriptionsTable"],
            "songs_table": sam_template.names["SongsTable"],
            "blends_table": sam_template.names["BlendsTable"],
            "maps_table": sam_template.names["MapsTable"],
            "fingerprints_table": sam_template.names["FingerprintsTable"],
            "env": env,
        }


def record_dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """From now on, every request PynamoDB sends, as (operation, parameters) in order; each still goes through."""
    from pynamodb.connection.base import Connection

    calls: list[tuple[str, dict[str, Any]]] = []
    send = Connection.dispatch

    def recorded(self: Connection, operation: str, kwargs: dict[str, Any]) -> Any:
        calls.append((operation, kwargs))
        return send(self, operation, kwargs)

    monkeypatch.setattr(Connection, "dispatch", recorded)
    return calls


def load_function(name: str) -> ModuleType:
    """Import functions/<product>/<name>/app.py as a fresh module (it reads its configuration at import)."""
    (path,) = ROOT.glob(f"functions/*/{name}/app.py")
    return load_module_at(path)


def load_module_at(path: Path) -> ModuleType:
    """Import the Python file at `path` as a fresh module (a function's handler reads its configuration at
    import; the image functions of functions/*/analysis/ are files, not app.py folders)."""
    name = path.parent.name if path.name == "app.py" else path.stem
    module_name = f"_test_fn_{name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:test"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


class ManualClock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
