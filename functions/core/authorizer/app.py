"""Authorizer: the API's Lambda TOKEN authorizer. Verifies the caller's ID token (a JWT from the
Cognito user pool) and hands API Gateway the user: `principalId` = the token's `sub`; the context also carries
the token's `email` (when verified) and its `cognito:groups` joined with ",".

Checks, in order: a `Bearer` token is present and well formed; its key id is one the user pool
publishes in its JWKS (fetched once and cached, refetched for an unknown key id); the RS256
signature; `iss` is the pool, `aud` is the app client, `token_use` is `id`; `exp`, `iat` and
`sub` are present and the token has not expired; `sub` is a subject the product can store
(`soundcanvas.core.inputs.is_subject`: it becomes part of keys). Anything else raises `Unauthorized`, which API
Gateway answers with 401 and a JSON message. The local stack runs this very function against
its own key, published as a JWKS the same way, so tests exercise the code that runs in AWS.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from soundcanvas.core.tokens import REJECTED, TokenVerifier

logger = Logger()


class ConfigError(RuntimeError):
    """A required environment variable is missing."""


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"missing environment variable {name}")
    return value


ISSUER = _required("TOKEN_ISSUER")
AUDIENCE = _required("TOKEN_AUDIENCE")
JWKS_URL = os.environ.get("JWKS_URL") or f"{ISSUER}/.well-known/jwks.json"
verifier = TokenVerifier(ISSUER, AUDIENCE, JWKS_URL)  # the WebSocket API's $connect runs the same check
jwks = verifier.jwks


def _allow(principal: str, method_arn: str, claims: dict[str, Any]) -> dict[str, Any]:
    # arn:aws:execute-api:region:account:apiId/stage/METHOD/path -> every route of this stage, so
    # API Gateway can cache the answer for the token across routes (ReauthorizeEvery).
    api_arn, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0] or "*"
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{api_arn}/{stage}/*/*"}],
        },
        "context": {"sub": principal, "username": str(claims.get("cognito:username") or principal),
                    "email": _verified_email(claims), "groups": _groups(claims)},
    }


def _verified_email(claims: dict[str, Any]) -> str:
    """The token's `email` claim, unless the pool says it is not verified ("" when absent: API Gateway's
    context holds strings, numbers and booleans, never null). Notifications are mailed to it."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") in (False, "false"):
        return ""
    return email.strip()


def _groups(claims: dict[str, Any]) -> str:
    """The token's `cognito:groups` joined with "," (a context value cannot be a list); "" for none."""
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):
        groups = [groups]
    return ",".join(str(group) for group in groups if isinstance(group, str) and group and "," not in group)


def verify(token: str) -> dict[str, Any]:
    """The token's claims if it is a valid ID token of this user pool and app client; raises jwt errors
    (soundcanvas.core.tokens: the check the WebSocket API's $connect shares)."""
    return verifier.verify(token)


@logger.inject_lambda_context(log_event=False)  # the event holds the token: never logged
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    header = str(event.get("authorizationToken") or "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        logger.info("rejected: no bearer token")
        raise Exception("Unauthorized")
    try:
        claims = verify(token.strip())
    except REJECTED as exc:
        logger.info("rejected token", extra={"reason": type(exc).__name__})
        raise Exception("Unauthorized") from exc
    return _allow(str(claims["sub"]), str(event.get("methodArn", "")), claims)
