"""The local stack's identity provider: what the Cognito user pool is to the deployed API.

It signs ID tokens (RS256 JWTs with Cognito's claims: `sub`, `aud` = the app client, `iss` = the
pool, `token_use` = "id", `exp`, `iat`, `email` and `email_verified`) with a local RSA key, and
publishes the public key as a JWKS at the path Cognito uses, `/{poolId}/.well-known/jwks.json` on the S3/DynamoDB endpoint.
The API's own authorizer function verifies those tokens exactly as it verifies Cognito's.

The key lives in `.local-stack/idp-key.pem` (created on first use, never committed), so a token
printed by `python -m local_stack token USER` works against any running local stack.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from soundcanvas.core.inputs import is_subject

POOL_ID = "us-east-1_SoundCanvasLocal"
ISSUER = f"https://idp.soundcanvas.local/{POOL_ID}"
AUDIENCE = "soundcanvas-local-client"
JWKS_PATH = f"/{POOL_ID}/.well-known/jwks.json"
TOKEN_SECONDS = 3600
EMAIL_DOMAIN = "example.com"  # a token's default `email` claim is {user}@example.com; pass email=... to change it


class LocalIdentityProvider:
    def __init__(self, key_path: Path) -> None:
        self.key = _load_or_create_key(key_path)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        # The key id is the key's RFC 7638 thumbprint, as stable as the key file.
        canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")
        self.jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def issue(self, user: str, *, seconds: int = TOKEN_SECONDS, now: float | None = None, **claims: Any) -> str:
        """An ID token for `user` (its `sub`, and `email` {user}@example.com as Cognito's tokens carry one); extra
        claims override the defaults (tests forge bad ones; email=None gives a token with no address)."""
        if not is_subject(user):
            raise ValueError(f"user ids are 1-128 letters, digits, _ or - (starting with a letter or digit), got {user!r}")
        issued = int(now if now is not None else time.time())
        payload = {
            "sub": user,
            "cognito:username": user,
            "email": f"{user}@{EMAIL_DOMAIN}",  # Cognito's pool signs users in by e-mail (UsernameAttributes)
            "email_verified": True,
            "aud": AUDIENCE,
            "iss": ISSUER,
            "token_use": "id",
            "auth_time": issued,
            "iat": issued,
            "exp": issued + seconds,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})

    def environment(self, endpoint: str) -> dict[str, str]:
        """What the authorizer function reads: the pool's issuer, the app client, where the JWKS is."""
        return {"TOKEN_ISSUER": ISSUER, "TOKEN_AUDIENCE": AUDIENCE, "JWKS_URL": f"{endpoint}{JWKS_PATH}"}


def _load_key(path: Path) -> rsa.RSAPrivateKey | None:
    """The RSA key in `path`, None when there is no file; a file that holds anything else stops the stack, named."""
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise RuntimeError(f"{path} does not hold a PEM private key ({error}): remove it and start again") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RuntimeError(f"{path} does not hold an RSA private key: remove it and start again")
    return key


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The key in `path`, or a new one written there. Processes that start at once on a fresh checkout (two test
    workers' stacks, a stack and `local_stack token`) all end up with the first one written: a key that lost the race
    is dropped, never written over the winner (a stack already signing with the winner would refuse every token
    signed with the other)."""
    existing = _load_key(path)
    if existing is not None:
        return existing
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    partial = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(partial, path)  # readers see the whole key or none; fails if another process wrote one first
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: the last writer wins there
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    written = _load_key(path)
    if written is None:
        raise RuntimeError(f"{path} was removed as it was written: start again")
    return written
