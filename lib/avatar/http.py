"""HTTP edge shared by the HeyGen and LiveAvatar clients: one place turns responses into
AvatarError with the provider's own message and a hint about what to do."""

from __future__ import annotations

from typing import Any

import httpx

from lib.avatar.base import AvatarError, VoiceInfo
from lib.core.config import PROVIDERS, Secret

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _message(body: Any, text: str) -> tuple[str, int | str | None]:
    if isinstance(body, dict):
        code = body.get("code")
        if body.get("message"):
            return str(body["message"]), code
        detail = body.get("detail")
        if isinstance(detail, list) and detail:  # FastAPI validation errors (LiveAvatar 422)
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            return "; ".join(parts) or str(detail), code
        if detail:
            return str(detail), code
        if isinstance(body.get("error"), str):
            return body["error"], code
    return (text.strip()[:300] or "no message"), None


def hint_for(status: int | None, message: str, provider: str) -> str:
    low = message.lower()
    spec = PROVIDERS.get(provider)
    key_name = spec.key_name if spec is not None else None
    if status == 401 or "unauthorized" in low:
        if key_name:
            return f"check {key_name} (Settings page shows which keys are set)"
        return "the local server was started with a different key; restart the app"
    if "concurrent limit" in low:
        return (
            "stop your other sessions (or let them time out), then start again; "
            "`python -m lib reap` stops sessions a crashed app left behind"
        )
    if "session state wrong" in low or "closed" in low:
        return "this session has ended (stopped or idle timeout): start a new session"
    if "invalid parameter" in low or status == 422:
        return "pick an avatar and voice from the lists fetched from the provider"
    if "missing required" in low:
        return "choose an avatar before starting"
    if status is not None and status >= 500:
        return "the provider had a server error: try again in a moment"
    return ""


def check(resp: httpx.Response, provider: str) -> Any:
    """Return the parsed JSON body of a 2xx response, else raise AvatarError."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if resp.is_success:
        return body
    message, code = _message(body, resp.text)
    raise AvatarError(
        message,
        provider=provider,
        status=resp.status_code,
        code=code,
        hint=hint_for(resp.status_code, message, provider),
    )


def voice_info(v: dict[str, Any], id_key: str) -> VoiceInfo:
    """A listed voice; its name falls back to its id."""
    return VoiceInfo(
        voice_id=str(v[id_key]),
        name=str(v.get("name") or v[id_key]),
        language=str(v.get("language", "")),
        gender=str(v.get("gender", "")),
    )


def network_error(exc: httpx.HTTPError, provider: str, base_url: str) -> AvatarError:
    return AvatarError(
        f"cannot reach {base_url}: {type(exc).__name__}",
        provider=provider,
        hint="check the network and the provider's base URL",
    )


class ProviderApi:
    """The HTTP seam shared by the provider clients: one httpx client per provider (the
    `transport` is injectable), the key header or a session bearer token, errors turned into
    AvatarError. Subclasses add one method per endpoint."""

    key_header = "x-api-key"
    default_provider = ""  # the name errors carry, unless the caller names another ("local")

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        *,
        provider: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.provider = self.default_provider if provider is None else provider
        self._key = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=DEFAULT_TIMEOUT, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        else:
            headers[self.key_header] = self._key.reveal()
        try:
            resp = await self._http.request(
                method,
                path,
                headers=headers,
                json=json,
                params=params,
                timeout=timeout or DEFAULT_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise network_error(exc, self.provider, self.base_url) from exc
        return check(resp, self.provider)

    @staticmethod
    def _data(body: Any) -> Any:
        return body.get("data") if isinstance(body, dict) else None
