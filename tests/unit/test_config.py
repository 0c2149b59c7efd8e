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


def test_liveavatar_full_and_lite_are_separate_choices_on_one_key():
    env = {"LIVEAVATAR_API_KEY": "la-marker"}
    full, lite = (config.provider_status(n, env=env, secrets={}) for n in PAIR)
    assert full.usable and lite.usable and full.label != lite.label
    assert config.PROVIDERS["liveavatar-lite"].mode == "LITE"
    assert config.base_url("liveavatar-lite", env={}, secrets={}) == "https://api.liveavatar.com"
    without = config.provider_status("liveavatar-lite", env={}, secrets={})
    assert not without.usable and "LIVEAVATAR_API_KEY" in without.reason
    embedded = config.provider_status("local-liveavatar-lite", env={}, secrets={})
    assert embedded.usable and config.PROVIDERS["local-liveavatar-lite"].embedded


PAIR = ("liveavatar", "liveavatar-lite")


@pytest.mark.parametrize(
    ("provider", "bridge", "can"),
    [
        ("liveavatar-lite", "text", "Audio → avatar lip-sync"),
        ("local-liveavatar-lite", "listen", "Audio → avatar lip-sync"),
        ("liveavatar", "audio", "Text → avatar voice, Avatar listens → text model"),
        ("heygen", "listen", "Text → avatar voice, Audio → avatar lip-sync"),
    ],
)
def test_a_bridge_mode_the_provider_cannot_show_is_refused_saying_what_it_can(
    provider: str, bridge: str, can: str
) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.check_bridge(provider, bridge)
    assert f"it can do: {can}" in str(err.value)
    assert config.PROVIDERS[provider].label in str(err.value)


def test_every_provider_can_show_some_bridge_and_lite_the_connector():
    for name, spec in config.PROVIDERS.items():
        assert spec.bridges, name
        for bridge in spec.bridges:
            config.check_bridge(name, bridge)
    assert set(config.PROVIDERS["local"].bridges) == {"text", "audio", "listen"}
    assert "connector" in config.PROVIDERS["local-liveavatar-lite"].bridges


def test_the_reaper_looks_wherever_our_sessions_can_outlive_us(monkeypatch):
    from lib.runtime.reaper import reap_providers

    for name in ("HEYGEN_API_KEY", "LIVEAVATAR_API_KEY", "AVATARLAB_LOCAL_HEYGEN_URL"):
        monkeypatch.delenv(name, raising=False)
    assert reap_providers() == []
    monkeypatch.setenv("LIVEAVATAR_API_KEY", "la-marker")
    assert reap_providers() == ["liveavatar", "liveavatar-lite"]
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", "http://127.0.0.1:9")
    assert reap_providers() == [
        "local", "local-liveavatar", "local-liveavatar-lite", "liveavatar", "liveavatar-lite",
    ]  # fmt: skip


def test_a_refused_combination_says_why():
    with pytest.raises(config.ConfigError) as err:
        config.check_bridge("heygen", "listen")
    assert "answers with its own LLM" in str(err.value) and "answer twice" in str(err.value)
