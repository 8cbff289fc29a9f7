"""Who is asking: the client address the rate limits count.

Without trusted proxies (``ATOUTS_TRUSTED_PROXIES`` empty) it is the TCP peer and
``X-Forwarded-For`` is ignored: anyone can write that header. When the peer is one of the
trusted proxies, ``X-Forwarded-For`` is read **right to left**, skipping the trusted
proxies: the first other address is the client (what a client writes itself sits on the
left and is never believed).
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Optional


def _ip(text: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Optional[ipaddress._BaseAddress], networks: Iterable) -> bool:
    return address is not None and any(address in net for net in networks)


def client_address(peer: Optional[str], forwarded_for: Iterable[str], trusted: tuple) -> str:
    """The client address for `peer` (the TCP peer) and the request's X-Forwarded-For
    header values, given the trusted proxy networks."""
    peer = peer or "?"
    if not trusted or not _trusted(_ip(peer), trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:  # garbage from an untrusted hop: stop believing the header here
            return hop[:64]
        if not _trusted(address, trusted):
            return str(address)
    return str(_ip(hops[0])) if hops else peer  # every hop is one of ours


def request_client(request) -> str:  # noqa: ANN001 - aiohttp.web.Request
    from bot.web.app import SETTINGS_KEY

    settings = request.app[SETTINGS_KEY]
    return client_address(request.remote, request.headers.getall("X-Forwarded-For", []),
                          settings.trusted_proxies)
