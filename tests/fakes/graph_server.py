"""A local Microsoft Graph v1.0: the endpoints the directory uses, on loopback.

Speaks what ``msgraph-sdk`` sends for users (get by id or UPN, ``$filter``
startswith search), ``manager``, ``transitiveMemberOf/microsoft.graph.directoryRole``,
``authentication/methods``, ``authentication/temporaryAccessPassMethods``
(list, create, delete), ``PATCH`` of ``passwordProfile`` and
``revokeSignInSessions``; groups (get by id, ``$filter`` by displayName),
``members/$ref`` (add, with Graph's 400 for an existing member and for
mail-enabled groups; remove, with its 404 for a non-member),
``checkMemberGroups`` and ``memberOf/microsoft.graph.group`` (paged when
``page_size`` is set). Every answer carries a ``request-id`` header; errors
have Graph's body ``{"error": {"code", "message", "innerError": {"request-id",
"date"}}}``.

People are seeded per test with :meth:`FakeGraph.add_user`, groups with
:meth:`FakeGraph.add_group`. Faults:
``deny_upns`` answers writes on those accounts 403 Authorization_RequestDenied;
:meth:`FakeGraph.fail_next` scripts a status (401, 404, 429 with Retry-After,
500…) or a malformed body; :meth:`FakeGraph.slow_next` delays an answer past
the client's timeout. ``requests`` records (method, path, JSON body) of each call.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

TOKEN = "fake-graph-token"
_USER = re.compile(r"^/v1\.0/users/([^/]+)(/.*)?$")
_GROUP = re.compile(r"^/v1\.0/groups/([^/]+)(/.*)?$")
_DISPLAY_NAME_EQ = re.compile(r"^displayName eq '((?:[^']|'')*)'$")
_GROUP_KINDS = {
    "security": {"mailEnabled": False, "securityEnabled": True, "groupTypes": []},
    "microsoft365": {
        "mailEnabled": True,
        "securityEnabled": False,
        "groupTypes": ["Unified"],
    },
    "mail_enabled_security": {
        "mailEnabled": True,
        "securityEnabled": True,
        "groupTypes": [],
    },
    "distribution": {"mailEnabled": True, "securityEnabled": False, "groupTypes": []},
}
_STARTSWITH = re.compile(r"startswith\(\w+,'((?:[^']|'')*)'\)")
_METHOD_TYPES = {
    "authenticator": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "phone": "#microsoft.graph.phoneAuthenticationMethod",
    "fido2": "#microsoft.graph.fido2AuthenticationMethod",
    "hello": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "email": "#microsoft.graph.emailAuthenticationMethod",
    "password": "#microsoft.graph.passwordAuthenticationMethod",
}


@dataclass
class _Fault:
    status: int
    path_contains: str
    method: str | None
    times: int
    headers: dict[str, str]
    code: str
    raw_body: str | None
    message: str = "injected"


@dataclass
class FakeGraph:
    """State of the fake Graph; ``app`` is the aiohttp application."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    managers: dict[str, str] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)
    methods: dict[str, list[str]] = field(default_factory=dict)
    passes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    page_size: int | None = None
    """Page ``memberOf`` answers with ``@odata.nextLink`` when set."""
    deny_upns: set[str] = field(default_factory=set)
    one_pass_only: bool = False
    """Refuse a new pass while one exists (as some tenants' Graph does)."""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    last_request_id: str = ""
    base_url: str = ""
    """Where the server listens (``http://127.0.0.1:PORT/v1.0``), for next links."""
    _faults: list[_Fault] = field(default_factory=list)
    _slow: list[tuple[str, float]] = field(default_factory=list)

    def add_user(
        self,
        object_id: str,
        upn: str,
        name: str,
        *,
        manager: str | None = None,
        roles: list[str] | None = None,
        methods: list[str] | None = None,
        enabled: bool = True,
    ) -> None:
        self.users[object_id] = {
            "id": object_id,
            "userPrincipalName": upn,
            "displayName": name,
            "mail": upn,
            "accountEnabled": enabled,
            "lastPasswordChangeDateTime": "2026-10-01T08:00:00Z",
            "department": "Sales",
            "jobTitle": "Account Manager",
        }
        if manager:
            self.managers[object_id] = manager
        self.roles[object_id] = list(roles or [])
        self.methods[object_id] = list(methods or ["password"])

    def add_group(
        self,
        object_id: str,
        name: str,
        *,
        kind: str = "security",
        role_assignable: bool = False,
        synced: bool = False,
        members: list[str] | None = None,
    ) -> None:
        mail = None
        if _GROUP_KINDS[kind]["mailEnabled"]:
            mail = name.lower().replace(" ", "") + "@contoso.example"
        self.groups[object_id] = {
            "id": object_id,
            "displayName": name,
            "mail": mail,
            "isAssignableToRole": role_assignable,
            "onPremisesSyncEnabled": True if synced else None,
            **_GROUP_KINDS[kind],
        }
        self.members[object_id] = set(members or [])

    def fail_next(
        self,
        status: int,
        *,
        path_contains: str = "",
        method: str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        code: str = "InjectedFault",
        raw_body: str | None = None,
        message: str = "injected",
    ) -> None:
        """Answer the next matching requests with ``status`` (or ``raw_body``)."""
        self._faults.append(
            _Fault(
                status,
                path_contains,
                method,
                times,
                headers or {},
                code,
                raw_body,
                message,
            )
        )

    def slow_next(self, seconds: float, *, path_contains: str = "") -> None:
        self._slow.append((path_contains, seconds))

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] != "GET"]

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.path, body))
        self.last_request_id = str(uuid.uuid4())

        for index, (part, seconds) in enumerate(self._slow):
            if part in request.path:
                del self._slow[index]
                await asyncio.sleep(seconds)
                break
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.path_contains in request.path
                and fault.method in (None, request.method)
            ):
                fault.times -= 1
                if fault.raw_body is not None:
                    return self._answer(fault.status, text=fault.raw_body)
                return self._error(
                    fault.status, fault.code, fault.message, fault.headers
                )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._error(401, "InvalidAuthenticationToken", "token is missing")

        if request.path == "/v1.0/users" and request.method == "GET":
            return self._search(request.query.get("$filter", ""))
        if request.path == "/v1.0/groups" and request.method == "GET":
            return self._group_search(request.query.get("$filter", ""))
        group_match = _GROUP.match(request.path)
        if group_match is not None:
            return self._group_route(
                request.method, group_match.group(1), group_match.group(2) or "", body
            )
        match = _USER.match(request.path)
        if match is None:
            return self._error(400, "BadRequest", "unsupported path")
        user = self._find(match.group(1))
        if user is None:
            return self._error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{match.group(1)}' does not exist",
            )
        return self._user_route(
            request.method, user, match.group(2) or "", body, request.query
        )

    def _user_route(
        self,
        method: str,
        user: dict[str, Any],
        rest: str,
        body: Any,
        query: Any = None,
    ) -> web.Response:
        oid = user["id"]
        if rest == "/checkMemberGroups" and method == "POST":
            wanted = body.get("groupIds", [])
            value = [g for g in wanted if oid in self.members.get(g, set())]
            return self._answer(200, {"value": value})
        if rest in ("/memberOf/microsoft.graph.group", "/memberOf/graph.group"):
            return self._member_of(oid, rest, query or {})
        writes = method in ("POST", "PATCH", "DELETE")
        if writes and user["userPrincipalName"] in self.deny_upns:
            return self._error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if rest == "" and method == "GET":
            return self._answer(200, user)
        if rest == "" and method == "PATCH":
            return self._answer(204)
        if rest == "/manager":
            manager = self.users.get(self.managers.get(oid, ""))
            if manager is None:
                return self._error(404, "Request_ResourceNotFound", "no manager")
            return self._answer(
                200, {"@odata.type": "#microsoft.graph.user", **manager}
            )
        if rest in (
            "/transitiveMemberOf/microsoft.graph.directoryRole",
            "/transitiveMemberOf/graph.directoryRole",
        ):
            value = [
                {
                    "@odata.type": "#microsoft.graph.directoryRole",
                    "id": f"role-{i}",
                    "displayName": name,
                }
                for i, name in enumerate(self.roles.get(oid, []))
            ]
            return self._answer(200, {"value": value})
        if rest == "/authentication/methods":
            value = [
                {"@odata.type": _METHOD_TYPES[m], "id": f"m-{i}"}
                | (
                    {"phoneNumber": "+1 425 555 0142", "phoneType": "mobile"}
                    if m == "phone"
                    else {}
                )
                for i, m in enumerate(self.methods.get(oid, []))
            ]
            value += [
                {
                    "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
                    "id": p["id"],
                }
                for p in self.passes.get(oid, [])
            ]
            return self._answer(200, {"value": value})
        if rest == "/authentication/temporaryAccessPassMethods":
            if method == "GET":
                return self._answer(200, {"value": self.passes.get(oid, [])})
            if self.one_pass_only and self.passes.get(oid):
                return self._error(
                    400,
                    "badRequest",
                    "The user already has a Temporary Access Pass; delete it first.",
                )
            created = {
                "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
                "id": str(uuid.uuid4()),
                "temporaryAccessPass": "TAPvalue" + uuid.uuid4().hex[:8],
                "createdDateTime": _now(),
                "startDateTime": _now(),
                "lifetimeInMinutes": body.get("lifetimeInMinutes", 60),
                "isUsableOnce": body.get("isUsableOnce", False),
                "isUsable": True,
            }
            self.passes[oid] = [created]
            return self._answer(201, created)
        if rest.startswith("/authentication/temporaryAccessPassMethods/") and writes:
            self.passes[oid] = []
            return self._answer(204)
        if rest == "/revokeSignInSessions" and method == "POST":
            self.revoked.append(oid)
            return self._answer(200, {"value": True})
        return self._error(400, "BadRequest", f"unsupported: {method} {rest}")

    def _group_route(
        self, method: str, group_id: str, rest: str, body: Any
    ) -> web.Response:
        group = self.groups.get(group_id)
        if group is None:
            return self._error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{group_id}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        if rest == "" and method == "GET":
            return self._answer(200, group)
        if rest == "/members/$ref" and method == "POST":
            user_id = str(body.get("@odata.id", "")).rsplit("/", 1)[-1]
            return self._add_member(group, user_id)
        if (
            rest.startswith("/members/")
            and rest.endswith("/$ref")
            and method == "DELETE"
        ):
            user_id = rest.removeprefix("/members/").removesuffix("/$ref")
            if user_id not in self.members[group_id]:
                return self._error(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{user_id}' does not exist or one of its queried "
                    "reference-property objects are not present.",
                )
            self.members[group_id].discard(user_id)
            return self._answer(204)
        return self._error(400, "BadRequest", f"unsupported: {method} {rest}")

    def _add_member(self, group: dict[str, Any], user_id: str) -> web.Response:
        if user_id not in self.users:
            return self._error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{user_id}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        if group["mailEnabled"] and "Unified" not in group["groupTypes"]:
            return self._error(
                400,
                "Request_BadRequest",
                "Cannot Update a mail-enabled security groups and or "
                "distribution list.",
            )
        if user_id in self.members[group["id"]]:
            return self._error(
                400,
                "Request_BadRequest",
                "One or more added object references already exist for the "
                "following modified properties: 'members'.",
            )
        self.members[group["id"]].add(user_id)
        return self._answer(204)

    def _member_of(self, user_id: str, rest: str, query: Any) -> web.Response:
        found = [g for gid, g in self.groups.items() if user_id in self.members[gid]]
        if self.page_size is None:
            return self._answer(200, {"value": found})
        start = int(query.get("$skiptoken", "0"))
        page: dict[str, Any] = {"value": found[start : start + self.page_size]}
        if start + self.page_size < len(found):
            page["@odata.nextLink"] = (
                f"{self.base_url}/users/{user_id}{rest}"
                f"?$skiptoken={start + self.page_size}"
            )
        return self._answer(200, page)

    def _group_search(self, expression: str) -> web.Response:
        match = _DISPLAY_NAME_EQ.match(expression)
        if match is None:
            return self._error(400, "BadRequest", f"unsupported filter {expression}")
        name = match.group(1).replace("''", "'")
        found = [
            g for g in self.groups.values() if g["displayName"].lower() == name.lower()
        ]
        return self._answer(200, {"value": found})

    def _find(self, key: str) -> dict[str, Any] | None:
        if key in self.users:
            return self.users[key]
        for user in self.users.values():
            if user["userPrincipalName"].lower() == key.lower():
                return user
        return None

    def _search(self, expression: str) -> web.Response:
        prefixes = [
            m.replace("''", "'").lower() for m in _STARTSWITH.findall(expression)
        ]
        found = [
            u
            for u in self.users.values()
            if any(
                str(u.get(f) or "").lower().startswith(p)
                for p in prefixes
                for f in ("displayName", "userPrincipalName", "mail")
            )
        ]
        return self._answer(200, {"value": found})

    def _answer(
        self, status: int, payload: Any = None, *, text: str | None = None
    ) -> web.Response:
        headers = {"request-id": self.last_request_id}
        if text is not None:
            return web.Response(
                status=status,
                text=text,
                content_type="application/json",
                headers=headers,
            )
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        body = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"request-id": self.last_request_id, "date": _now()},
            }
        }
        return web.json_response(
            body,
            status=status,
            headers={"request-id": self.last_request_id, **(headers or {})},
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FixedTokenCredential:
    """An async credential whose ``get_token`` returns :data:`TOKEN`."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, int(datetime.now(UTC).timestamp()) + 3600)

    async def close(self) -> None:
        pass
