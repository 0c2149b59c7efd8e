"""Who is using the app without sign-in (the local account), and whether sign-in through the
identity provider is configured (an `[auth]` section in Streamlit's secrets).

The signed-in user is read in `lib/ui/identity.py` (it needs a running Streamlit session)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Final

from lib.core.config import streamlit_secrets

USER_ENV: Final = "AVATARLAB_USER"
# What st.login() needs for its default provider, all in one `[auth]` section of the secrets.
AUTH_KEYS: Final = (
    "redirect_uri",
    "cookie_secret",
    "client_id",
    "client_secret",
    "server_metadata_url",
)
_FALLBACK_USER: Final = "local"


def local_user(env: Mapping[str, str] | None = None) -> str:
    """AVATARLAB_USER if set, else the account running the app, else "local"; never raises."""
    src = os.environ if env is None else env
    named = src.get(USER_ENV, "").strip()
    if named:
        return named
    try:
        account = getpass.getuser().strip()
    except Exception:  # noqa: BLE001 - no login name (no USER, no passwd entry): not an error
        return _FALLBACK_USER
    return account or _FALLBACK_USER


def missing_auth_keys(secrets: Mapping[str, object]) -> list[str]:
    """The `[auth]` keys still to set (empty strings count as unset); [] when sign-in is
    configured."""
    section = secrets.get("auth")
    if not isinstance(section, Mapping):
        return list(AUTH_KEYS)
    return [key for key in AUTH_KEYS if not _is_set(section.get(key))]


def auth_configured(secrets: Mapping[str, object] | None = None) -> bool:
    """Sign-in is configured in the secrets (Streamlit's own, when none are given; no secrets
    file means not configured)."""
    return not missing_auth_keys(streamlit_secrets() if secrets is None else secrets)


def _is_set(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
