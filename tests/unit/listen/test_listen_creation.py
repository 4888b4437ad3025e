"""soundcanvas.listen.creation's pure rules: a new transcription's options, and the request model's bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from soundcanvas.listen.creation import default_options, options, transcription_request_model

pytest.importorskip("soundcanvas.listen.tab", reason="the tab module (tunings) is not written yet")
DROP_D = ["D2", "A2", "D3", "G3", "B3", "E4"]


def test_what_a_request_leaves_out_comes_from_the_defaults() -> None:
    model = transcription_request_model(1000)
    base, stale = default_options("drop-d")
    assert not stale and base == {"instrument": "auto", "tuning": {"name": "drop-d", "strings": DROP_D}, "capo": 0}
    assert options(model(capo=3), base) == {**base, "capo": 3}
    chosen = options(model(instrument="bass", tuning="standard"), base)
    assert chosen["instrument"] == "bass" and chosen["tuning"]["strings"][0] == "E2" and chosen["capo"] == 0


def test_a_preferred_tuning_that_no_longer_parses_falls_back_to_standard_and_says_so() -> None:
    base, stale = default_options("no-such-tuning")
    assert stale and base["tuning"] == default_options("standard")[0]["tuning"]


def test_the_upload_limit_is_a_bound_of_the_model_and_upload_fields_exclude_a_track() -> None:
    model = transcription_request_model(1000)
    assert model is transcription_request_model(1000)  # one model per limit (the OpenAPI document names it once)
    assert model(sizeBytes=1000).sizeBytes == 1000
    with pytest.raises(ValidationError, match="sizeBytes"):
        model(sizeBytes=1001)
    with pytest.raises(ValidationError, match="leave it out when you give trackId"):
        model(trackId="t1", contentType="audio/wav")
