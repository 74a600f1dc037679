"""Which URLs a webhook may call: http(s) with a host name whose every address is public, unless the host is in
WEBHOOK_ALLOWED_HOSTS. Checked when a webhook is saved and again before every attempt (DNS may have changed)."""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse

from django.conf import settings

from registry.errors import InvalidParameter

_SCHEMES = ("http", "https")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 (mapped, 6to4) is judged as the IPv4 address it carries.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not ip.is_multicast


def check_url(url) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    if len(url) > 2000:
        raise InvalidParameter("Webhook URL must be at most 2000 characters.")
    try:
        parsed = urllib.parse.urlparse(url)
        port = parsed.port
    except ValueError as exc:
        raise InvalidParameter(f"Invalid webhook URL {url!r}: {exc}") from None
    if parsed.scheme not in _SCHEMES:
        raise InvalidParameter(f"Invalid webhook URL scheme: {parsed.scheme!r}. Allowed schemes are: http, https.")
    host = (parsed.hostname or "").lower()
    if not host:
        raise InvalidParameter(f"Webhook URL must include a hostname: {url!r}")
    if parsed.username or parsed.password:
        raise InvalidParameter("Webhook URL must not contain credentials; use the webhook's secret instead.")
    if host in settings.WEBHOOK_ALLOWED_HOSTS:
        return url
    try:
        infos = socket.getaddrinfo(host, port or (443 if parsed.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise InvalidParameter(f"Cannot resolve webhook URL hostname {host!r}: {exc}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _public(ip):
            raise InvalidParameter(
                f"Webhook URL must not resolve to a private, loopback or link-local address: {host!r} resolves to "
                f"{ip}. An admin can allow the host in WEBHOOK_ALLOWED_HOSTS."
            )
    return url
