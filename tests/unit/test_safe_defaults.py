"""The service refuses to serve with the public development JWT secret unless DEV_MODE
is on; the CLI says why and exits non-zero."""
import pytest

from killrvideo_reco import cli
from killrvideo_reco.api.app import create_app
from killrvideo_reco.settings import DEV_JWT_SECRET, Settings, UnsafeSettings, get_settings


def test_app_refuses_the_development_secret():
    with pytest.raises(UnsafeSettings, match="DEV_MODE=1"):
        create_app(Settings(embedding_provider="hashing"))


def test_app_starts_in_dev_mode_or_with_a_real_secret():
    assert create_app(Settings(embedding_provider="hashing", dev_mode=True)).title
    assert create_app(Settings(embedding_provider="hashing", jwt_secret="s" * 40)).title


@pytest.mark.parametrize("secret", ["", "short-secret"])
def test_app_refuses_a_short_secret(secret):
    with pytest.raises(UnsafeSettings, match="shorter than 32 bytes"):
        Settings(jwt_secret=secret).check_safe_to_serve()


def test_asymmetric_keys_do_not_need_the_secret():
    Settings(jwt_algorithm="RS256", jwt_public_key="pem").check_safe_to_serve()


def test_dev_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEV_MODE", "1")
    assert Settings().dev_mode is True
    monkeypatch.setenv("DEV_MODE", "0")
    assert Settings().dev_mode is False and Settings().jwt_secret == DEV_JWT_SECRET


def test_serve_command_exits_with_the_reason(monkeypatch, capsys):
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)  # keep pytest's handlers
    get_settings.cache_clear()
    try:
        assert cli.main(["serve"]) == 2
    finally:
        get_settings.cache_clear()
    assert "refusing to start" in capsys.readouterr().err
