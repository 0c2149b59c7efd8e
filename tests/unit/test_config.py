import pytest

from lib.core import config


def test_explicit_beats_secrets_beats_env():
    env = {"HEYGEN_API_KEY": "from-env"}
    secrets = {"HEYGEN_API_KEY": "from-secrets"}
    assert config.resolve("HEYGEN_API_KEY", "explicit", env=env, secrets=secrets) == "explicit"
    assert config.resolve("HEYGEN_API_KEY", env=env, secrets=secrets) == "from-secrets"
    assert config.resolve("HEYGEN_API_KEY", env=env, secrets={}) == "from-env"
    assert config.resolve("HEYGEN_API_KEY", env={}, secrets={"HEYGEN_API_KEY": "  "}) is None


def test_missing_key_error_names_what_to_set():
    with pytest.raises(config.ConfigError) as err:
        config.require_key("LIVEAVATAR_API_KEY", env={}, secrets={})
    msg = str(err.value)
    assert "LIVEAVATAR_API_KEY" in msg and "secrets.toml" in msg and "export" in msg


def test_secret_never_shows_itself():
    key = config.require_key("HEYGEN_API_KEY", env={"HEYGEN_API_KEY": "sk-marker-123"}, secrets={})
    assert key.reveal() == "sk-marker-123"
    for shown in (str(key), repr(key), f"{key}", repr([key])):
        assert "marker" not in shown


def test_provider_status_says_why_and_never_the_key():
    env = {"HEYGEN_API_KEY": "sk-marker-456"}
    local = config.provider_status("local", env={}, secrets={})
    heygen = config.provider_status("heygen", env=env, secrets={})
    live = config.provider_status("liveavatar", env=env, secrets={})
    assert local.usable and heygen.usable and not live.usable
    assert "LIVEAVATAR_API_KEY" in live.reason
    assert "marker" not in heygen.reason and "api.heygen.com" in heygen.reason


def test_base_url_override_and_db_path():
    env = {"HEYGEN_BASE_URL": "http://127.0.0.1:9/", "AVATARLAB_DB": "/tmp/x.db"}
    assert config.base_url("heygen", env=env, secrets={}) == "http://127.0.0.1:9"
    assert config.base_url("liveavatar", env={}, secrets={}) == "https://api.liveavatar.com"
    assert config.db_path(env) == "/tmp/x.db"
    assert config.db_path({}).endswith("data/avatarlab.db")
