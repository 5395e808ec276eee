"""Signed sessions for the admin dashboard: a browser signs in once, not per request.

A session is a cookie holding who signed in and when the session ends,
signed with HMAC-SHA256; the server keeps nothing. A cookie whose signature
does not match, or whose end has passed, is refused.

The signing key: derived from the bot's app password
(``MICROSOFT_APP_PASSWORD``) when it is set, the way
:func:`tools.analytics.events.hash_key` derives its key but under another
label, so every replica of a deployment accepts the others' sessions and no
new setting is needed. Without an app password (local mode, or a bot that
signs in with a managed identity), a random key made when the process starts.

Warning:
    With the per-process key, a restart signs every admin out, and behind a
    load balancer a session works only on the replica that issued it (turn
    on session affinity, or set an app password). Rotating the app password
    signs everyone out too. The server keeps no list of sessions, so signing
    out clears the browser's cookie but a copy of its value stays good until
    it ends, and so does a session after the admin's Entra role is removed
    (at most :data:`SESSION_TTL_S`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass

from tools.settings import Settings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "helpdesk_admin"
SESSION_TTL_S = 8 * 3600
"""How long a sign-in lasts: one working day."""
_VERSION = "v1"
_MAX_WHO_CHARS = 200


class InvalidSession(Exception):
    """The cookie is not one this server signed, or its time is up."""


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in admin.

    Attributes:
        who: the admin as the admin API names them (a UPN, or
            ``local admin key``).
        expires_at: the session's end, in seconds since the epoch.
    """

    who: str
    expires_at: int


class AdminSessions:
    """Issues and checks session cookies with one key."""

    def __init__(self, key: bytes, *, ttl_s: int = SESSION_TTL_S) -> None:
        if len(key) < 32:
            raise ValueError("a session key needs at least 32 bytes")
        self._key = key
        self.ttl_s = ttl_s

    @classmethod
    def for_settings(cls, settings: Settings) -> AdminSessions:
        """Sessions keyed as the module docstring says."""
        if settings.app_password is None:
            if not settings.local_mode:
                logger.warning(
                    "admin dashboard sessions are per process: no "
                    "MICROSOFT_APP_PASSWORD to derive a shared key from; a "
                    "replica signs out admins that another signed in"
                )
            return cls(secrets.token_bytes(32))
        secret = settings.app_password.get_secret_value().encode()
        return cls(hashlib.sha256(b"helpdesk admin session key\0" + secret).digest())

    def issue(self, who: str, *, now: float | None = None) -> str:
        """A cookie value for ``who`` that is good for :attr:`ttl_s` seconds."""
        issued = int(time.time() if now is None else now)
        payload = {"who": who[:_MAX_WHO_CHARS], "exp": issued + self.ttl_s}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{_VERSION}.{body}.{self._sign(body)}"

    def read(self, value: str, *, now: float | None = None) -> Session:
        """The session in a cookie value.

        Raises:
            InvalidSession: not signed with this key, malformed, or expired.
        """
        version, _, rest = value.partition(".")
        body, _, signature = rest.partition(".")
        if version != _VERSION or not body or not signature or not value.isascii():
            raise InvalidSession("not a session cookie")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidSession("the session's signature does not match")
        try:
            payload = json.loads(_unb64(body))
            session = Session(who=str(payload["who"]), expires_at=int(payload["exp"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSession("the session cannot be read") from exc
        if session.expires_at <= (time.time() if now is None else now):
            raise InvalidSession("the session has expired")
        return session

    def form_token(self, value: str) -> str:
        """A token for the signed-in page's forms, bound to the cookie value.

        Another site can make a browser post a form, but cannot read the
        cookie, so it cannot know this token.
        """
        return self._sign("form\0" + value)

    def check_form_token(self, value: str, token: str) -> bool:
        """True when ``token`` is :meth:`form_token` of the cookie ``value``."""
        if not (value.isascii() and token.isascii()):
            return False
        return hmac.compare_digest(token, self.form_token(value))

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
