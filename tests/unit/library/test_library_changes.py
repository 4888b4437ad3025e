"""soundcanvas.library.changes' request models: the upload limit as a bound, edits that name what they change."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from soundcanvas.library.changes import EditRequest, upload_request_model


def test_the_upload_limit_is_a_bound_of_each_file() -> None:
    small, large = upload_request_model(10), upload_request_model(1000)
    assert small is upload_request_model(10)  # one model per limit (the OpenAPI document names it once)
    file = {"fileName": "a.mp3", "contentType": "audio/mpeg", "sizeBytes": 11}
    assert large.model_validate({"files": [file]}).files[0].sizeBytes == 11  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as raised:
        small.model_validate({"files": [{**file, "sizeBytes": 1}, file]})
    assert [e["loc"] for e in raised.value.errors()] == [("files", 1, "sizeBytes")]
    schema = small.model_json_schema()
    assert schema["$defs"]["UploadFile"]["properties"]["sizeBytes"]["maximum"] == 10


def test_an_edit_changes_only_what_it_names_and_null_clears() -> None:
    edit = EditRequest.model_validate({"album": None, "tags": ["a"]})
    assert edit.model_dump(include=edit.model_fields_set) == {"album": None, "tags": ["a"]}
    with pytest.raises(ValidationError, match="send at least one of name, artist, album, tags"):
        EditRequest.model_validate({})
