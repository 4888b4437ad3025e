"""Fixtures Blend's store, API and workflow tests share: the song and blend stores on a hand-moved clock,
a slice of the committed seed catalog, and helpers that make songs and blends the way the product does."""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
import pytest

from soundcanvas.blend.blends import BlendStore
from soundcanvas.blend.seed import SeedSong, read_seed_catalog
from soundcanvas.blend.songs import SongStore
from tests.conftest import ManualClock

REGION = "us-east-1"
PASS_MACHINE = json.dumps({"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}})


@pytest.fixture(scope="session")
def seed_songs() -> list[SeedSong]:
    """The first 30 songs of the committed seed catalog (reels, hornpipes, jigs; titles A...)."""
    return list(itertools.islice(read_seed_catalog(), 30))


@pytest.fixture
def song_store(aws: dict[str, Any], clock: ManualClock) -> SongStore:
    return SongStore(aws["songs_table"], REGION, clock=clock)


@pytest.fixture
def blend_store(aws: dict[str, Any], clock: ManualClock) -> BlendStore:
    return BlendStore(aws["blends_table"], REGION, clock=clock)


def keys(aws: dict[str, Any], prefix: str) -> list[str]:
    """Every object key under a prefix, sorted."""
    listing = aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def headers(result: dict[str, Any]) -> dict[str, str]:
    """A proxy result's headers, single- and multi-valued."""
    return {**(result.get("headers") or {}), **{k: v[0] for k, v in (result.get("multiValueHeaders") or {}).items()}}


def moto_state_machine(monkeypatch: pytest.MonkeyPatch, name: str, env_var: str) -> str:
    """A state machine in moto (it records executions and runs nothing) named as the template names it, its ARN
    in the environment variable the template sets: call it inside the aws fixture, before load_function."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = str(
        sfn.create_state_machine(name=name, definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/workflow")[
            "stateMachineArn"
        ]
    )
    monkeypatch.setenv(env_var, arn)
    return arn


def executions(arn: str) -> list[dict[str, Any]]:
    """The executions started on a moto state machine, described (name, input)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in found]
