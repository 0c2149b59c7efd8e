"""`python -m lib serve` listens on loopback unless told otherwise, and refuses an address other
machines can reach while sign-in is not configured in the secrets Streamlit will read."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.cli.serve import LOOPBACK, REFUSED, ServeSettings, read_settings, refusal, run_args
from lib.core.identity import AUTH_KEYS
from tests.conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOML = "[auth]\n" + "".join(f'{k} = "{v}"\n' for k, v in AUTH.items())
LOCAL = [None, "127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "LOCALHOST"]
REACHABLE = ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "fe80::1", "avatarlab.internal"]
FILES = ("/home/ada/.streamlit/secrets.toml", "/srv/avatarlab/.streamlit/secrets.toml")


def settings(address: str | None, secrets: dict[str, object], **kw: object) -> ServeSettings:
    return ServeSettings(address, 8502, FILES, secrets, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("address", LOCAL + REACHABLE)
@pytest.mark.parametrize("configured", [False, True])
def test_only_a_reachable_address_without_sign_in_is_refused(address, configured):
    problem = refusal(settings(address, {"auth": AUTH} if configured else {}))
    assert (problem is not None) == (address in REACHABLE and not configured), problem


def test_the_refusal_says_what_to_add_and_where():
    problem = refusal(settings("0.0.0.0", {"auth": {"client_id": "avatarlab"}}))
    assert problem is not None
    assert "0.0.0.0" in problem and "[auth]" in problem
    for key in AUTH_KEYS:
        assert f"\n{key} = " in problem
    for path in FILES:
        assert path in problem
    assert 'redirect_uri = "http://HOST:8502/oauth2callback"' in problem
    assert "Missing now: redirect_uri, cookie_secret, client_secret, server_metadata_url." in (
        problem
    )
    assert "127.0.0.1" in problem  # the other way out: serve on this machine only
    named = refusal(settings("avatarlab.internal", {}))
    assert named and "http://avatarlab.internal:8502/oauth2callback" in named


def test_a_secrets_file_streamlit_cannot_read_is_named_in_the_refusal():
    problem = refusal(settings("0.0.0.0", {}, secrets_problem="Error parsing secrets file"))
    assert problem and "Streamlit will read no secrets at all: Error parsing" in problem


def test_sign_in_configured_without_authlib_is_refused_even_on_loopback():
    problem = refusal(settings(None, {"auth": AUTH}, authlib=False))
    assert problem and "Authlib" in problem and "pip install -r requirements.txt" in problem
    assert refusal(settings(None, {}, authlib=False)) is None  # no sign-in, no Authlib needed


def test_an_address_set_nowhere_becomes_loopback():
    assert run_args(["--server.port", "8502"], settings(None, {})) == [
        "--server.port",
        "8502",
        "--server.address",
        LOOPBACK,
    ]
    given = ["--server.address=10.0.0.5"]
    assert run_args(given, settings("10.0.0.5", {"auth": AUTH})) == given


@pytest.fixture
def where(tmp_path) -> Iterator[tuple[pytest.MonkeyPatch, Path]]:
    """A home, a working directory and an app of their own, no STREAMLIT_* variables; Streamlit's
    process-wide config is re-read as it was afterwards. Yields (monkeypatch, app path)."""
    from streamlit import config

    saved = config._main_script_path
    home, cwd, app_dir = tmp_path / "home", tmp_path / "cwd", tmp_path / "app"
    for folder in (home, cwd, app_dir):
        (folder / ".streamlit").mkdir(parents=True)
    app = app_dir / "app.py"
    app.write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.chdir(cwd)
        for name in [n for n in os.environ if n.startswith("STREAMLIT_")]:
            mp.delenv(name)
        yield mp, app
    config._main_script_path = saved
    config.get_config_options(force_reparse=True)


def test_settings_come_from_where_streamlit_reads_them(where):
    mp, app = where
    home, cwd = Path(os.environ["HOME"]), Path.cwd()
    plain = read_settings([], app)
    assert plain.address is None and plain.port == 8501 and plain.secrets == {}
    assert plain.secrets_files == (
        str(home / ".streamlit/secrets.toml"),
        str(cwd / ".streamlit/secrets.toml"),
        str(app.parent / ".streamlit/secrets.toml"),
    )
    assert read_settings(["--server.address", "0.0.0.0"], app).address == "0.0.0.0"
    assert read_settings(["--server.address=10.0.0.5", "--server.port=9"], app).port == 9
    assert read_settings(["--server.address=10.0.0.5"], app).address == "10.0.0.5"
    (cwd / ".streamlit/config.toml").write_text('[server]\naddress = "192.168.1.20"\n')
    assert read_settings([], app).address == "192.168.1.20"
    (app.parent / ".streamlit/config.toml").write_text('[server]\naddress = ""\n')
    assert read_settings([], app).address is None  # the script's config wins; "" is unset
    mp.setenv("STREAMLIT_SERVER_ADDRESS", "::")
    assert read_settings([], app).address == "::"
    assert read_settings(["--server.address", "localhost"], app).address == "localhost"


def test_secrets_come_from_the_files_streamlit_reads(where, tmp_path):
    mp, app = where
    (Path.cwd() / ".streamlit/secrets.toml").write_text(AUTH_TOML)
    assert read_settings([], app).secrets == {"auth": AUTH}
    # A later file wins key by key at the top level, as in Streamlit.
    (app.parent / ".streamlit/secrets.toml").write_text('[auth]\nclient_id = "other"\n')
    assert read_settings([], app).secrets == {"auth": {"client_id": "other"}}
    chosen = tmp_path / "team.toml"
    chosen.write_text(AUTH_TOML)
    by_flag = read_settings(["--secrets.files", str(chosen)], app)
    assert by_flag.secrets_files == (str(chosen),) and by_flag.secrets == {"auth": AUTH}
    mp.setenv("STREAMLIT_SECRETS_FILES", f"{tmp_path / 'absent.toml'} {chosen}")
    assert read_settings([], app).secrets == {"auth": AUTH}
    (tmp_path / "broken.toml").write_text("[auth\n")
    mp.setenv("STREAMLIT_SECRETS_FILES", f"{chosen} {tmp_path / 'broken.toml'}")
    broken = read_settings([], app)
    assert broken.secrets == {} and "broken.toml" in (broken.secrets_problem or "")


def test_serving_on_every_interface_without_sign_in_exits_with_what_to_add(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env |= {"HOME": str(tmp_path), "STREAMLIT_SECRETS_FILES": str(tmp_path / "secrets.toml")}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "lib", "serve", "--server.address", "0.0.0.0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == REFUSED, run.stdout + run.stderr
    assert "Refusing to serve on 0.0.0.0" in run.stderr
    assert str(tmp_path / "secrets.toml") in run.stderr and "[auth]" in run.stderr
    assert "You can now view" not in run.stdout  # Streamlit never started
    assert time.monotonic() - started < 30
