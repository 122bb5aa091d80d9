import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import REGISTRY

from killrvideo_reco.auth import AuthError, TokenVerifier, effective_roles, mint, verify
from killrvideo_reco.settings import Settings, replication_map


def test_roles_imply_viewer():
    assert effective_roles(["creator"]) == {"creator", "viewer"}
    assert effective_roles("moderator") == {"moderator", "viewer"}
    assert effective_roles(["guest", 3]) == frozenset()


def killrvideo_token(secret: str, user: uuid.UUID) -> str:
    """Shaped exactly as the KillrVideo 2025 backend signs them: HS256, the account status
    as the roles claim."""
    return jwt.encode({"sub": str(user), "roles": ["active"], "exp": int(time.time()) + 600},
                      secret, "HS256")


def test_a_role_map_lets_killrvideo_backend_tokens_in():
    user = uuid.uuid4()
    plain = Settings()
    assert verify(killrvideo_token(plain.jwt_secret, user), plain).roles == frozenset()
    mapped = Settings(jwt_role_map="active=viewer, staff=moderator")
    principal = verify(killrvideo_token(mapped.jwt_secret, user), mapped)
    assert principal.user_id == user and principal.roles == {"viewer"}
    assert effective_roles(["staff", "active"], mapped.role_map) == {"moderator", "viewer"}
    assert effective_roles(["creator"], mapped.role_map) == {"creator", "viewer"}, \
        "our own role names still work"
    for bad in ("active", "active=admin", "=viewer"):
        with pytest.raises(ValueError, match="JWT_ROLE_MAP"):
            Settings(jwt_role_map=bad)


def test_hs256_round_trip_with_issuer_and_audience():
    settings = Settings(jwt_issuer="killrvideo", jwt_audience="reco")
    user = uuid.uuid4()
    principal = verify(mint(settings, user, ["viewer"]), settings)
    assert principal.user_id == user and principal.has("viewer")
    with pytest.raises(AuthError, match="audience"):
        verify(mint(Settings(jwt_issuer="killrvideo", jwt_audience="other"), user, ["viewer"]),
               settings)
    with pytest.raises(AuthError, match="issuer"):
        verify(mint(Settings(jwt_issuer="evil", jwt_audience="reco"), user, ["viewer"]), settings)


def test_leeway_accepts_small_clock_skew_only():
    settings = Settings(jwt_leeway_s=30)
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "roles": ["viewer"], "exp": now - 10}
    assert verify(jwt.encode(claims, settings.jwt_secret, "HS256"), settings)
    claims["exp"] = now - 120
    with pytest.raises(AuthError, match="expired"):
        verify(jwt.encode(claims, settings.jwt_secret, "HS256"), settings)


def test_the_verifier_keeps_accepted_tokens_until_they_expire(monkeypatch):
    settings = Settings(jwt_leeway_s=0, jwt_cache_size=2)
    verifier = TokenVerifier(settings)
    user, exp = uuid.uuid4(), int(time.time()) + 2
    token = jwt.encode({"sub": str(user), "roles": ["viewer"], "exp": exp},
                       settings.jwt_secret, "HS256")
    def tokens(result: str) -> float:
        return REGISTRY.get_sample_value("killrvideo_auth_tokens_total", {"result": result}) or 0.0
    before = {r: tokens(r) for r in ("kept", "verified", "refused")}
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k))
    assert verifier(token).user_id == user and verifier(token).user_id == user
    assert len(decoded) == 1, "the second request took the kept answer"
    assert [tokens(r) - before[r] for r in before] == [1, 1, 0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(2):  # a refused token is never kept: each try is checked again
        with pytest.raises(AuthError):
            verifier(forged)
    assert len(decoded) == 3
    assert tokens("refused") - before["refused"] == 2
    off = TokenVerifier(Settings(jwt_cache_size=0))
    decoded.clear()
    off(token), off(token)
    assert len(decoded) == 2, "JWT_CACHE_SIZE=0 checks every request"
    # Past exp (+ leeway) the kept answer is not used: the full check says why.
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(AuthError, match="expired"):
        verifier(token)


def test_rs256_with_public_key_and_no_hs_confusion():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    settings = Settings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    user = uuid.uuid4()
    assert verify(mint(settings, user, ["viewer"], private_key=private_pem), settings).user_id == user
    forged = jwt.encode({"sub": str(user), "exp": int(time.time()) + 60}, "secret", "HS256")
    with pytest.raises(AuthError):
        verify(forged, settings)


def test_missing_exp_is_rejected():
    settings = Settings()
    token = jwt.encode({"sub": str(uuid.uuid4())}, settings.jwt_secret, "HS256")
    with pytest.raises(AuthError, match="exp"):
        verify(token, settings)


def test_replication_specs():
    assert replication_map("SimpleStrategy:3") == {"class": "SimpleStrategy", "replication_factor": 3}
    assert replication_map("NetworkTopologyStrategy:dc1=3,dc2=2") == {
        "class": "NetworkTopologyStrategy", "dc1": 3, "dc2": 2}
    for bad in ("Weird:1", "NetworkTopologyStrategy:", "NetworkTopologyStrategy:dc1", "SimpleStrategy:0"):
        with pytest.raises(ValueError):
            replication_map(bad)


def test_settings_read_environment(monkeypatch):
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", "10.0.0.1, 10.0.0.2")
    monkeypatch.setenv("VECTOR_DIMENSION", "768")
    settings = Settings()
    assert settings.contact_points == ["10.0.0.1", "10.0.0.2"]
    assert settings.vector_dimension == 768
