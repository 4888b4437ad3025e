"""The web app (web/) on the API's port, as CloudFront serves it from the web bucket when deployed.

`/` is web/index.html and every other file of web/ is served at its path, so the URL layout is the
bucket's layout. Two answers exist only here:

- `/config.json`, which a deployment writes into the bucket (tools/publish_web.py), is made from the
  running stack: the API and WebSocket addresses and `"auth": "local"`;
- `POST /_local/token` `{"user": "alice", "groups": ["admin"]?}` signs the user in: an ID token from
  the stack's identity provider, as `python -m local_stack token` prints one. Deployed, the Cognito
  hosted UI does this.

API routes win over files (nothing in web/ shadows one: tests/unit/local_stack checks it).
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soundcanvas.core.inputs import is_subject

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
SIGN_IN_PATH = "/_local/token"
MAX_TOKEN_BODY = 4096
GROUPS = {"admin"}  # the user pool groups the product knows (soundcanvas.maps.karma honours `admin`)

# What CloudFront's response headers policy sends (template.yaml, WebSecurityHeaders), with the local
# API, WebSocket and S3 endpoints standing in for the deployed ones.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}

Reply = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(payload).encode()


class WebApp:
    """Answers the web app's paths; `answer` returns None for anything else (the API's)."""

    def __init__(self, *, config: Callable[[], dict[str, Any]], issue_token: Callable[..., str],
                 root: Path = WEB_ROOT) -> None:
        self.root = root.resolve()
        self.config, self.issue_token = config, issue_token

    def content_security_policy(self) -> str:
        conf = self.config()
        connect = " ".join(sorted({conf["apiUrl"], conf["wsUrl"], conf["storageUrl"]} - {""}))
        return ("default-src 'self'; script-src 'self'; style-src 'self'; "
                f"img-src 'self' data: blob: {conf['storageUrl']}; media-src 'self' blob: {conf['storageUrl']}; "
                f"connect-src 'self' {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

    def file_for(self, path: str) -> Path | None:
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        candidate = (self.root / relative).resolve()
        if self.root not in candidate.parents or not candidate.is_file():
            return None
        return candidate

    def answer(self, method: str, path: str, body: bytes) -> Reply | None:
        if path == SIGN_IN_PATH:
            if method != "POST":
                return _json(405, {"message": "POST a JSON body {\"user\": \"<name>\"}"})
            return self._token(body)
        if method not in ("GET", "HEAD"):
            return None
        if path == "/config.json":
            return _json(200, self.config())
        found = self.file_for(path)
        if found is None:
            return None
        ctype = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        headers = {"Content-Type": ctype, "Cache-Control": "no-cache", **SECURITY_HEADERS}
        if found.suffix == ".html":
            headers["Content-Security-Policy"] = self.content_security_policy()
        return 200, headers, found.read_bytes()

    def _token(self, body: bytes) -> Reply:
        if len(body) > MAX_TOKEN_BODY:
            return _json(413, {"message": "the body is over 4 KB"})
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return _json(400, {"message": "the body is not JSON", "errors": [{"field": "body", "message": "not JSON"}]})
        if not isinstance(payload, dict):
            return _json(400, {"message": "the body must be a JSON object",
                               "errors": [{"field": "body", "message": "must be an object"}]})
        user, groups = payload.get("user"), payload.get("groups") or []
        if not isinstance(user, str) or not is_subject(user):
            return _json(400, {"message": "user: 1-128 letters, digits, _ or -, starting with a letter or digit",
                               "errors": [{"field": "user", "message": "1-128 letters, digits, _ or -"}]})
        if not isinstance(groups, list) or not set(groups) <= GROUPS:
            return _json(400, {"message": f"groups: a list of {sorted(GROUPS)}",
                               "errors": [{"field": "groups", "message": f"a list of {sorted(GROUPS)}"}]})
        claims: dict[str, Any] = {"cognito:groups": groups} if groups else {}
        # Real time, not the stack's clock: the authorizer checks expiry against the wall clock.
        return _json(200, {"token": self.issue_token(user, now=time.time(), **claims), "user": user})
