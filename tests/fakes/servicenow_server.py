"""A local ServiceNow instance: the REST calls a service desk integration makes, on loopback.

Speaks the Table API (``/api/now/table/{table}`` list and create,
``/api/now/table/{table}/{sys_id}`` get, ``PATCH`` and ``PUT``) on
``incident``, ``sys_user``, ``sys_user_group`` and ``sys_journal_field``; the
Attachment API (``POST /api/now/attachment/file`` with a binary body, ``GET
/api/now/attachment``); and the OAuth token endpoint (``POST
/oauth_token.do``, ``client_credentials`` grant). Requests authenticate with
basic auth or a bearer token from that endpoint.

What it does as ServiceNow does:

- answers ``{"result": ...}``; errors are ``{"error": {"message", "detail"},
  "status": "failure"}``; every answer has an ``X-Transaction-ID`` header and
  lists an ``X-Total-Count``;
- numbers incidents ``INC0010001`` upwards with 32-hex ``sys_id`` values,
  computes the priority from urgency and impact, keeps ``active`` true until
  an incident is closed, and refuses a resolution without ``close_code`` and
  ``close_notes`` (403, as the data policy does);
- ``comments`` and ``work_notes`` are journal fields: written on the incident,
  stored as ``sys_journal_field`` rows, read back there (or, with
  ``sysparm_display_value``, as the journal text on the incident);
- ``sysparm_query`` understands ``field=value``, ``!=``, ``IN``, ``NOT IN``,
  ``STARTSWITH``, ``LIKE``, ``ISEMPTY``, ``ISNOTEMPTY``, ``^`` (and), ``^OR``,
  ``ORDERBY`` and ``ORDERBYDESC``; ``sysparm_fields`` (dot-walked
  ``caller_id.email`` too), ``sysparm_limit``, ``sysparm_offset``,
  ``sysparm_display_value`` (``false``, ``true``, ``all``) and
  ``sysparm_exclude_reference_link``;
- it does not deduplicate: two identical creates make two incidents.

Faults, scripted per test: :meth:`FakeServiceNow.fail_next` (a status such as
401, 403, 429 with ``Retry-After``, 500, or a malformed body),
:meth:`FakeServiceNow.slow_next` (answer late, after doing the work),
:meth:`FakeServiceNow.drop_after_create` (create the incident, then never
answer or cut the connection) and :meth:`FakeServiceNow.expire_tokens`.
``requests`` records every call.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from aiohttp import web

USER = "helpdesk.integration"
PASSWORD = "Sn-integration-Pa55!"
CLIENT_ID = "3f1c2b7e9d8a4c6b8e0f1a2b3c4d5e6f"
CLIENT_SECRET = "oauth-client-secret-Xq7!"

_REFERENCES: dict[str, dict[str, str]] = {
    "incident": {
        "caller_id": "sys_user",
        "opened_by": "sys_user",
        "assigned_to": "sys_user",
        "resolved_by": "sys_user",
        "closed_by": "sys_user",
        "assignment_group": "sys_user_group",
        "cmdb_ci": "cmdb_ci",
    },
    "sys_user_group": {"manager": "sys_user"},
}
_DISPLAY_FIELD = {
    "incident": "number",
    "sys_user": "name",
    "sys_user_group": "name",
    "sys_journal_field": "value",
}
_CHOICES: dict[str, dict[str, str]] = {
    "state": {
        "1": "New",
        "2": "In Progress",
        "3": "On Hold",
        "6": "Resolved",
        "7": "Closed",
        "8": "Canceled",
    },
    "urgency": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "impact": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "priority": {
        "1": "1 - Critical",
        "2": "2 - High",
        "3": "3 - Moderate",
        "4": "4 - Low",
        "5": "5 - Planning",
    },
    "category": {
        "inquiry": "Inquiry / Help",
        "software": "Software",
        "hardware": "Hardware",
        "network": "Network",
        "database": "Database",
    },
    "hold_reason": {
        "1": "Awaiting Caller",
        "3": "Awaiting Problem",
        "4": "Awaiting Vendor",
        "5": "Awaiting Change",
    },
}
_JOURNAL_FIELDS = ("comments", "work_notes")
_JOURNAL_LABELS = {"comments": "Additional comments", "work_notes": "Work notes"}
_INCIDENT_FIELDS = (
    "sys_id",
    "number",
    "state",
    "incident_state",
    "active",
    "caller_id",
    "opened_by",
    "short_description",
    "description",
    "category",
    "subcategory",
    "cmdb_ci",
    "business_service",
    "contact_type",
    "correlation_id",
    "correlation_display",
    "urgency",
    "impact",
    "priority",
    "assignment_group",
    "assigned_to",
    "hold_reason",
    "close_code",
    "close_notes",
    "resolved_at",
    "resolved_by",
    "closed_at",
    "closed_by",
    "reopen_count",
    "sla_due",
    "opened_at",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_class_name",
    "comments",
    "work_notes",
)
_CONDITION = re.compile(
    r"^([a-z_][a-z0-9_.]*?)(!=|=|NOT IN|IN|STARTSWITH|ENDSWITH|NOT LIKE|LIKE|"
    r"ISNOTEMPTY|ISEMPTY)(.*)$",
    re.DOTALL,
)
_RECORD_PATH = re.compile(r"^/api/now/(?:v[12]/)?table/(\w+)(?:/([0-9a-f]{32}))?$")


@dataclass
class Request:
    """One call the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    kind: Literal["status", "malformed", "slow", "drop_hang", "drop_reset"]
    path_contains: str
    method: str | None
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0

    def matches(self, request: web.Request) -> bool:
        return (
            self.times > 0
            and self.path_contains in request.path_qs
            and self.method in (None, request.method)
        )


@dataclass
class FakeServiceNow:
    """State of the fake instance; ``url`` is set once it serves."""

    user: str = USER
    password: str = PASSWORD
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    token_lifetime_s: int = 1799
    url: str = ""
    tables: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: {
            "incident": {},
            "sys_user": {},
            "sys_user_group": {},
            "sys_journal_field": {},
        }
    )
    attachments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    """Issued bearer tokens and when each expires (monotonic seconds)."""
    _faults: list[_Fault] = field(default_factory=list)
    _next_number: int = 10001
    _seq: int = 0
    _integration_user_id: str = ""

    def __post_init__(self) -> None:
        self._integration_user_id = self.add_user(
            "helpdesk.integration@contoso.example",
            "Helpdesk Integration",
            user_name=self.user,
        )
        self.add_group("Service Desk")

    # -- seeding and inspection -------------------------------------------

    def add_user(self, email: str, name: str, *, user_name: str | None = None) -> str:
        """Add a ``sys_user``; returns its sys_id."""
        first, _, last = name.partition(" ")
        return self._insert(
            "sys_user",
            {
                "user_name": user_name or email.split("@", 1)[0],
                "name": name,
                "first_name": first,
                "last_name": last,
                "email": email,
                "active": "true",
            },
        )

    def add_group(self, name: str) -> str:
        """Add a ``sys_user_group``; returns its sys_id."""
        return self._insert("sys_user_group", {"name": name, "active": "true"})

    @property
    def incidents(self) -> list[dict[str, str]]:
        """The incidents, oldest first."""
        return list(self.tables["incident"].values())

    def incident(self, number: str) -> dict[str, str]:
        [found] = [i for i in self.incidents if i["number"] == number]
        return found

    def journal(self, sys_id: str, element: str = "comments") -> list[str]:
        """Journal entries of one incident, oldest first."""
        return [
            row["value"]
            for row in self.tables["sys_journal_field"].values()
            if row["element_id"] == sys_id and row["element"] == element
        ]

    def add_comment(
        self,
        sys_id: str,
        text: str,
        *,
        by: str = "beth.tech",
        element: str = "comments",
    ) -> None:
        """A technician writes on an incident, as in ServiceNow's own form."""
        self._journal(sys_id, element, text, by)
        record = self.tables["incident"][sys_id]
        record["sys_mod_count"] = str(int(record["sys_mod_count"]) + 1)

    def calls(self, method: str, path: str) -> list[Request]:
        """Recorded calls with this method whose path starts with ``path``."""
        return [
            r for r in self.requests if r.method == method and r.path.startswith(path)
        ]

    # -- faults -------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        path_contains: str = "",
        method: str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str = "",
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and an
        error body, without doing the work."""
        self._faults.append(
            _Fault(
                "status",
                path_contains,
                method,
                times,
                status=status,
                headers=headers or {},
                message=message,
            )
        )

    def malformed_next(
        self, *, path_contains: str = "", method: str | None = None, times: int = 1
    ) -> None:
        """Answer 200 with a body that is not JSON, without doing the work."""
        self._faults.append(_Fault("malformed", path_contains, method, times))

    def slow_next(
        self,
        seconds: float,
        *,
        path_contains: str = "",
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Wait ``seconds`` before handling the next matching requests; the work
        is still done (a create still creates) after the client gave up."""
        self._faults.append(
            _Fault("slow", path_contains, method, times, seconds=seconds)
        )

    def drop_after_create(
        self, *, times: int = 1, mode: Literal["hang", "reset"] = "hang"
    ) -> None:
        """Create the next incident, then never answer (``hang``) or close the
        connection without a response (``reset``)."""
        kind: Literal["drop_hang", "drop_reset"] = (
            "drop_hang" if mode == "hang" else "drop_reset"
        )
        self._faults.append(
            _Fault(kind, "/table/incident", "POST", times, seconds=3600)
        )

    def expire_tokens(self) -> None:
        """Revoke every bearer token issued so far."""
        self.tokens.clear()

    # -- serving ------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Request(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
            )
        )
        fault = next((f for f in self._faults if f.matches(request)), None)
        if fault is not None:
            fault.times -= 1
            if fault.kind == "status":
                return _error(
                    fault.status,
                    fault.message or _REASONS.get(fault.status, "Error"),
                    "injected fault",
                    fault.headers,
                )
            if fault.kind == "malformed":
                return web.Response(
                    status=200,
                    text='{"result": [{"sys_id": "',
                    content_type="application/json",
                    headers=_headers(),
                )
            if fault.kind == "slow":
                await asyncio.sleep(fault.seconds)

        if request.path == "/oauth_token.do" and request.method == "POST":
            return self._token(body)
        who = self._authenticate(request)
        if who is None:
            return _error(
                401, "User Not Authenticated", "Required to provide Auth information"
            )
        response = self._route(request, body, who)
        if fault is not None and fault.kind in ("drop_hang", "drop_reset"):
            if fault.kind == "drop_reset" and request.transport is not None:
                request.transport.abort()
                return response
            await asyncio.sleep(fault.seconds)
        return response

    def _token(self, body: bytes) -> web.Response:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return web.json_response(
                {"error_description": "access_denied", "error": "server_error"},
                status=401,
                headers=_headers(),
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return web.json_response(
                {"error_description": "access_denied", "error": "server_error"},
                status=401,
                headers=_headers(),
            )
        token = secrets.token_urlsafe(48)
        self.tokens[token] = time.monotonic() + self.token_lifetime_s
        return web.json_response(
            {
                "access_token": token,
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_s,
            },
            headers=_headers(),
        )

    def _authenticate(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            if (user, password) == (self.user, self.password):
                return user
            return None
        if scheme.lower() == "bearer":
            expires = self.tokens.get(value)
            if expires is not None and expires > time.monotonic():
                return self.user
        return None

    def _route(self, request: web.Request, body: bytes, who: str) -> web.Response:
        path = request.path
        query = request.query
        if path in ("/api/now/attachment/file", "/api/now/v1/attachment/file"):
            if request.method != "POST":
                return _error(405, "Method not Supported", "use POST")
            return self._attach(query, body, request.content_type, who)
        if path in ("/api/now/attachment", "/api/now/v1/attachment"):
            rows = [
                a["meta"]
                for a in self.attachments
                if _matches(a["meta"], query.get("sysparm_query", ""))
            ]
            return _answer(200, rows)
        match = _RECORD_PATH.match(path)
        if match is None or match.group(1) not in self.tables:
            return _error(
                400,
                "Invalid table",
                f"Requested URI does not represent any resource: {path}",
            )
        table, sys_id = match.group(1), match.group(2)
        if request.method in ("POST", "PATCH", "PUT"):
            if "json" not in request.content_type:
                return _error(415, "Unsupported Media Type", request.content_type)
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return _error(
                    400,
                    "Exception while reading request",
                    "The payload is not valid JSON.",
                )
            if not isinstance(payload, dict):
                return _error(400, "Exception while reading request", "not an object")
        if sys_id is None:
            if request.method == "GET":
                return self._list(table, query)
            if request.method == "POST":
                if table != "incident":
                    return _error(403, "Operation Failed", "ACL restricts the insert")
                return self._create(payload, query, who)
            return _error(405, "Method not Supported", request.method)
        record = self.tables[table].get(sys_id)
        if record is None:
            return _error(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        if request.method == "GET":
            return _answer(200, self._render(table, record, query))
        if request.method in ("PATCH", "PUT") and table == "incident":
            return self._update(record, payload, query, who)
        return _error(405, "Method not Supported", request.method)

    # -- the Table API ------------------------------------------------------

    def _list(self, table: str, query: Any) -> web.Response:
        text = query.get("sysparm_query", "")
        rows = [r for r in self.tables[table].values() if self._query(table, r, text)]
        rows = _ordered(rows, text)
        total = len(rows)
        offset = int(query.get("sysparm_offset", "0") or 0)
        limit = int(query.get("sysparm_limit", "10000") or 10000)
        page = rows[offset : offset + limit]
        return _answer(
            200,
            [self._render(table, r, query) for r in page],
            total=total,
        )

    def _create(self, payload: dict[str, Any], query: Any, who: str) -> web.Response:
        record = {name: "" for name in _INCIDENT_FIELDS if name not in _JOURNAL_FIELDS}
        now = _now()
        record.update(
            state="1",
            active="true",
            urgency="3",
            impact="3",
            reopen_count="0",
            sys_mod_count="0",
            sys_class_name="incident",
            opened_at=now,
            opened_by=self._integration_user_id,
            sys_created_by=who,
            sys_updated_by=who,
            number=f"INC{self._next_number:07d}",
        )
        self._next_number += 1
        journal = self._apply(record, payload)
        record["priority"] = _priority(record["urgency"], record["impact"])
        record["incident_state"] = record["state"]
        sys_id = self._insert("incident", record)
        for element, text in journal:
            self._journal(sys_id, element, text, who)
        return _answer(201, self._render("incident", record, query))

    def _update(
        self, record: dict[str, str], payload: dict[str, Any], query: Any, who: str
    ) -> web.Response:
        before = dict(record)
        journal = self._apply(record, payload)
        if record["state"] == "6" and not (
            record["close_code"] and record["close_notes"]
        ):
            record.clear()
            record.update(before)
            return _error(
                403,
                "Operation Failed",
                "Data Policy Exception: \n\tThe following fields are mandatory: "
                "Resolution code, Resolution notes\n",
            )
        record["priority"] = _priority(record["urgency"], record["impact"])
        record["incident_state"] = record["state"]
        if record["state"] != before["state"]:
            self._moved(record, before["state"], who)
        for element, text in journal:
            self._journal(record["sys_id"], element, text, who)
        record["sys_updated_on"] = _now()
        record["sys_updated_by"] = who
        record["sys_mod_count"] = str(int(record["sys_mod_count"]) + 1)
        return _answer(200, self._render("incident", record, query))

    def _apply(
        self, record: dict[str, str], payload: dict[str, Any]
    ) -> list[tuple[str, str]]:
        """Copy known fields (unknown ones are ignored, as ServiceNow does);
        return the journal entries to write."""
        journal: list[tuple[str, str]] = []
        for name, value in payload.items():
            text = "" if value is None else str(value)
            if name in _JOURNAL_FIELDS:
                if text:
                    journal.append((name, text))
            elif name in record and name not in ("sys_id", "number"):
                record[name] = text
        return journal

    def _moved(self, record: dict[str, str], old: str, who: str) -> None:
        now = _now()
        if record["state"] == "6":
            record.update(resolved_at=now, resolved_by=self._user_id(who))
        elif record["state"] == "7":
            record.update(active="false", closed_at=now, closed_by=self._user_id(who))
        if old in ("6", "7") and record["state"] in ("1", "2", "3"):
            record["reopen_count"] = str(int(record["reopen_count"] or 0) + 1)
            record.update(resolved_at="", resolved_by="")
        if record["state"] != "3":
            record["hold_reason"] = ""

    def _journal(self, sys_id: str, element: str, text: str, who: str) -> None:
        self._insert(
            "sys_journal_field",
            {
                "name": "incident",
                "element_id": sys_id,
                "element": element,
                "value": text,
                "sys_created_by": who,
                "sys_tags": "",
            },
        )

    def _attach(
        self, query: Any, body: bytes, content_type: str, who: str
    ) -> web.Response:
        table = query.get("table_name")
        target = query.get("table_sys_id")
        name = query.get("file_name")
        if not (table and target and name):
            return _error(
                400,
                "Failed to create the attachment",
                "table_name, table_sys_id and file_name are required",
            )
        if target not in self.tables.get(table, {}):
            return _error(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            )
        sys_id = secrets.token_hex(16)
        meta = {
            "sys_id": sys_id,
            "file_name": name,
            "table_name": table,
            "table_sys_id": target,
            "content_type": content_type,
            "size_bytes": str(len(body)),
            "download_link": f"{self.url}/api/now/attachment/{sys_id}/file",
            "sys_created_on": _now(),
            "sys_created_by": who,
        }
        self.attachments.append({"meta": meta, "data": body})
        return _answer(201, meta)

    # -- queries and rendering ------------------------------------------------

    def _query(self, table: str, record: dict[str, str], text: str) -> bool:
        return _matches(record, text, lambda name: self._value(table, record, name))

    def _value(self, table: str, record: dict[str, str], name: str) -> str:
        """A field's stored value; ``ref.field`` dot-walks a reference."""
        head, _, rest = name.partition(".")
        value = record.get(head, "")
        if not rest:
            return value
        target = _REFERENCES.get(table, {}).get(head)
        linked = self.tables.get(target or "", {}).get(value)
        if linked is None:
            return ""
        return self._value(target or "", linked, rest)

    def _display(self, table: str, record: dict[str, str], name: str) -> str:
        head, _, rest = name.partition(".")
        if rest:
            target = _REFERENCES.get(table, {}).get(head, "")
            linked = self.tables.get(target, {}).get(record.get(head, ""))
            return self._display(target, linked, rest) if linked else ""
        if name in _JOURNAL_FIELDS and table == "incident":
            return self._journal_text(record["sys_id"], name)
        value = record.get(name, "")
        kind = _REFERENCES.get(table, {}).get(name)
        if kind is not None:
            found = self.tables.get(kind, {}).get(value)
            return found.get(_DISPLAY_FIELD.get(kind, "name"), "") if found else ""
        return _CHOICES.get(name, {}).get(value, value)

    def _journal_text(self, sys_id: str, element: str) -> str:
        rows = [
            r
            for r in self.tables["sys_journal_field"].values()
            if r["element_id"] == sys_id and r["element"] == element
        ]
        label = _JOURNAL_LABELS[element]
        return "".join(
            f"{r['sys_created_on']} - {self._name_of(r['sys_created_by'])} "
            f"({label})\n{r['value']}\n\n"
            for r in reversed(rows)
        )

    def _name_of(self, user_name: str) -> str:
        for user in self.tables["sys_user"].values():
            if user["user_name"] == user_name:
                return user["name"]
        return user_name

    def _user_id(self, user_name: str) -> str:
        for user in self.tables["sys_user"].values():
            if user["user_name"] == user_name:
                return user["sys_id"]
        return ""

    def _render(self, table: str, record: dict[str, str], query: Any) -> dict[str, Any]:
        wanted = [f for f in query.get("sysparm_fields", "").split(",") if f]
        names = wanted or [
            n
            for n in (_INCIDENT_FIELDS if table == "incident" else tuple(record))
            if n in record or n in _JOURNAL_FIELDS
        ]
        mode = query.get("sysparm_display_value", "false").lower()
        no_links = query.get("sysparm_exclude_reference_link", "false") == "true"
        refs = _REFERENCES.get(table, {})
        result: dict[str, Any] = {}
        for name in names:
            value = "" if name in _JOURNAL_FIELDS else self._value(table, record, name)
            reference = refs.get(name)
            link = (
                {"link": f"{self.url}/api/now/table/{reference}/{value}"}
                if reference and value and not no_links
                else {}
            )
            if mode == "true":
                result[name] = (
                    {"display_value": self._display(table, record, name), **link}
                    if link
                    else self._display(table, record, name)
                )
            elif mode == "all":
                result[name] = {
                    "display_value": self._display(table, record, name),
                    "value": value,
                    **link,
                }
            else:
                result[name] = {"value": value, **link} if link else value
        return result

    def _insert(self, table: str, values: dict[str, str]) -> str:
        """Store ``values`` (the same dict, so the caller sees the sys_id)."""
        sys_id = secrets.token_hex(16)
        now = _now()
        self._seq += 1
        for name in ("sys_created_on", "sys_updated_on"):
            values[name] = values.get(name) or now
        values.update(sys_id=sys_id, _seq=str(self._seq))
        self.tables[table][sys_id] = values
        return sys_id


# -- encoded queries ---------------------------------------------------------


def _matches(record: dict[str, str], text: str, value_of: Any = None) -> bool:
    """Whether ``record`` satisfies an encoded query (``^`` and, ``^OR`` or)."""
    get = value_of or (lambda name: str(record.get(name, "")))
    groups: list[list[str]] = []
    for term in text.split("^") if text else []:
        if not term or term.startswith(("ORDERBY", "NQ")):
            continue
        if term.startswith("OR") and groups and _CONDITION.match(term[2:]):
            groups[-1].append(term[2:])
        else:
            groups.append([term])
    return all(any(_condition(get, c) for c in group) for group in groups)


def _condition(get: Any, term: str) -> bool:
    match = _CONDITION.match(term)
    if match is None:
        return False  # ServiceNow ignores an invalid term; matching nothing is safer
    name, op, expected = match.groups()
    actual = str(get(name))
    low, want = actual.lower(), expected.lower()
    if op == "=":
        return low == want
    if op == "!=":
        return low != want
    if op == "IN":
        return low in [v.lower() for v in expected.split(",")]
    if op == "NOT IN":
        return low not in [v.lower() for v in expected.split(",")]
    if op == "STARTSWITH":
        return low.startswith(want)
    if op == "ENDSWITH":
        return low.endswith(want)
    if op == "LIKE":
        return want in low
    if op == "NOT LIKE":
        return want not in low
    if op == "ISEMPTY":
        return actual == ""
    return actual != ""  # ISNOTEMPTY


def _ordered(rows: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    rows = sorted(rows, key=lambda r: int(r["_seq"]))
    orders = [t for t in text.split("^") if t.startswith("ORDERBY")] if text else []
    for term in reversed(orders):
        descending = term.startswith("ORDERBYDESC")
        name = term.removeprefix("ORDERBYDESC" if descending else "ORDERBY")
        rows.sort(key=lambda r, n=name: r.get(n, ""), reverse=descending)  # type: ignore[misc]
    return rows


def _priority(urgency: str, impact: str) -> str:
    try:
        total = int(urgency) + int(impact)
    except ValueError:
        return "5"
    return str({2: 1, 3: 2, 4: 3, 5: 4, 6: 5}.get(total, 5))


# -- answers ------------------------------------------------------------------

_REASONS = {
    400: "Bad Request",
    401: "User Not Authenticated",
    403: "Operation Failed",
    404: "No Record found",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service Unavailable",
}


def _headers(total: int | None = None) -> dict[str, str]:
    headers = {"X-Transaction-ID": secrets.token_hex(6)}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    return headers


def _answer(status: int, result: Any, *, total: int | None = None) -> web.Response:
    body = _strip(result)
    return web.json_response({"result": body}, status=status, headers=_headers(total))


def _strip(result: Any) -> Any:
    if isinstance(result, list):
        return [_strip(r) for r in result]
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if k != "_seq"}
    return result


def _error(
    status: int, message: str, detail: str | None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "detail": detail}, "status": "failure"},
        status=status,
        headers={**_headers(), **(headers or {})},
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


@asynccontextmanager
async def serve_fake_servicenow(**options: Any) -> AsyncIterator[FakeServiceNow]:
    """Run a fake instance on a free loopback port for the duration of the block.

    Args:
        **options: fields of :class:`FakeServiceNow` (credentials, token lifetime).
    """
    fake = FakeServiceNow(**options)
    runner = web.AppRunner(fake.app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()
