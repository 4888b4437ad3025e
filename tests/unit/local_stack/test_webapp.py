"""The web app's answers on the local API port (local_stack/webapp.py): files of web/ only, API routes first."""

from __future__ import annotations

import json
import re
from typing import Any

import jwt
import pytest

from local_stack import template
from local_stack.webapp import WEB_ROOT, WebApp

CONFIG = {"auth": "local", "apiUrl": "http://127.0.0.1:3000", "wsUrl": "ws://127.0.0.1:3001/v1",
          "storageUrl": "http://127.0.0.1:4566"}


def issue(user: str, *, now: float, **claims: Any) -> str:
    return jwt.encode({"sub": user, "iat": int(now), **claims}, "test-key-of-thirty-two-bytes-long", algorithm="HS256")


@pytest.fixture
def web() -> WebApp:
    return WebApp(config=lambda: CONFIG, issue_token=issue)


def test_index_and_assets_are_served_with_their_types_and_the_policy(web: WebApp) -> None:
    status, headers, body = web.answer("GET", "/", b"") or (0, {}, b"")
    assert status == 200 and body == (WEB_ROOT / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self' http://127.0.0.1:3000 http://127.0.0.1:4566 " \
        "ws://127.0.0.1:3001/v1" in policy
    status, headers, _ = web.answer("GET", "/assets/app.js", b"") or (0, {}, b"")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "Content-Security-Policy" not in headers and headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/../template.yaml", "/assets/../../README.md", "/assets/", "/missing.js",
                                  "/%2e%2e/template.yaml"])
def test_nothing_outside_web_and_no_missing_file_is_answered(web: WebApp, path: str) -> None:
    assert web.answer("GET", path, b"") is None


def test_only_get_and_head_read_files(web: WebApp) -> None:
    assert web.answer("POST", "/", b"") is None
    assert web.answer("DELETE", "/assets/app.js", b"") is None
    assert web.answer("HEAD", "/assets/app.css", b"") is not None


def test_config_is_the_stacks(web: WebApp) -> None:
    status, headers, body = web.answer("GET", "/config.json", b"") or (0, {}, b"")
    assert status == 200 and json.loads(body) == CONFIG and headers["Cache-Control"] == "no-store"


def test_local_sign_in_names_the_bad_field(web: WebApp) -> None:
    def answer(body: bytes) -> tuple[int, dict[str, Any]]:
        status, _, data = web.answer("POST", "/_local/token", body) or (0, {}, b"{}")
        return status, json.loads(data)

    status, data = answer(json.dumps({"user": "alice", "groups": ["admin"]}).encode())
    assert status == 200 and data["user"] == "alice"
    claims = jwt.decode(data["token"], options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["cognito:groups"] == ["admin"]
    assert "cognito:groups" not in jwt.decode(answer(b'{"user": "bob"}')[1]["token"],
                                              options={"verify_signature": False})
    for body, field in ((b"not json", "body"), (b"[1]", "body"), (b'{"user": ""}', "user"),
                        (b'{"user": "a/b"}', "user"), (b'{"user": "ok", "groups": ["root"]}', "groups"),
                        (b'{"user": "ok", "groups": "admin"}', "groups")):
        status, data = answer(body)
        assert status == 400 and data["errors"][0]["field"] == field, body
    assert answer(b"x" * 5000)[0] == 413
    assert (web.answer("GET", "/_local/token", b"") or (0,))[0] == 405


def test_no_file_of_the_app_shadows_or_is_shadowed_by_an_api_route(sam_template: template.LocalTemplate) -> None:
    """API routes win over files on the shared port: a file at an API route's path would never be served."""
    patterns = [route.pattern() for fn in sam_template.functions.values() for route in fn.routes]
    files = ["/" + str(p.relative_to(WEB_ROOT)) for p in WEB_ROOT.rglob("*") if p.is_file()]
    assert "/index.html" in files and "/assets/app.js" in files
    for path in [*files, "/", "/config.json", "/_local/token"]:
        assert not any(pattern.match(path) for pattern in patterns), path


def test_every_module_the_app_imports_exists() -> None:
    """A page or library module named in an import that is not in web/ would be a 403 in the browser."""
    for source in WEB_ROOT.rglob("*.js"):
        for target in re.findall(r"""(?:from|import\()\s*["'](\.[^"']+)["']""", source.read_text()):
            assert (source.parent / target).resolve().is_file(), f"{source.relative_to(WEB_ROOT)} imports {target}"

