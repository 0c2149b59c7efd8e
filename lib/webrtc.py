"""streamlit-webrtc settings shared by the pages."""

from __future__ import annotations

from typing import Any

_patched = False

# No STUN/TURN: media stays on this machine or the LAN, and without this streamlit-webrtc
# would inject Google's STUN server, which is unreachable offline and slows ICE gathering.
RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
# The avatar's <video> and <audio> in the pages: plays by itself, inline, no controls.
VIDEO_HTML_ATTRS: dict[str, Any] = {
    "autoPlay": True,
    "playsInline": True,
    "controls": False,
    "style": {"width": "100%", "borderRadius": "12px"},
}
AUDIO_HTML_ATTRS: dict[str, Any] = {"autoPlay": True, "muted": False}


def prepare() -> None:
    """What every page with a streamer calls first."""
    allow_loopback_ice()
    ignore_misread_navigation()


def allow_loopback_ice() -> None:
    """aioice never offers 127.0.0.1, so in a loopback-only sandbox ICE fails. Offer it in
    addition to the real host addresses (harmless for remote browsers: that pair just fails).
    Pinned aioice==0.13.0 is what this patch was checked against."""
    global _patched
    if _patched:
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses: list[str] = list(original(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    aioice.ice.get_host_addresses = with_loopback
    _patched = True


_nav_patched = False


def ignore_misread_navigation() -> None:
    """streamlit-webrtc stops its worker and cached tracks when it thinks the user left the
    page, by comparing the page hash of the run that created them with the session's current
    one. Under st.navigation those two differ while the user stays (the default page is
    reached at "/"), so media stopped at a random rerun — the video froze mid-session. Page
    leave is handled by `lib.page_lifecycle`, and a closed tab still ends the session through
    the observer's other trigger (session shutdown); so the hash check is turned off.
    Checked against the pinned streamlit-webrtc==0.79.0."""
    global _nav_patched
    if _nav_patched:
        return
    from streamlit_webrtc.shutdown import SessionShutdownObserver

    SessionShutdownObserver._resolve_initial_page_script_hash = staticmethod(  # type: ignore[method-assign]
        lambda app_session: ""
    )
    _nav_patched = True
