"""JWT verification and minting (PyJWT). No HTTP here: api/deps.py maps the errors."""
from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import jwt
from cachetools import LRUCache

from killrvideo_reco.metrics import AUTH_TOKENS
from killrvideo_reco.settings import Settings

# creator and moderator include viewer.
ROLE_IMPLIES = {"viewer": {"viewer"}, "creator": {"creator", "viewer"},
                "moderator": {"moderator", "viewer"}}
_KEPT, _VERIFIED, _REFUSED = (AUTH_TOKENS.labels(r) for r in ("kept", "verified", "refused"))


class AuthError(Exception):
    """The token is missing, malformed, expired or not ours: 401."""


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles


def effective_roles(claimed: object, role_map: Mapping[str, str] | None = None) -> frozenset[str]:
    """Our roles for a `roles` claim; `role_map` (JWT_ROLE_MAP) first translates another
    issuer's names, such as the KillrVideo backend's account status `active`."""
    if isinstance(claimed, str):
        names: list[object] = [claimed]
    else:
        names = list(claimed) if isinstance(claimed, (list, tuple, set, frozenset)) else []
    mapped = [(role_map or {}).get(name, name) for name in names if isinstance(name, str)]
    return frozenset(r for name in mapped for r in ROLE_IMPLIES.get(name, ()))


def verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("HS"):
        return settings.jwt_secret
    if not settings.jwt_public_key:
        raise AuthError(f"JWT_PUBLIC_KEY must be set for {settings.jwt_algorithm}")
    return settings.jwt_public_key


def verify(token: str, settings: Settings) -> Principal:
    return _verified(token, settings)[0]


class TokenVerifier:
    """verify() that remembers the tokens it accepted until they expire. A client sends
    the same token with every request, and checking its signature again is a tenth of a
    millisecond of the event loop; the answer cannot change while the token is in date.
    Only accepted tokens are kept, by their exact text, in a bounded LRU."""

    def __init__(self, settings: Settings):
        self.settings = settings
        size = settings.jwt_cache_size
        self._accepted: LRUCache[str, tuple[Principal, float]] | None = (
            LRUCache(maxsize=size) if size > 0 else None)

    def __call__(self, token: str) -> Principal:
        kept = self._accepted.get(token) if self._accepted is not None else None
        if kept is not None and time.time() < kept[1]:
            _KEPT.inc()
            return kept[0]
        # Not kept, or out of date: the full check gives the answer and the exact error.
        try:
            principal, expires = _verified(token, self.settings)
        except AuthError:
            _REFUSED.inc()
            raise
        _VERIFIED.inc()
        if self._accepted is not None:
            self._accepted[token] = (principal, expires + self.settings.jwt_leeway_s)
        return principal


def _verified(token: str, settings: Settings) -> tuple[Principal, float]:
    """The token's principal and its `exp`; AuthError says why it is refused."""
    options: jwt.types.Options = {"require": ["exp", "sub"],
                                  "verify_aud": bool(settings.jwt_audience)}
    try:
        # Only the configured algorithm is accepted: this is what rejects alg=none
        # and HS/RS confusion.
        claims = jwt.decode(
            token, verification_key(settings), algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience or None, issuer=settings.jwt_issuer or None,
            leeway=settings.jwt_leeway_s, options=options)
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired") from error
    except jwt.ImmatureSignatureError as error:
        raise AuthError("the token is not valid yet (nbf/iat in the future)") from error
    except jwt.InvalidAudienceError as error:
        raise AuthError("the token is for another audience") from error
    except jwt.InvalidIssuerError as error:
        raise AuthError("the token comes from another issuer") from error
    except jwt.MissingRequiredClaimError as error:
        raise AuthError(f"the token lacks the '{error.claim}' claim") from error
    except jwt.InvalidTokenError as error:
        raise AuthError(f"the token is invalid ({type(error).__name__})") from error
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError as error:
        raise AuthError("the token's 'sub' claim is not a user UUID") from error
    return (Principal(user_id, effective_roles(claims.get("roles"), settings.role_map)),
            float(claims["exp"]))


def mint(settings: Settings, user_id: uuid.UUID, roles: list[str], ttl_s: int = 86400,
         private_key: str | None = None) -> str:
    """Sign a token for local use and tests (HS* with the configured secret by default)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "roles": roles, "iat": now, "nbf": now, "exp": now + ttl_s}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    key = private_key or settings.jwt_secret
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm)
