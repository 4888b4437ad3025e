"""Generate the API's OpenAPI document from the code: each API function's Powertools resolver
describes its own routes and pydantic models; this merges them into one document, adds the
bearer-token security scheme and the API's own error answers (400, 415, in place of Powertools' 422),
and writes it where the Health function serves it (`/openapi.json`).

    python tools/openapi.py            # rewrite functions/core/health/openapi.json
    python tools/openapi.py --check    # exit 1 if the committed document is not what the code says
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "functions/core/health/openapi.json"
API_FUNCTIONS = (
    "generation/generations_api",
    "library/tracks_api",
    "listen/transcriptions_api",
    "blend/songs_api",
    "blend/blends_api",
    "maps/maps_api",
    "maps/community_api",
    "maps/analysis/identify.py",
    "core/account_api",
    "core/billing_api",
    "core/me_api",
    "core/graphql_api",
    "core/health",
)
# The API never answers Powertools' 422 "Validation Error": core/api.py (install_error_handlers) answers a request
# that fails validation, a field the rules refuse or a bad cursor with 400, and a body sent as another type (a form,
# text) with 415, both as this body. document() puts those two in place of the 422 Powertools documents.
ERROR_RESPONSE = {
    "title": "ErrorResponse",
    "description": "What the API answers for a request it refuses: a message, and each field with what is wrong.",
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERROR_ANSWERS = {
    "400": "The request is refused: `message` names the field and what is wrong with it, `errors` lists each one "
           "(a body or parameter that fails validation, a value the rules refuse, a bad cursor).",
    "413": "The JSON body is over 256 KB (core/inputs.py JSON_MAX_BYTES), refused before it is read; `errors` names "
           "the field body.",
    "415": "The request body is not JSON (sent as a form or text): send it with Content-Type: application/json; "
           "`errors` names the field Content-Type.",
}
POWERTOOLS_ERRORS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")  # shapes never answered
PUBLIC = {"/health", "/health/ready", "/health/detailed", "/openapi.json", "/billing/webhook"}  # webhook: Stripe signs it
# Only what the modules need to import; nothing is called.
IMPORT_ENV = {
    "TABLE_NAME": "GenerationsTable",
    "BUCKET_NAME": "MediaBucket",
    "AWS_REGION": "us-east-1",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:GenerationStateMachine",
    "TRACKS_TABLE_NAME": "TracksTable",
    "USERS_TABLE_NAME": "UsersTable",
    "QUOTAS_TABLE_NAME": "QuotasTable",
    "TRACK_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:TrackStateMachine",
    "TRANSCRIPTIONS_TABLE_NAME": "TranscriptionsTable",
    "LISTEN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:ListenStateMachine",
    "SONGS_TABLE_NAME": "SongsTable",
    "BLENDS_TABLE_NAME": "BlendsTable",
    "BLEND_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:BlendStateMachine",
    "SONG_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:SongStateMachine",
    "MAPS_TABLE_NAME": "MapsTable",
    "COMMUNITY_TABLE_NAME": "CommunityTable",
    "FINGERPRINTS_TABLE_NAME": "FingerprintsTable",
    "MAP_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:MapStateMachine",
    "BILLING_TABLE_NAME": "BillingTable",
    "NOTIFICATIONS_TABLE_NAME": "NotificationsTable",
    "CONNECTIONS_TABLE_NAME": "ConnectionsTable",
    "WEBSOCKET_ENDPOINT": "https://LiveProgressApi.execute-api.us-east-1.amazonaws.com/v1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "unused",
    "AWS_SECRET_ACCESS_KEY": "unused",
}


def _module(name: str) -> Any:
    path = ROOT / "functions" / name if name.endswith(".py") else ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"_openapi_{name.replace('/', '_').replace('.', '_')}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


def document() -> dict[str, Any]:
    for key, value in IMPORT_ENV.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT / "layers/common"))
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "SoundCanvas API",
            "version": "1.0.0",
            "description": "Picture to music, the track library and Guess the Track, Listen (audio to tabs), Blend "
                           "(the song catalog and blends) and Maps (identify songs, drum maps).",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "idToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An ID token of the SoundCanvas Cognito user pool.",
                }
            },
        },
        "security": [{"idToken": []}],
    }
    errors: dict[tuple[str, str], dict[str, str | None]] = {}
    for name in API_FUNCTIONS:
        module = _module(name)
        part = json.loads(module.app.get_openapi_json_schema(title="SoundCanvas API", version="1.0.0"))
        for path, operations in part.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        merged["components"]["schemas"].update((part.get("components") or {}).get("schemas", {}))
        # A POST route that reads its own body (no pydantic model for Powertools to describe) publishes it:
        # OPENAPI_BODIES = {path: {content type: JSON schema with a title}}, one entry per type it reads; and where
        # its refusals differ from ERROR_ANSWERS, OPENAPI_ERRORS = {path: {code: its own text, or None: never}}.
        for path, content in getattr(module, "OPENAPI_BODIES", {}).items():
            body: dict[str, Any] = {"content": {}, "required": True}
            for content_type, schema in content.items():
                assert merged["components"]["schemas"].setdefault(schema["title"], schema) == schema, schema["title"]
                body["content"][content_type] = {"schema": {"$ref": f"#/components/schemas/{schema['title']}"}}
            merged["paths"][path]["post"]["requestBody"] = body
        errors.update({(path, "post"): answers for path, answers in getattr(module, "OPENAPI_ERRORS", {}).items()})
    merged["paths"]["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi_get",
            "responses": {"200": {"description": "The OpenAPI document"}},
        }
    }
    unknown = sorted(path for path, method in errors if method not in merged["paths"].get(path, {}))
    assert not unknown, f"OPENAPI_ERRORS names a path with no POST route: {unknown}"
    for path in PUBLIC:
        for operation in merged["paths"].get(path, {}).values():
            operation["security"] = []
    for path, operations in merged["paths"].items():
        for method, operation in operations.items():
            _document_errors(operation, errors.get((path, method), {}))
    for name in POWERTOOLS_ERRORS:
        merged["components"]["schemas"].pop(name, None)
    merged["components"]["schemas"]["ErrorResponse"] = ERROR_RESPONSE
    merged["paths"] = dict(sorted(merged["paths"].items()))
    merged["components"]["schemas"] = dict(sorted(merged["components"]["schemas"].items()))
    return merged


def _document_errors(operation: dict[str, Any], own: dict[str, str | None]) -> None:
    """400 for an operation Powertools validates (it documented 422) or that takes a body; 413 and 415 for one that
    takes a body (core/api.resolve refuses an over-size JSON body before any route; /graphql's POST reads its own
    body: no 422, but the same 400, 413 and 415). `own` is the route's OPENAPI_ERRORS: its text for a code, or None
    for one of these it never answers (Stripe's webhook reads any body: no 415)."""
    responses = operation["responses"]
    validated = responses.pop("422", None) is not None
    takes_body = "requestBody" in operation
    codes = ["400"] if validated or takes_body else []
    if takes_body:
        codes += ["413", "415"]
    assert set(own) <= set(codes), (operation["operationId"], own)
    for code in codes:
        description = own.get(code, ERROR_ANSWERS[code])
        if description is None:
            continue
        responses[code] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    text = json.dumps(document(), indent=2, sort_keys=False) + "\n"
    if parser.parse_args().check:
        if DOCUMENT.read_text() != text:
            sys.stderr.write(f"{DOCUMENT.relative_to(ROOT)} is out of date: run python tools/openapi.py\n")
            return 1
        return 0
    DOCUMENT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
