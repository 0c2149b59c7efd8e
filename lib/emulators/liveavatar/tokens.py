"""LiveAvatar session tokens: HS256 JWTs whose payload carries what LiveAvatar's web SDK reads
(`start_session_data.mode`, and the connector configuration it tells the agent type from),
signed with a key only this server holds and verified on every call that presents one."""

from __future__ import annotations

import time
from typing import Any, Final

import jwt

ALGORITHM: Final = "HS256"
ISSUER: Final = "liveavatar-emulator"
# The token outlives the session's own limit a little: a late stop or keep-alive must still be
# recognised as this session's (and answered "closed"), not as a forged token.
GRACE_S: Final = 600


def mint(key: bytes, session_id: str, start_session_data: dict[str, Any], life_s: float) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": session_id,
        "session_id": session_id,
        "iat": now,
        "exp": now + int(life_s) + GRACE_S,
        "start_session_data": start_session_data,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def session_id_of(key: bytes, token: str) -> str | None:
    """The session a genuine, unexpired token was minted for; None for anything else."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    session_id = claims.get("session_id")
    return session_id if isinstance(session_id, str) else None
