"""Fixtures the library's API tests share: the TracksApi handler on a hand-moved clock, and the
track records it writes."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from soundcanvas.library.tracks import TrackStore
from tests.conftest import ManualClock, load_function


@pytest.fixture
def api(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    module = load_function("tracks_api")
    monkeypatch.setattr(module, "stepfunctions", mock.Mock())
    monkeypatch.setattr(module, "clock", clock)
    module.store.clock = clock
    return module


@pytest.fixture
def store(aws: dict[str, Any], clock: ManualClock) -> TrackStore:
    return TrackStore(aws["tracks_table"], "us-east-1", clock=clock)
