"""Team sign-in through a real OpenID Connect provider: oidc-provider-mock, its own process on
loopback, with this app registered as its client. A signed-out visitor, a forged, tampered or
expired identity cookie all get only the sign-in page; signing in through the provider's own
form opens the dashboard; signing out closes it again."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from lib.bench.harness import App, end_process, free_port, streamlit_app

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")

EMAIL = "ada@example.com"
PAGE_TITLES = ("Avatar Studio", "Conversation", "Latency", "Costs", "Experiments", "Sessions")
# Streamlit 1.67's identity cookie (web/server/starlette/starlette_server_config.py) and how long
# it accepts one: the cookie's 30 days plus a day's grace (starlette_app_utils.py).
USER_COOKIE = "_streamlit_user"
ACCEPTED_FOR_S = 31 * 24 * 3600


@contextmanager
def oidc_provider(tmp: Path) -> Iterator[str]:
    """oidc-provider-mock on a free loopback port; clients must register (as with a real one)."""
    port = free_port()
    log_path = tmp / "oidc-provider.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "oidc_provider_mock"),
                *("--host", "127.0.0.1", "--port", str(port), "--require-registration"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OIDC provider did not answer in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        end_process(proc, 10)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str]]:
    """The app with sign-in configured against the provider: (app, its cookie_secret)."""
    tmp = tmp_path_factory.mktemp("sign-in")
    port = free_port()
    with oidc_provider(tmp) as provider:
        redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
        client = httpx.post(
            f"{provider}/oauth2/clients", json={"redirect_uris": [redirect_uri]}, timeout=10
        )
        client.raise_for_status()
        cookie_secret = secrets.token_hex(32)
        auth = {
            "redirect_uri": redirect_uri,
            "cookie_secret": cookie_secret,
            "client_id": client.json()["client_id"],
            "client_secret": client.json()["client_secret"],
            "server_metadata_url": f"{provider}/.well-known/openid-configuration",
        }
        secrets_file = tmp / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in auth.items())
        )
        # Only this file: never the developer's ~/.streamlit or the repository's secrets.
        env = {"STREAMLIT_SECRETS_FILES": str(secrets_file)}
        with streamlit_app(tmp, env, port=port) as app:
            yield app, cookie_secret


def identity_cookie(secret: str, origin: str, age_s: int = 0, email: str = EMAIL) -> str:
    """`_streamlit_user` as Streamlit's OAuth callback writes it: the provider's claims plus
    origin, is_logged_in and provider, as JSON, signed by itsdangerous' URLSafeTimedSerializer
    (salt: the cookie name) with a timestamp `age_s` in the past. Its text: the payload
    (zlib-compressed when shorter, then led by a "."), the timestamp, the signature, each in
    URL-safe base64, joined by "."."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    claims = {"sub": email, "email": email, "email_verified": True}
    value = json.dumps(dict(claims, origin=origin, is_logged_in=True, provider="default"))
    signed = URLSafeTimedSerializer(secret, salt=USER_COOKIE, signer=Backdated).dumps(value)
    return str(signed)


def wait_idle(page: Any) -> None:
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')""", timeout=30_000
    )


def assert_sign_in_page_only(page: Any) -> None:
    """The sign-in page and nothing of the dashboard: no sidebar, page links or providers."""
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    wait_idle(page)
    main = page.get_by_test_id("stMain").inner_text()
    assert main.split() == ["Avatar", "Lab", "Sign", "in"], main
    assert page.get_by_test_id("stSidebar").count() == 0
    for title in PAGE_TITLES:
        assert page.get_by_role("link", name=title).count() == 0, title
    assert page.get_by_text("Avatar providers").count() == 0


def assert_dashboard(page: Any) -> None:
    """The dashboard for EMAIL: the pages' links and who is signed in, in the sidebar."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(f"Signed in as {EMAIL}").wait_for(timeout=60_000)
    nav = page.get_by_test_id("stSidebarNav")
    for title in PAGE_TITLES:
        nav.get_by_role("link", name=title).wait_for(timeout=10_000)
    sidebar.get_by_text("Avatar providers").wait_for(timeout=10_000)
    assert page.get_by_role("button", name="Sign in").count() == 0


def test_signed_out_visitors_get_only_the_sign_in_page(signed_app, browser):
    app, _ = signed_app
    context = browser.new_context()
    page = context.new_page()
    for path in ("/", "/conversation", "/costs"):  # a page's own address shows nothing more
        page.goto(app.url + path)
        assert_sign_in_page_only(page)
    context.close()


def test_sign_in_through_the_provider_then_sign_out(signed_app, browser):
    app, _ = signed_app
    context = browser.new_context()
    page = context.new_page()
    page.goto(app.url)
    page.get_by_role("button", name="Sign in").click()
    # The provider's own authorization form: the subject to sign in as (its email claim too).
    page.locator('input[name="sub"]').fill(EMAIL, timeout=30_000)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**", timeout=30_000)
    assert_dashboard(page)
    assert any(c["name"] == USER_COOKIE for c in context.cookies(app.url))
    page.get_by_role("link", name="Costs").click()
    page.get_by_role("heading", name="Costs").first.wait_for(timeout=60_000)

    page.get_by_role("button", name="Sign out").click()
    # Streamlit clears its cookie and hands over to the provider's end-session page.
    page.get_by_role("button", name="End session").click(timeout=30_000)
    assert_sign_in_page_only(page)
    assert not any(c["name"] == USER_COOKIE for c in context.cookies(app.url))
    page.reload()
    assert_sign_in_page_only(page)
    context.close()


@pytest.mark.parametrize(
    ("case", "signed_in"),
    [
        ("fresh, signed with the app's secret", True),  # the crafted cookie is the real format
        ("signed with another secret", False),
        ("tampered after signing", False),
        ("older than Streamlit accepts", False),
    ],
)
def test_only_a_valid_unexpired_identity_cookie_opens_the_dashboard(
    signed_app, browser, case, signed_in
):
    app, cookie_secret = signed_app
    if case == "signed with another secret":
        value = identity_cookie(secrets.token_hex(32), app.url)
    elif case == "tampered after signing":
        # Someone else's claims under this cookie's timestamp and signature.
        payload, stamp, signature = identity_cookie(cookie_secret, app.url).rsplit(".", 2)
        other = identity_cookie(cookie_secret, app.url, email="eve@example.com").rsplit(".", 2)
        assert other[0] != payload
        value = f"{other[0]}.{stamp}.{signature}"
    elif case == "older than Streamlit accepts":
        value = identity_cookie(cookie_secret, app.url, age_s=ACCEPTED_FOR_S + 3600)
    else:
        value = identity_cookie(cookie_secret, app.url)
    context = browser.new_context()
    context.add_cookies([{"name": USER_COOKIE, "value": value, "url": app.url}])
    page = context.new_page()
    page.goto(app.url)
    if signed_in:
        assert_dashboard(page)
    else:
        assert_sign_in_page_only(page)
    context.close()
