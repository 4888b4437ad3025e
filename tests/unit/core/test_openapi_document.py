"""The OpenAPI document served at /openapi.json is the one the code generates, and covers every route."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local_stack.template import LocalTemplate
from tests.apigw import call, event
from tests.conftest import load_function

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_document_is_what_the_code_says() -> None:
    done = subprocess.run([sys.executable, "tools/openapi.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_every_template_route_is_described_with_its_security(sam_template: LocalTemplate) -> None:
    document = json.loads((ROOT / "functions/core/health/openapi.json").read_text())
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    routes = {(r.method, r.path) for fn in sam_template.functions.values() for r in fn.routes}
    assert described == routes
    no_token = {r.path for fn in sam_template.functions.values() for r in fn.routes if not r.authorizer}
    assert no_token == {"/health", "/health/ready", "/health/detailed", "/openapi.json", "/billing/webhook"}
    for path, ops in document["paths"].items():
        for op in ops.values():
            public = op.get("security") == []
            assert public == (path in no_token), path


def _document() -> dict[str, Any]:
    return json.loads((ROOT / "functions/core/health/openapi.json").read_text())


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    return document["components"]["schemas"][ref.removeprefix("#/components/schemas/")]


def test_errors_are_documented_as_the_api_answers_them() -> None:
    """core/api.py answers a refused request with 400, an over-size JSON body with 413 and a body that is not JSON
    with 415, never Powertools' 422."""
    document = _document()
    error_ref = "#/components/schemas/ErrorResponse"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert "422" not in op["responses"], where
            for code in ("400", "413", "415"):
                if "requestBody" in op and (where, code) != ("POST /billing/webhook", "415"):  # reads any type
                    assert code in op["responses"], (where, code)
                if code in op["responses"]:
                    schema = op["responses"][code]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, (where, code)
    assert {"400", "413", "415"} <= set(document["paths"]["/graphql"]["post"]["responses"])
    assert "415" not in document["paths"]["/billing/webhook"]["post"]["responses"]
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(document["components"]["schemas"])
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        _schema(document, ref)  # every reference resolves


def test_every_post_but_checkout_describes_its_body() -> None:
    """A route that reads its own body publishes it through its module's OPENAPI_BODIES (tools/openapi.py);
    POST /billing/checkout is the one POST that reads no body."""
    document = _document()
    bodiless = {path for path, ops in document["paths"].items() if "post" in ops and "requestBody" not in ops["post"]}
    assert bodiless == {"/billing/checkout"}
    content = {path: set(document["paths"][path]["post"]["requestBody"]["content"])
               for path in ("/identify", "/tracks/direct", "/billing/webhook", "/graphql")}
    assert content == {"/identify": {"multipart/form-data", "application/json"}, "/tracks/direct": {"multipart/form-data"},
                       "/billing/webhook": {"application/json"}, "/graphql": {"application/json"}}


def _answer_schema(method: str, path: str, status: int) -> dict[str, Any]:
    document = _document()
    answer = document["paths"][path][method.lower()]["responses"][str(status)]
    return _schema(document, answer["content"]["application/json"]["schema"]["$ref"])


@pytest.mark.parametrize(
    ("function", "path", "body", "content_type", "status", "field"),
    [
        ("generations_api", "/generations", {"durationSeconds": "long"}, "application/json", 400, "durationSeconds"),
        ("generations_api", "/generations", {"genre": "lofi"}, "text/plain", 415, "Content-Type"),
        ("graphql_api", "/graphql", {"query": "{ __typename }", "unknown": 1}, "application/json", 400, "unknown"),
        ("graphql_api", "/graphql", {"query": "{ __typename }"}, "text/plain", 415, "Content-Type"),
        ("generations_api", "/generations", {"genre": "x" * 300_000}, "application/json", 413, "body"),
        ("tracks_api", "/tracks/direct", {"file": "x"}, "application/json", 415, "Content-Type"),
    ],
)
def test_a_bad_request_is_answered_as_documented(aws: dict[str, Any], function: str, path: str, body: Any,
                                                 content_type: str, status: int, field: str) -> None:
    sent = event("POST", path, body=body)
    sent["headers"] = {"Content-Type": content_type}
    answered, payload = call(load_function(function), sent)
    assert answered == status, payload
    jsonschema.validate(payload, _answer_schema("POST", path, status), cls=jsonschema.Draft202012Validator)
    assert [e["field"] for e in payload["errors"]] == [field]
