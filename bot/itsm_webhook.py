"""``POST /api/itsm/events``: ServiceNow tells the bot that a ticket changed.

The ServiceNow business rule in ``infra/servicenow/business_rule.js`` posts one
JSON object per change, signed with the shared secret
``HELPDESK_ITSM_WEBHOOK_SECRET``. Without that setting the endpoint answers 404.

Headers:

- ``X-Helpdesk-Timestamp``: the sending time, unix seconds. Requests more than
  ``HELPDESK_ITSM_WEBHOOK_TOLERANCE_S`` away from the bot's clock are refused.
- ``X-Helpdesk-Signature``: ``sha256=`` and the lowercase hex HMAC-SHA256 of
  ``"{timestamp}.{raw body}"`` under the shared secret.

A header that is missing or not of that form (any byte outside ASCII
included) is refused with 401 before anything else is read.

Body (``application/json``, at most 256 KB)::

    {
      "event_id": "…",          required; unique per change and part (the rule
                                sends sys_id:sys_mod_count:c for a comment,
                                :s for the state); letters, digits and
                                _ . : @ / + = - only
      "type": "resolved",       required; created | commented | question |
                                resolved | closed | reopened | state_changed
      "number": "INC0010001",   required; the incident number
      "sys_id": "…",            optional; the incident's sys_id
      "correlation_id": "…",    optional; the incident's correlation_id: the
                                help desk's idempotency key (or reference) it
                                was created with
      "comment": "…",           optional; the comment, question, resolution note
                                or new state, in words for the employee
      "author": "…",            optional; who wrote or changed it
      "at": "…"                 optional; when, ISO 8601 or "YYYY-MM-DD HH:MM:SS"
                                (UTC), from 1970 to a day ahead of the bot's
                                clock
    }

``comment`` and ``author`` may hold any text but NUL and unpaired surrogates
(a JSON escape of half a UTF-16 pair), which no database stores.

The ticket is found in the ServiceNow outbox (``ticket_outbox``) by
``correlation_id``, else ``sys_id``, else ``number``; that row names the
employee, their tenant and the conversation to answer in. A ticket the help
desk did not raise is acknowledged and ignored (202). The event is recorded
for the notifier under ``itsm:{event_id}``; a second delivery of the same
``event_id`` answers 409 and sends nothing twice. A change the help desk made
itself is already recorded under that id
(:meth:`tools.tickets.servicenow.ServiceNowTickets._record_change`), so the
rule's report of it is such a replay.

Answers: 202 accepted or ignored; 400 malformed body (the message names the
field); 401 unsigned, badly signed, or stale; 404 webhook off; 409 replay;
413 body too large; 415 not JSON; 503 the app database is down.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.errors import BackendUnavailable
from tools.redact import clean_for_ticket as redact
from tools.settings import Settings
from tools.tickets.base import EventKind, TicketEvent
from tools.tickets.events import record_event
from tools.tickets.tables import ticket_outbox

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
TIMESTAMP_HEADER = "X-Helpdesk-Timestamp"
SIGNATURE_HEADER = "X-Helpdesk-Signature"
SIGNATURE_PREFIX = "sha256="
EVENT_PREFIX = "itsm:"
"""Webhook events are stored under this prefix, apart from the embedded system's."""
COMMENT_MAX = 4000
"""Longer comments are cut; the ticket keeps the whole text."""

KINDS: frozenset[str] = frozenset(get_args(EventKind))
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/+=-]*")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
"""NUL and unpaired surrogates: JSON may carry them, no database takes them."""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_AHEAD = timedelta(days=1)
"""How far ahead of the bot's clock ``at`` may be (clocks differ a little)."""
_LIMITS = {
    "event_id": 100,
    "number": 32,
    "sys_id": 64,
    "correlation_id": 128,
    "author": 256,
}
_SERVICENOW_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """The HTTP answer: a status and a JSON body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItsmEvent:
    """A checked webhook body."""

    event_id: str
    kind: EventKind
    number: str
    sys_id: str | None = None
    correlation_id: str | None = None
    comment: str = ""
    author: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Caller:
    reference: str
    tenant_id: str
    caller_id: str
    conversation_id: str | None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_enabled(settings: Settings) -> bool:
    """True when a shared secret is configured."""
    secret = settings.itsm_webhook_secret
    return secret is not None and bool(secret.get_secret_value())


def disabled_answer() -> WebhookAnswer:
    """What the endpoint answers while it is off."""
    return _error(
        404,
        "the ITSM webhook is off: set HELPDESK_ITSM_WEBHOOK_SECRET (the secret "
        "the ServiceNow business rule signs with) to turn it on",
    )


def too_large_answer() -> WebhookAnswer:
    """What the endpoint answers to a body over :data:`MAX_BODY_BYTES`."""
    return _error(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KB")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Helpdesk-Signature`` value for ``body`` sent at ``timestamp``."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


async def receive(
    body: bytes,
    headers: Any,
    *,
    settings: Settings,
    engine: AsyncEngine,
    now: float | None = None,
) -> WebhookAnswer:
    """Check, map and record one webhook call.

    Args:
        body: the raw request body (already limited to :data:`MAX_BODY_BYTES`).
        headers: the request headers (a case-insensitive mapping).
        settings: gives the secret and the timestamp tolerance.
        engine: the app database (the outbox to map from, events to record).
        now: the current unix time (tests).

    Returns:
        The answer to send; never raises for anything the caller sent.
    """
    if not is_enabled(settings):
        return disabled_answer()
    if len(body) > MAX_BODY_BYTES:
        return too_large_answer()
    try:
        _check_signature(body, headers, settings, now=now)
        _check_json(headers)
        event = parse_event(body, now=now)
    except _Refused as exc:
        if exc.status == 401:
            logger.warning("refused ITSM webhook call: %s", exc.message)
        return _error(exc.status, exc.message)

    try:
        caller = await _find_caller(engine, event)
        if caller is None:
            reason = (
                f"{event.number} was not raised through the help desk, so no "
                "employee is waiting for news of it"
            )
            logger.info("ITSM event %s ignored: %s", event.event_id, reason)
            return WebhookAnswer(202, {"status": "ignored", "reason": reason})
        stored = await record_event(engine, _ticket_event(event, caller))
    except (OSError, sa.exc.SQLAlchemyError, BackendUnavailable) as exc:
        logger.error("ITSM event %s not recorded: %s", event.event_id, exc)
        return _error(503, "the help desk database is unavailable; send it again later")

    if not stored:
        return _error(
            409,
            f"event {event.event_id} was already received; nothing was sent again",
        )
    logger.info(
        "ITSM event %s (%s) on %s accepted", event.event_id, event.kind, event.number
    )
    return WebhookAnswer(202, {"status": "accepted", "event_id": event.event_id})


def parse_event(body: bytes, *, now: float | None = None) -> ItsmEvent:
    """Read and check the JSON body.

    Args:
        body: the raw request body.
        now: the current unix time, which ``at`` may not be far ahead of (tests).

    Raises:
        _Refused: 400 with a message naming the field that is wrong.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers undecodable bytes, bad JSON and integers too long
        # for Python to read.
        raise _Refused(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object")

    event_id = _required_token(data, "event_id")
    kind = data.get("type")
    if kind is None or kind == "":
        raise _Refused(400, "'type' is missing")
    if not isinstance(kind, str) or kind not in KINDS:
        raise _Refused(400, f"'type' must be one of {', '.join(sorted(KINDS))}")
    number = _required_token(data, "number")
    comment = _optional_text(data, "comment", None)
    return ItsmEvent(
        event_id=event_id,
        kind=cast(EventKind, kind),
        number=number,
        sys_id=_optional_token(data, "sys_id"),
        correlation_id=_optional_key(data, "correlation_id"),
        comment=(comment or "")[:COMMENT_MAX],
        author=_optional_text(data, "author", _LIMITS["author"]),
        at=_optional_time(data, "at", now=time.time() if now is None else now),
    )


def _check_signature(
    body: bytes, headers: Any, settings: Settings, *, now: float | None
) -> None:
    """Refuse (401) unless both headers are well formed, fresh and match.

    Header values arrive as text decoded by the server; bytes that were not
    UTF-8 come through as surrogates, so each value is checked to be plain
    ASCII of the expected form before it is used or encoded.
    """
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise _Refused(
            401,
            f"sign the request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are needed",
        )
    if not isinstance(timestamp, str) or not _is_unix_seconds(timestamp):
        raise _Refused(401, f"{TIMESTAMP_HEADER} must be unix seconds")
    given = signature.strip().lower() if isinstance(signature, str) else ""
    if not given.isascii() or not _SIGNATURE.fullmatch(given):
        raise _Refused(
            401,
            f"{SIGNATURE_HEADER} must be {SIGNATURE_PREFIX} followed by the 64 "
            "lowercase hex digits of the HMAC-SHA256",
        )
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > settings.itsm_webhook_tolerance_s:
        raise _Refused(401, "stale or future timestamp")

    secret = settings.itsm_webhook_secret
    expected = sign(secret.get_secret_value() if secret else "", timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
        raise _Refused(401, "bad signature")


def _is_unix_seconds(value: str) -> bool:
    return value.isascii() and value.isdecimal() and len(value) <= 12


def _check_json(headers: Any) -> None:
    raw = headers.get("Content-Type") or ""
    raw = raw if isinstance(raw, str) else ""
    mime = raw.split(";", 1)[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise _Refused(
            415, f"send the event as application/json (received {_shown(raw)})"
        )


def _shown(header: str) -> str:
    """A header value fit to quote back: short printable ASCII, else a word."""
    if not header:
        return "none"
    if header.isascii() and header.isprintable() and len(header) <= 100:
        return header
    return "an unreadable value"


def _required_token(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise _Refused(400, f"'{name}' is missing")
    return _token(value, name)


def _optional_token(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    return _token(value, name)


def _optional_key(data: dict[str, Any], name: str) -> str | None:
    """An id we gave out ourselves (any printable text), compared, never shown."""
    value = data.get(name)
    if value is None or value == "":
        return None
    limit = _LIMITS[name]
    if not isinstance(value, str):
        raise _Refused(400, f"'{name}' must be a string")
    if len(value) > limit:
        raise _Refused(400, f"'{name}' is longer than {limit} characters")
    if not value.isprintable():
        raise _Refused(400, f"'{name}' must be printable text")
    return value


def _token(value: Any, name: str) -> str:
    limit = _LIMITS[name]
    if not isinstance(value, str):
        raise _Refused(400, f"'{name}' must be a string")
    if len(value) > limit:
        raise _Refused(400, f"'{name}' is longer than {limit} characters")
    if not _TOKEN.fullmatch(value):
        raise _Refused(
            400, f"'{name}' may hold letters, digits and _ . : @ / + = - only"
        )
    return value


def _optional_text(data: dict[str, Any], name: str, limit: int | None) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Refused(400, f"'{name}' must be a string")
    if _UNSTORABLE.search(value):
        raise _Refused(
            400,
            f"'{name}' holds a NUL character or an unpaired surrogate; send plain text",
        )
    value = value.strip()
    return (value[:limit] if limit else value) or None


def _optional_time(data: dict[str, Any], name: str, *, now: float) -> datetime | None:
    """The time in UTC; refused unless it lies between 1970 and a day from now."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _Refused(400, f"'{name}' must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.strptime(value, _SERVICENOW_TIME)  # noqa: DTZ007 - UTC, made aware below
        except ValueError:
            raise _Refused(
                400, f"'{name}' must be an ISO 8601 time or YYYY-MM-DD HH:MM:SS (UTC)"
            ) from None
    out_of_range = _Refused(
        400,
        f"'{name}' is out of range: give a time from 1970 up to a day ahead of "
        "now (UTC)",
    )
    try:
        # An offset can push a time at either end of the calendar past it.
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        else:
            moment = moment.astimezone(UTC)
        latest = datetime.fromtimestamp(now, UTC) + _AHEAD
    except (OverflowError, ValueError, OSError):
        raise out_of_range from None
    if not _EARLIEST <= moment <= latest:
        raise out_of_range
    return moment


async def _find_caller(engine: AsyncEngine, event: ItsmEvent) -> _Caller | None:
    """The employee behind a ServiceNow incident, from the outbox that created it."""
    table = ticket_outbox
    columns = sa.select(
        table.c.reference,
        table.c.tenant_id,
        table.c.caller_id,
        table.c.conversation_id,
    ).order_by(table.c.created_at.desc())
    lookups = []
    if event.correlation_id:
        lookups.append(
            sa.or_(
                table.c.idempotency_key == event.correlation_id,
                table.c.reference == event.correlation_id,
            )
        )
    if event.sys_id:
        lookups.append(table.c.sys_id == event.sys_id)
    lookups.append(table.c.number == event.number)
    async with engine.connect() as conn:
        for condition in lookups:
            row = (await conn.execute(columns.where(condition).limit(1))).first()
            if row is not None:
                return _Caller(
                    row.reference, row.tenant_id, row.caller_id, row.conversation_id
                )
    return None


def _ticket_event(event: ItsmEvent, caller: _Caller) -> TicketEvent:
    return TicketEvent(
        event_id=EVENT_PREFIX + event.event_id,
        kind=event.kind,
        reference=caller.reference,
        number=event.number,
        caller_id=caller.caller_id,
        tenant_id=caller.tenant_id,
        text=redact(event.comment),
        author=event.author,
        conversation_id=caller.conversation_id,
        at=event.at,
    )


def _error(status: int, message: str) -> WebhookAnswer:
    return WebhookAnswer(status, {"error": message})
