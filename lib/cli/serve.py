"""`python -m lib serve [streamlit run options]`: the dashboard, as `make run` starts it.

Streamlit listens on every interface when no address is set; served here it listens on loopback
(127.0.0.1) unless one is given, and it refuses an address other machines can reach while
sign-in is not configured (an `[auth]` section in the secrets Streamlit will read).
The library patches are applied here, before the server starts (the Streamlit one must be).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import click

from lib import patches
from lib.cli.fail import fail
from lib.core.identity import AUTH_KEYS, missing_auth_keys
from lib.core.logs import log_to_stderr

APP = Path(__file__).resolve().parents[2] / "app.py"
LOOPBACK: Final = "127.0.0.1"
REFUSED: Final = 2  # the exit code of a refused start (nothing was started)


@dataclass(frozen=True)
class ServeSettings:
    """What Streamlit will use, read from the same sources it reads: flags, STREAMLIT_*
    variables, the config.toml files and the secrets files."""

    address: str | None  # None: set nowhere (Streamlit would listen on every interface)
    port: int
    secrets_files: tuple[str, ...]
    secrets: Mapping[str, object] = field(default_factory=dict)
    secrets_problem: str | None = None  # why Streamlit will read no secrets at all
    authlib: bool = True  # st.login's library is installed


def is_loopback(address: str) -> bool:
    """127.x.x.x, ::1 or localhost: only this machine can connect."""
    host = address.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or interface address: reachable from elsewhere


def refusal(settings: ServeSettings) -> str | None:
    """Why the server must not start with these settings, or None when it may."""
    missing = missing_auth_keys(settings.secrets)
    if not missing and not settings.authlib:
        return (
            "Sign-in is configured ([auth] in the secrets) but Authlib, which Streamlit's "
            "sign-in needs, is not installed. Install the app's requirements: "
            "pip install -r requirements.txt"
        )
    address = settings.address or LOOPBACK
    if is_loopback(address) or not missing:
        return None
    return _sign_in_needed(settings, address, missing)


def _sign_in_needed(settings: ServeSettings, address: str, missing: list[str]) -> str:
    host = "HOST" if address in {"0.0.0.0", "::"} else address  # every interface: name one
    files = "\n".join(f"  {path}" for path in settings.secrets_files) or "  (none configured)"
    example = {
        "redirect_uri": f"http://{host}:{settings.port}/oauth2callback",
        "cookie_secret": "a long random string (python -c 'import secrets; "
        "print(secrets.token_hex(32))')",
        "client_id": "the client ID your identity provider issued for this app",
        "client_secret": "its client secret",
        "server_metadata_url": "https://YOUR-PROVIDER/.well-known/openid-configuration",
    }
    lines = [
        f"Refusing to serve on {address} without sign-in: other machines could open the dashboard.",
        "",
        "Either serve on this machine only (leave out --server.address, or pass 127.0.0.1),",
        "or configure sign-in through your identity provider (OpenID Connect): add this",
        "section to a secrets file Streamlit reads (later files win):",
        files,
        "",
        "[auth]",
        *(f'{key} = "{example[key]}"' for key in AUTH_KEYS),
        "",
        "Register the redirect_uri with the provider as the app's callback"
        + (
            "; HOST: the name the team's browsers reach this machine by." if host == "HOST" else "."
        ),
        f"Missing now: {', '.join(missing)}.",
    ]
    if settings.secrets_problem:
        lines.append(f"Streamlit will read no secrets at all: {settings.secrets_problem}")
    return "\n".join(lines)


def read_settings(argv: list[str], app: Path = APP) -> ServeSettings:
    """Parse `streamlit run` options with Streamlit's own command line (its flags and their
    STREAMLIT_* variables) and load its config files as `streamlit run app` would, then read
    the secrets files it names. Sets Streamlit's process-wide config, as the run itself will."""
    from streamlit import config
    from streamlit.auth_util import is_authlib_installed
    from streamlit.web import bootstrap, cli

    context = cli.main_run.make_context("run", [str(app), *argv], resilient_parsing=True)
    flags = {k: v for k, v in context.params.items() if k not in {"target", "args"}}
    config._main_script_path = str(app)  # where Streamlit looks for script-level files
    bootstrap.load_config_options(flag_options=flags)
    files = tuple(str(path) for path in config.get_option("secrets.files"))
    secrets, problem = _read_secrets(files)
    address = str(config.get_option("server.address") or "").strip()
    return ServeSettings(
        address=address or None,  # "" is unset to Streamlit too (every interface)
        port=int(config.get_option("server.port")),
        secrets_files=files,
        secrets=secrets,
        secrets_problem=problem,
        authlib=is_authlib_installed(),
    )


def _read_secrets(files: tuple[str, ...]) -> tuple[dict[str, Any], str | None]:
    """The secrets as Streamlit merges them (later files win), with its own parser; like
    Streamlit, one unreadable path means no secrets at all."""
    from streamlit.runtime.secrets import Secrets

    reader = Secrets()  # a fresh one: the app's own is left to load when the app runs
    merged: dict[str, Any] = {}
    for path in files:
        try:
            found, _ = reader._parse_file_path(path)
        except (OSError, ValueError) as exc:  # its parse errors are FileNotFoundErrors
            return {}, str(exc)
        merged.update(found)
    return merged, None


def run_args(argv: list[str], settings: ServeSettings) -> list[str]:
    """The `streamlit run` options: the given ones, on loopback when no address is set."""
    return argv if settings.address is not None else [*argv, "--server.address", LOOPBACK]


def main(argv: list[str]) -> int:
    from streamlit.web import cli

    log_to_stderr()
    try:
        settings = read_settings(argv)
    except click.ClickException as exc:  # Streamlit's own parse says what to fix
        exc.show()
        return exc.exit_code
    problem = refusal(settings)
    if problem:
        return fail(problem, REFUSED)
    patches.apply_all()
    from lib.runtime.instance_services import start_instance

    start_instance()  # the lease, the reaper and the sweep worker, before any page is opened
    cli.main(args=["run", str(APP), *run_args(argv, settings)], prog_name="streamlit")
    return 0
