"""aioice 0.13.0, patched for a loopback-only machine and a busy browser.

Upstream bugs: host candidates never include 127.0.0.1, so ICE fails where loopback is the only
network; a consent check (RFC 7675) is one request with a 0.5 s timeout, so a browser that answers
late loses its connection while it is still streaming.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Final

from lib.patches.patch import Patch

log = logging.getLogger(__name__)

DISTRIBUTION: Final = "aioice"
CHECKED: Final = "0.13.0"
# A consent check retransmits as other STUN requests do, 0.5, 1 and 2 s apart, and waits 7.5 s
# in all for its answer.
CONSENT_RETRANSMISSIONS: Final = 3
_applied: set[str] = set()


def allow_loopback_ice() -> None:
    """Offer 127.0.0.1 beside the real host addresses (for a remote browser that pair just
    fails): in a loopback-only sandbox there is no other way for media to flow."""
    if "loopback" in _applied:
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses: list[str] = list(original(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    aioice.ice.get_host_addresses = with_loopback
    _applied.add("loopback")


def patient_consent_checks() -> None:
    """A consent check retransmits and waits CONSENT_RETRANSMISSIONS tries for its answer, and
    one that got none does not count against a browser that sent us packets meanwhile (it
    plainly still wants the connection). A browser that went silent still loses it after six
    such checks (~75 s); a closed tab ends it at once through DTLS and the page lifecycle.
    Read against Connection.query_consent and data_received."""
    if "consent" in _applied:
        return
    import aioice.ice
    from aioice import stun

    original_data_received = aioice.ice.Connection.data_received

    def data_received(self: Any, data: bytes, component: int) -> None:
        self.avatarlab_heard_at = time.monotonic()
        original_data_received(self, data, component)

    async def query_consent(self: Any) -> None:
        assert self.remote_password is not None
        failures = 0
        while True:
            await asyncio.sleep(aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
            for pair in self._nominated.values():
                request = self.build_request(pair, nominate=False)
                asked_at = time.monotonic()
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=self.remote_password.encode("utf8"),
                        retransmissions=CONSENT_RETRANSMISSIONS,
                    )
                    failures = 0
                except stun.TransactionError:
                    if getattr(self, "avatarlab_heard_at", 0.0) >= asked_at:
                        log.debug("ICE consent check unanswered, but the browser is sending")
                        failures = 0
                        continue
                    failures += 1
                    log.info("ICE consent check %d in a row went unanswered", failures)
                if failures >= aioice.ice.CONSENT_FAILURES:
                    log.warning("ICE consent expired: the browser stopped answering")
                    self._query_consent_task = None
                    await self.close()
                    return

    aioice.ice.Connection.data_received = data_received  # type: ignore[method-assign]
    aioice.ice.Connection.query_consent = query_consent  # type: ignore[method-assign]
    _applied.add("consent")


PATCHES: Final = (
    Patch("ICE offers 127.0.0.1", DISTRIBUTION, CHECKED, allow_loopback_ice),
    Patch("patient ICE consent checks", DISTRIBUTION, CHECKED, patient_consent_checks),
)
