"""API Gateway REST proxy events for handler tests, shaped as API Gateway sends them."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import FakeContext


def event(method: str, path: str, *, user: str | None = "alice", body: Any = None,
          query: dict[str, str] | None = None, resource: str | None = None,
          path_params: dict[str, str] | None = None, email: str | None = None) -> dict[str, Any]:
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_params,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "requestId": "r1",
            "authorizer": {"principalId": user, "sub": user, "username": user,
                           **({"email": email} if email is not None else {})} if user else None,
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(api: Any, ev: dict[str, Any]) -> tuple[int, Any]:
    result = api.lambda_handler(ev, FakeContext())
    return result["statusCode"], (json.loads(result["body"]) if result["body"] else None)
