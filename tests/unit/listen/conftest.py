"""Fixtures Listen's API tests share: the TranscriptionsApi handler on a hand-moved clock with Step
Functions mocked at the edge, and the stores it writes (transcriptions, library tracks, preferences)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from soundcanvas.library.tracks import TrackStore
from soundcanvas.listen.preferences import PreferencesStore
from soundcanvas.listen.transcriptions import TranscriptionStore
from tests.conftest import ManualClock, load_function


@pytest.fixture
def api(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    module = load_function("transcriptions_api")
    monkeypatch.setattr(module, "stepfunctions", mock.Mock())
    monkeypatch.setattr(module, "clock", clock)
    module.quotas.clock = clock
    return module


@pytest.fixture
def transcription_store(aws: dict[str, Any], clock: ManualClock) -> TranscriptionStore:
    return TranscriptionStore(aws["transcriptions_table"], "us-east-1", clock=clock)


@pytest.fixture
def track_store(aws: dict[str, Any], clock: ManualClock) -> TrackStore:
    return TrackStore(aws["tracks_table"], "us-east-1", clock=clock)


@pytest.fixture
def preferences_store(aws: dict[str, Any]) -> PreferencesStore:
    return PreferencesStore(aws["users_table"], "us-east-1")
