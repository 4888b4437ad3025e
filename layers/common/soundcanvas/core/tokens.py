"""The one check of a caller's ID token (a JWT from the Cognito user pool), shared by the REST API's token
authorizer (functions/core/authorizer) and the WebSocket API's `$connect` (functions/core/websocket), so both
doors accept exactly the same tokens.

Checks: the key id is one the pool publishes in its JWKS (fetched once and cached, refetched for an unknown
key id); the RS256 signature; `iss` is the pool, `aud` is the app client, `token_use` is `id`; `exp`, `iat`
and `sub` are present and the token has not expired (5 s leeway); `sub` is a subject the product can store
(`soundcanvas.core.inputs.is_subject`: it becomes part of keys). Anything else raises a `jwt` error.
PyJWT is not in the Common layer: the two functions that import this module pin it in their requirements.txt.
"""

from __future__ import annotations

import os
from typing import Any

import jwt

from soundcanvas.core.inputs import is_subject

REJECTED = (jwt.PyJWTError, jwt.PyJWKClientError)  # what `verify` raises for a token it refuses


class TokenConfigError(RuntimeError):
    """TOKEN_ISSUER or TOKEN_AUDIENCE is missing."""


class TokenVerifier:
    """Verifies ID tokens of one user pool and app client; the JWKS client caches the pool's keys."""

    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None, *, timeout: float = 5) -> None:
        self.issuer, self.audience = issuer, audience
        self.jwks_url = jwks_url or f"{issuer}/.well-known/jwks.json"
        self.jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600, timeout=int(timeout))

    @classmethod
    def from_env(cls) -> TokenVerifier:
        """The pool the template names: TOKEN_ISSUER, TOKEN_AUDIENCE and (off AWS) JWKS_URL."""
        issuer, audience = os.environ.get("TOKEN_ISSUER", ""), os.environ.get("TOKEN_AUDIENCE", "")
        missing = [name for name, value in (("TOKEN_ISSUER", issuer), ("TOKEN_AUDIENCE", audience)) if not value]
        if missing:
            raise TokenConfigError(f"missing environment variable {', '.join(missing)}")
        return cls(issuer, audience, os.environ.get("JWKS_URL") or None)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if it is a valid ID token of this user pool and app client; raises jwt errors."""
        key = self.jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=5,
        )
        if claims.get("token_use") != "id":
            raise jwt.InvalidTokenError("not an ID token")
        if not isinstance(claims["sub"], str) or not is_subject(claims["sub"]):
            raise jwt.InvalidTokenError("subject is not one this product can store")
        return claims
