"""The admin HTTP API: ``/admin/api/tools``, to register, change, switch off
and test tools without a deploy.

Who may call it:

- With an app id (signed mode), a bearer token from Entra ID for this app
  (audience: the app id or ``api://<app id>``), signed by the tenant's keys
  and carrying the ``HELPDESK_ADMIN_ROLE`` app role (``Helpdesk.Admin``).
  No token or a bad one: 401; a good token without the role: 403.
- In local mode, the ``X-Admin-Key`` header equal to ``HELPDESK_ADMIN_KEY``;
  with no key set the API refuses everyone.

The dashboard under ``/admin`` (:mod:`bot.admin_dashboard`) uses the same
checks and also signs a browser in with a session cookie. This API does not
take that cookie: it stays header-only, because some of its writes (a
``text/plain`` manifest, a bodyless enable or disable) are requests that a
form on another site could send along with the cookie.

Routes (JSON in and out; a manifest may be sent as YAML):

    GET    /admin/api/tools                 every tool, built-in and registered
    POST   /admin/api/tools                 register one (body: its manifest)
    GET    /admin/api/tools/{name}          one tool, its manifest and history
    PUT    /admin/api/tools/{name}          a new version of a registered tool
    POST   /admin/api/tools/{name}/enable   switch on (built-ins too)
    POST   /admin/api/tools/{name}/disable  switch off (built-ins too)
    POST   /admin/api/tools/{name}/test     {"args": {...}}: one dry run
    DELETE /admin/api/tools/{name}          remove a registered tool

Errors are JSON ``{"error": ...}`` naming the field; bad input is a 4xx,
never a 5xx.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import yaml
from aiohttp import web

from tools.custom import admin
from tools.errors import HelpdeskError, InvalidInput, NotFound
from tools.identity import Requester
from tools.settings import Settings

logger = logging.getLogger(__name__)

BODY_MAX = admin.SOURCE_MAX + 10_000
_KEYS_TTL_S = 3600.0
_ENTRA_METADATA = (
    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
)


@dataclass(frozen=True, slots=True)
class Admin:
    """Who called: their id for the audit trail, and a requester for test runs."""

    who: str
    requester: Requester


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AdminAuth:
    """Checks an admin call; caches the token signing keys for an hour."""

    settings: Settings
    _keys: dict[str, Any] = field(default_factory=dict)
    _issuer: str | None = None
    _fetched_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def check(self, request: web.Request) -> Admin:
        """The admin behind ``request``, from its headers.

        Raises:
            Refused: 401 without valid credentials, 403 without the role.
        """
        if self.settings.local_mode:
            return self.check_key(request.headers.get("X-Admin-Key", ""))
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(
                401, "send an Entra ID bearer token (Authorization: Bearer …)"
            )
        return await self.check_token(token.strip())

    async def check_credential(self, credential: str) -> Admin:
        """The admin behind a pasted credential (the dashboard's sign-in form).

        Args:
            credential: in local mode the admin key; otherwise an Entra access
                token for this app, with or without a leading ``Bearer``.

        Raises:
            Refused: 401 for a wrong key or token, 403 without the role.
        """
        if self.settings.local_mode:
            return self.check_key(credential.strip())
        scheme, _, rest = credential.strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else credential.strip()
        if not token:
            raise Refused(401, "paste an Entra ID access token for this app")
        return await self.check_token(token)

    async def check_token(self, token: str) -> Admin:
        """The admin behind an Entra access token (signed mode).

        Raises:
            Refused: 401 for a bad token, 403 without the admin role, 503 when
                the signing keys cannot be read.
        """
        settings = self.settings
        claims = await self._claims(token)
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or settings.admin_role not in roles:
            raise Refused(
                403,
                f"the token lacks the {settings.admin_role!r} app role; an Entra "
                "admin assigns it under the app's Enterprise application",
            )
        who = str(
            claims.get("preferred_username")
            or claims.get("upn")
            or claims.get("oid")
            or "admin"
        )
        requester = Requester(
            object_id=str(claims.get("oid") or who),
            tenant_id=str(claims.get("tid") or settings.app_tenant_id or "local"),
            name=str(claims.get("name") or who),
            upn=who if "@" in who else None,
        )
        return Admin(who=who, requester=requester)

    def check_key(self, given: str) -> Admin:
        """The admin behind the local admin key ``given`` (local mode).

        Raises:
            Refused: 403 when no key is set, 401 when ``given`` is not it.
        """
        wanted = self.settings.admin_key
        if wanted is None:
            raise Refused(
                403,
                "the admin API is off in local mode until HELPDESK_ADMIN_KEY is "
                "set; then send it in the X-Admin-Key header",
            )
        if not hmac.compare_digest(given.encode(), wanted.get_secret_value().encode()):
            raise Refused(401, "send the HELPDESK_ADMIN_KEY value in X-Admin-Key")
        return Admin(
            who="local admin key",
            requester=Requester(
                object_id="local-admin", tenant_id="local", name="Admin"
            ),
        )

    async def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Refused(401, f"the bearer token is not a JWT: {exc}") from exc
        key = await self._key(str(header.get("kid") or ""))
        audience = self.settings.admin_audience or self.settings.app_id or ""
        audiences = [audience, f"api://{audience}"] if audience else None
        try:
            return dict(
                jwt.decode(
                    token,
                    key=key,
                    algorithms=["RS256"],
                    audience=audiences,
                    issuer=self._issuer,
                    options={"require": ["exp", "iss", "aud"]},
                )
            )
        except jwt.PyJWTError as exc:
            raise Refused(401, f"the bearer token was refused: {exc}") from exc

    async def _key(self, kid: str) -> Any:
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > _KEYS_TTL_S
            if stale or kid not in self._keys:
                await self._fetch_keys()
        key = self._keys.get(kid)
        if key is None:
            raise Refused(401, "the bearer token is signed by an unknown key")
        return key

    async def _fetch_keys(self) -> None:
        url = self.settings.admin_openid_metadata_url or _ENTRA_METADATA.format(
            tenant=self.settings.app_tenant_id or "organizations"
        )
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                metadata = (await client.get(url)).raise_for_status().json()
                jwks = (
                    (await client.get(metadata["jwks_uri"])).raise_for_status().json()
                )
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            logger.error("could not read the admin token keys from %s: %s", url, exc)
            raise Refused(
                503, "cannot check tokens right now; try again shortly"
            ) from exc
        self._issuer = metadata.get("issuer")
        self._keys = {
            str(k.get("kid")): jwt.PyJWK(k).key
            for k in jwks.get("keys", [])
            if k.get("kid")
        }
        self._fetched_at = time.monotonic()


def add_routes(
    app: web.Application, auth_key: web.AppKey[AdminAuth], services_key: Any
) -> None:
    """Mount the admin API on ``app``."""

    def guarded(handler: Any) -> Any:
        async def run(request: web.Request) -> web.StreamResponse:
            services = request.app.get(services_key)
            if services is None:
                return _json({"error": "starting; try again in a moment"}, 503)
            try:
                who = await request.app[auth_key].check(request)
                return await handler(request, services, who)
            except Refused as exc:
                return _json({"error": str(exc)}, exc.status)
            except _TooLarge as exc:
                return _json({"error": str(exc)}, 413)
            except _Unsupported as exc:
                return _json({"error": str(exc)}, 415)
            except NotFound as exc:
                return _json({"error": str(exc)}, 404)
            except InvalidInput as exc:
                return _json({"error": str(exc)}, 400)
            except HelpdeskError as exc:
                return _json({"error": exc.user_message or str(exc)}, 502)

        return run

    base = "/admin/api/tools"
    app.router.add_get(base, guarded(_list))
    app.router.add_post(base, guarded(_add))
    app.router.add_get(base + "/{name}", guarded(_show))
    app.router.add_put(base + "/{name}", guarded(_update))
    app.router.add_delete(base + "/{name}", guarded(_remove))
    app.router.add_post(base + "/{name}/enable", guarded(_enable))
    app.router.add_post(base + "/{name}/disable", guarded(_disable))
    app.router.add_post(base + "/{name}/test", guarded(_test))


async def _list(request: web.Request, services: Any, who: Admin) -> web.Response:
    return _json({"tools": [row.to_json() for row in await admin.list_tools(services)]})


async def _show(request: web.Request, services: Any, who: Admin) -> web.Response:
    detail = await admin.show_tool(services, request.match_info["name"])
    return _json(detail.to_json())


async def _add(request: web.Request, services: Any, who: Admin) -> web.Response:
    row = await admin.add_tool(services, await _manifest_text(request), by=who.who)
    return _json(row.to_json(), 201)


async def _update(request: web.Request, services: Any, who: Admin) -> web.Response:
    name = request.match_info["name"]
    row = await admin.update_tool(
        services, name, await _manifest_text(request), by=who.who
    )
    return _json(row.to_json())


async def _enable(request: web.Request, services: Any, who: Admin) -> web.Response:
    row = await admin.set_enabled(
        services, request.match_info["name"], True, by=who.who
    )
    return _json(row.to_json())


async def _disable(request: web.Request, services: Any, who: Admin) -> web.Response:
    row = await admin.set_enabled(
        services, request.match_info["name"], False, by=who.who
    )
    return _json(row.to_json())


async def _remove(request: web.Request, services: Any, who: Admin) -> web.Response:
    await admin.remove_tool(services, request.match_info["name"], by=who.who)
    return web.Response(status=204)


async def _test(request: web.Request, services: Any, who: Admin) -> web.Response:
    body = await _json_body(request)
    args = body.get("args", {})
    if not isinstance(args, dict):
        raise InvalidInput('args: must be an object, e.g. {"args": {"printer": "3F"}}')
    result = await admin.test_tool(
        services, request.match_info["name"], args, by=who.requester
    )
    return _json(result)


async def _manifest_text(request: web.Request) -> str:
    """The manifest in the body, YAML or JSON, as text."""
    kind = request.content_type
    if kind not in (
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "application/json",
        "text/plain",
    ):
        raise _Unsupported(kind)
    raw = await _read(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("body: must be UTF-8 text") from exc
    if kind == "application/json":
        try:
            # Stored as YAML an admin can read; JSON is YAML's subset anyway.
            text = yaml.safe_dump(json.loads(text), sort_keys=False, allow_unicode=True)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"body: not JSON: {exc}") from exc
    return text


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await _read(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body: not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("body: must be a JSON object")
    return body


async def _read(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > BODY_MAX:
        raise _TooLarge()
    data = await request.content.read(BODY_MAX + 1)
    if len(data) > BODY_MAX:
        raise _TooLarge()
    return data


class _TooLarge(InvalidInput):
    def __init__(self) -> None:
        super().__init__(f"body: larger than {BODY_MAX} bytes")


class _Unsupported(InvalidInput):
    def __init__(self, kind: str) -> None:
        super().__init__(
            f"Content-Type {kind or '(none)'}: send the manifest as application/yaml "
            "or application/json"
        )


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
