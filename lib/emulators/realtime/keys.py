"""The API key check both Realtime server doors share (the websocket and the REST routes)."""

from __future__ import annotations

import hmac


def bearer_key(authorization: str) -> str:
    """The key of an `Authorization: Bearer <key>` header, or "" when there is none."""
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""


def key_accepted(given: str, expected: str | None) -> bool:
    """Any non-empty key when the server has none set, else exactly its key, compared in
    constant time (how long a refusal takes must not tell how much of a guess was right)."""
    if not given:
        return False
    if expected is None:
        return True
    return hmac.compare_digest(given.encode(), expected.encode())
