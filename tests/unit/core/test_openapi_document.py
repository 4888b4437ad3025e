"""The OpenAPI document served at /openapi.json is the one the code generates, and covers every route."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from local_stack.template import LocalTemplate

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
