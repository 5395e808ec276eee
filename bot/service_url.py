"""Which ``serviceUrl`` the bot will reply to.

The bot sends every reply to the URL the activity names, so that URL is an
outbound target chosen by the caller. Three rules keep it honest:

* every activity names an absolute http(s) URL with a plain host (no user
  info, spaces or backslashes that parsers read differently);
* in local mode, where calls are unsigned, the host must be loopback;
* in signed mode, the token must vouch for that exact URL (its ``serviceurl``
  claim), so a captured token cannot redirect replies elsewhere.

Hosts are judged by their text, never resolved: a DNS lookup is itself a call
out, and a name could resolve differently by the time the reply is sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tools.errors import InvalidInput

SERVICE_URL_CLAIM = "serviceurl"
"""The Bot Framework channel token's claim naming the activity's serviceUrl."""

_LOOPBACK_NAMES = frozenset({"localhost"})


def service_url_host(value: Any) -> str:
    """Check the shape of an activity's ``serviceUrl`` and return its host.

    Args:
        value: the activity's ``serviceUrl`` as decoded from JSON.

    Returns:
        The host, lower-cased, without brackets.

    Raises:
        InvalidInput: it is missing, not a string, or not an absolute http(s)
            URL with a plain host; the message says which.
    """
    if value is None or value == "":
        raise InvalidInput("not a Bot Framework activity: 'serviceUrl' is missing")
    if not isinstance(value, str):
        raise InvalidInput("'serviceUrl' must be a string")

    unusual = any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        parts = None
    if (
        unusual
        or parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
    ):
        raise InvalidInput(
            "'serviceUrl' must be an absolute http or https URL such as "
            "https://smba.trafficmanager.net/teams/"
        )
    return parts.hostname


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``, written plainly.

    Other spellings of a loopback address (``127.1``, ``2130706433``, an
    IPv4-mapped IPv6 address) are refused rather than interpreted.
    """
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_local_service_url(value: Any) -> None:
    """Refuse a local-mode activity whose replies would leave this machine.

    Raises:
        InvalidInput: the ``serviceUrl`` is malformed or its host is not
            loopback; the message names the host and what is accepted.
    """
    host = service_url_host(value)
    if not is_loopback_host(host):
        raise InvalidInput(
            f"local mode replies only to a loopback serviceUrl (127.0.0.1, ::1 or "
            f"localhost), not {host}; set MICROSOFT_APP_ID to serve Teams"
        )


def check_service_url_claim(claims: Mapping[str, Any], service_url: str) -> None:
    """Refuse a signed activity whose token does not vouch for its serviceUrl.

    botbuilder compares the claim for channel tokens, but not for every kind
    of token it accepts (Emulator tokens carry none); this holds for all.

    Raises:
        PermissionError: the claim is missing or names another URL.
    """
    claimed = claims.get(SERVICE_URL_CLAIM)
    if not claimed:
        raise PermissionError("the token has no 'serviceurl' claim")
    if claimed != service_url:
        raise PermissionError("the token's 'serviceurl' claim names another URL")
