"""The URL an agent asks the hub to call it at: the hub will send it run commands and the
agent's own token, so only a plain http(s) address in an allowed network is taken."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from chaoshub.errors import InvalidInput

FIELD = ["url"]


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, field=FIELD)


def check_agent_url(value: object, networks: Sequence[str] = ()) -> str:
    """``value`` if it is a URL the hub may call, else :class:`InvalidInput` on ``url``.

    ``networks`` (CIDRs; empty: any) must hold every address the host resolves to, so a
    name cannot point some of its addresses elsewhere."""
    if not isinstance(value, str) or not value.strip():
        raise _refuse("an agent needs the url the hub calls it at (http(s)://host:port)")
    url = value.strip()
    if len(url) > 500:
        raise _refuse("url is longer than 500 characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise _refuse("url may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(f"url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise _refuse("url must start with http:// or https://")
    if "@" in parts.netloc:
        raise _refuse("url may not carry a user or password (user@host)")
    if "?" in url or parts.query:
        raise _refuse("url may not have a query string (?...)")
    if "#" in url or parts.fragment:
        raise _refuse("url may not have a fragment (#...)")
    host = parts.hostname
    if not host:
        raise _refuse("url needs a host")
    if networks:
        _check_networks(host, port or (443 if parts.scheme == "https" else 80), networks)
    return url


def _check_networks(host: str, port: int, networks: Sequence[str]) -> None:
    allowed = [ipaddress.ip_network(n, strict=False) for n in networks]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _refuse(f"url host {host!r} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not any(address.version == n.version and address in n for n in allowed):
            raise _refuse(
                f"url host {host!r} resolves to {address}, outside the allowed agent "
                f"networks ({', '.join(networks)}; CHAOSHUB_AGENT_NETWORKS)"
            )
