"""Who is using the app: the local account, whether sign-in is configured, the signed-in user
(st.user, through Streamlit's AppTest) and the sign-in gate."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.core.identity import AUTH_KEYS, auth_configured, local_user, missing_auth_keys
from lib.ui.plain_text import plain
from tests.conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]


def test_local_user_is_the_named_user_else_the_account_else_local(monkeypatch):
    monkeypatch.setenv("AVATARLAB_USER", "  ada  ")
    assert local_user() == "ada"
    monkeypatch.setenv("AVATARLAB_USER", " ")
    monkeypatch.setenv("LOGNAME", "grace")  # the first place getpass looks
    assert local_user() == "grace"
    assert local_user({"AVATARLAB_USER": "linus"}) == "linus"

    def no_login_name() -> str:
        raise OSError("No username set in the environment")  # as getpass says it

    monkeypatch.setattr(getpass, "getuser", no_login_name)
    assert local_user() == "local"


def test_auth_is_configured_only_with_every_key_of_the_auth_section():
    assert missing_auth_keys({"auth": AUTH}) == [] and auth_configured({"auth": AUTH})
    assert missing_auth_keys({}) == list(AUTH_KEYS)
    assert missing_auth_keys({"auth": "yes"}) == list(AUTH_KEYS)
    partial = {k: v for k, v in AUTH.items() if k != "client_secret"} | {"cookie_secret": " "}
    assert missing_auth_keys({"auth": partial}) == ["cookie_secret", "client_secret"]
    assert not auth_configured({"auth": partial})
    # Keys at the top level are not st.login's configuration.
    assert not auth_configured(dict(AUTH))


@pytest.mark.parametrize("secrets_file", [None, "[auth]\n", "not toml ["])
def test_streamlit_s_own_secrets_without_auth_are_not_configured_and_never_crash(
    tmp_path, secrets_file
):
    """Read as the app reads them (st.secrets), in a process of its own: no file, a file
    without the keys, a file that does not parse."""
    if secrets_file is not None:
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(secrets_file)
    assert _configured_in(tmp_path) == "False"


def test_streamlit_s_own_secrets_with_the_auth_section_are_configured(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    lines = "".join(f'{k} = "{v}"\n' for k, v in AUTH.items())
    (tmp_path / ".streamlit" / "secrets.toml").write_text(f"[auth]\n{lines}")
    assert _configured_in(tmp_path) == "True"


def _configured_in(cwd: Path) -> str:
    """auth_configured() in a fresh process whose home and working directory are `cwd`."""
    env = {**os.environ, "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    code = "from lib.core.identity import auth_configured; print(auth_configured())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _gate_script() -> None:
    import streamlit as st

    from lib.ui.identity import current_user, require_sign_in

    require_sign_in()
    st.text(f"user: {current_user()}")


def _gate(user: dict[str, object], auth: dict[str, str] | None) -> AppTest:
    at = AppTest.from_function(_gate_script)
    if auth is not None:
        at.secrets["auth"] = auth
    at.user = user
    return at.run(timeout=30)


def test_without_sign_in_configured_the_gate_draws_nothing_and_the_user_is_local(monkeypatch):
    monkeypatch.setenv("AVATARLAB_USER", "ada")
    at = _gate({"email": "someone@example.com", "is_logged_in": True}, auth=None)
    assert [t.value for t in at.text] == ["user: ada"]
    assert not at.button and not at.sidebar.markdown


def test_a_signed_out_visitor_gets_only_the_sign_in_button(monkeypatch):
    monkeypatch.setenv("AVATARLAB_USER", "ada")
    at = _gate({"is_logged_in": False}, auth=AUTH)
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Avatar Lab"]
    assert not at.text and not at.sidebar.markdown  # the run stopped at the gate


@pytest.mark.parametrize(
    ("claims", "shown"),
    [({"email": "ada@example.com", "sub": "u-1"}, "ada@example.com"), ({"sub": "u-1"}, "u-1")],
)
def test_a_signed_in_user_is_their_email_else_their_subject(claims, shown):
    at = _gate({"is_logged_in": True, **claims}, auth=AUTH)
    assert [t.value for t in at.text] == [f"user: {shown}"]
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert f"Signed in as **{plain(shown)}**" in at.sidebar.markdown[0].value  # as written
