"""Who is using the app: the signed-in user when sign-in is configured (Streamlit's OpenID
Connect, `st.login`), else the local account; and the gate that keeps signed-out visitors on the
sign-in page."""

from __future__ import annotations

import streamlit as st

from lib.core.identity import auth_configured, local_user
from lib.ui.plain_text import plain


def current_user() -> str:
    """The signed-in user's email (else their subject) when sign-in is configured and they are
    signed in; otherwise the local account (`lib.core.identity.local_user`)."""
    if auth_configured() and st.user.get("is_logged_in"):
        for claim in ("email", "sub"):
            value = st.user.get(claim)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return local_user()


def require_sign_in() -> None:
    """With sign-in configured, a signed-out visitor gets the sign-in page and the run stops
    here (before any page, sidebar or data); a signed-in user gets who they are and a Sign out
    button in the sidebar. Without sign-in configured (the loopback default) nothing is drawn."""
    if not auth_configured():
        return
    if not st.user.get("is_logged_in"):
        st.title("Avatar Lab")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    with st.sidebar:
        # The name is the identity provider's text: shown as written, never as Markdown.
        st.markdown(f":material/account_circle: Signed in as **{plain(current_user())}**")
        st.button("Sign out", on_click=st.logout)
