"""The directory on Microsoft Graph, through ``msgraph-sdk`` with app credentials.

Reads people, managers, directory roles and registered sign-in methods; creates
Temporary Access Passes, sets temporary passwords through ``passwordProfile``,
and revokes sessions; reads groups and adds and removes their members. Every
SDK error is translated once, here, into the product's errors, with Graph's
request id kept on the exception.

Application permissions: User.Read.All, UserAuthenticationMethod.ReadWrite.All,
User-PasswordProfile.ReadWrite.All (or User.ReadWrite.All) for recovery, and
GroupMember.ReadWrite.All for membership (it also reads groups and
``checkMemberGroups``).

Roles: a user's directory roles come from ``transitiveMemberOf`` (``directoryRole``
display names), so a role held through a role-assignable group counts too. A role named in ``HELPDESK_HELPDESK_ROLE_NAMES`` grants the
product's ``helpdesk`` role; any other directory role (Global Administrator,
Security Administrator, …) makes the account privileged, and recovery of a
privileged account always goes to a person.

Warning:
    Graph itself refuses to reset administrators unless the app holds a
    stronger role; the product refuses them earlier, in code, either way.
    A role that is only *eligible* through Privileged Identity Management is
    not a membership, so it is not seen until activated.

Warning:
    Graph group membership changes cloud security groups and Microsoft 365
    groups only. Distribution lists and mail-enabled security groups are
    Exchange's (Graph answers 400), groups synced from on-premises AD are
    changed there, and role-assignable groups need RoleManagement.ReadWrite.Directory,
    which this app does not ask for. :meth:`GraphDirectory.aadd_member` refuses
    them with PermissionDenied before sending anything, so the request goes to
    a person. Exchange shared mailbox permissions are not group membership at
    all: the catalogue fulfils those through a queue.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx
from azure.core.exceptions import AzureError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.group_item_request_builder import (
    GroupItemRequestBuilder,
)
from msgraph.generated.models.group import Group
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)
from msgraph.generated.models.user import User
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.member_of.graph_group.graph_group_request_builder import (
    GraphGroupRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import options as graph_default_options
from msgraph_core import GraphClientFactory

from tools.directory.base import (
    HELPDESK_ROLE,
    DirectoryGroup,
    DirectoryUser,
    GroupKind,
    TemporaryAccessPass,
)
from tools.directory.credentials import new_temporary_password
from tools.errors import (
    BackendUnavailable,
    ConfigError,
    HelpdeskError,
    NotFound,
    PermissionDenied,
    ToolError,
)
from tools.secrets import SecretValue

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
_USER_FIELDS = [
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "accountEnabled",
    "lastPasswordChangeDateTime",
    "department",
    "jobTitle",
]
_METHOD_WORDS = {
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": (
        "Microsoft Authenticator"
    ),
    "#microsoft.graph.phoneAuthenticationMethod": "phone",
    "#microsoft.graph.fido2AuthenticationMethod": "FIDO2 key",
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod": "Windows Hello",
    "#microsoft.graph.emailAuthenticationMethod": "email",
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": (
        "temporary access pass"
    ),
    "#microsoft.graph.passwordAuthenticationMethod": "password",
    "#microsoft.graph.softwareOathAuthenticationMethod": "authenticator app code",
    "#microsoft.graph.platformCredentialAuthenticationMethod": "platform credential",
}
_GROUP_FIELDS = [
    "id",
    "displayName",
    "mail",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "isAssignableToRole",
    "onPremisesSyncEnabled",
]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_MAX_GROUP_PAGES = 20
_PERSON_SEGMENT = re.compile(r"(/users/|/members/)(?!\$ref)[^/?]+")
_started: contextvars.ContextVar[float] = contextvars.ContextVar("graph_started")

_FORBIDDEN = "I can't change this account: it needs a person from IT support."
_NOT_FOUND = "I could not find that account in the directory."
_BUSY = "The directory is busy right now. Please try again in a few minutes."
_DOWN = "The directory is not answering right now. Please try again in a few minutes."
_GROUP_NOT_FOUND = (
    "I could not find that group in the directory. Please tell IT support, "
    "so they can fix the catalogue."
)
_GROUP_BY_HAND = (
    "This group can't be changed automatically; a person from IT support has "
    "to do it. I can open a request for you."
)


class GraphDirectory:
    """The :class:`~tools.directory.base.Directory` on Microsoft Graph.

    Args:
        credential: an azure-identity credential (sync or async); production
            uses ``ClientSecretCredential``, tests one with a fixed token.
        base_url: Graph's root, e.g. ``https://graph.microsoft.com/v1.0``.
        timeout_s: connect and read timeout of every request.
        helpdesk_role_names: directory roles that grant the help-desk role.
    """

    def __init__(
        self,
        credential: Any,
        *,
        base_url: str = "https://graph.microsoft.com/v1.0",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        helpdesk_role_names: Sequence[str] = (),
    ) -> None:
        self._credential = credential
        self._helpdesk_roles = {n.strip().lower() for n in helpdesk_role_names}
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            event_hooks={"request": [_on_request], "response": [_on_response]},
        )
        # No retries inside the SDK: a 429 or 5xx goes back to the employee
        # as "try later" with Graph's Retry-After instead of stalling the turn.
        options = dict(graph_default_options)
        options[RetryHandlerOption.get_key()] = RetryHandlerOption(
            delay=0, max_retries=0, should_retry=False
        )
        http = GraphClientFactory.create_with_default_middleware(
            client=self._http, options=options
        )
        adapter = GraphRequestAdapter(
            AzureIdentityAuthenticationProvider(credential), client=http
        )
        adapter.base_url = base_url.rstrip("/")
        self._base_url = base_url.rstrip("/")
        self._client = GraphServiceClient(request_adapter=adapter)
        self._timeout_s = timeout_s

    # -- reading ---------------------------------------------------------------

    async def aget_user(self, key: str) -> DirectoryUser:
        """A user by object id or UPN, with roles, manager and methods.

        Raises:
            NotFound, PermissionDenied, BackendUnavailable, ConfigError.
        """
        item = self._client.users.by_user_id(key)
        config = RequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                select=_USER_FIELDS
            )
        )
        user = await self._call("get user", lambda: item.get(config))  # type: ignore[arg-type]
        if user is None or not user.id:
            raise NotFound(f"graph: no user {key!r}", user_message=_NOT_FOUND)
        item = self._client.users.by_user_id(user.id)

        roles = await self._call(
            "get directory roles",
            lambda: item.transitive_member_of.graph_directory_role.get(),
        )
        role_names = {
            (role.display_name or "").strip()
            for role in (roles.value if roles and roles.value else [])
        }
        methods = await self._call(
            "get sign-in methods", lambda: item.authentication.methods.get()
        )
        manager_id = await self._manager_id(user.id)

        helpdesk = {n for n in role_names if n.lower() in self._helpdesk_roles}
        return _to_user(
            user,
            roles=frozenset({HELPDESK_ROLE}) if helpdesk else frozenset(),
            privileged=bool(role_names - helpdesk),
            manager_id=manager_id,
            methods=tuple(
                _method_words(m) for m in (methods.value if methods else None) or []
            ),
        )

    async def afind_users(self, text: str, *, limit: int = 5) -> list[DirectoryUser]:
        """People whose name, UPN or mail start with ``text`` (no roles or methods;
        call :meth:`aget_user` on the one you pick)."""
        words = text.strip().replace("'", "''")
        if not words:
            return []
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=(
                f"startswith(displayName,'{words}') or "
                f"startswith(userPrincipalName,'{words}') or "
                f"startswith(mail,'{words}')"
            ),
            select=_USER_FIELDS,
            top=max(1, min(limit, 25)),
        )
        page = await self._call(
            "find users",
            lambda: self._client.users.get(
                RequestConfiguration(query_parameters=query)
            ),
        )
        return [_to_user(u) for u in (page.value if page else None) or [] if u.id]

    async def aget_manager(self, object_id: str) -> DirectoryUser | None:
        """The user's manager, or None when none is set."""
        manager_id = await self._manager_id(object_id)
        return await self.aget_user(manager_id) if manager_id else None

    async def _manager_id(self, object_id: str) -> str | None:
        try:
            manager = await self._call(
                "get manager",
                lambda: self._client.users.by_user_id(object_id).manager.get(),
            )
        except NotFound:
            return None  # Graph answers 404 when no manager is set
        return manager.id if manager else None

    # -- groups ------------------------------------------------------------------

    async def aget_group(self, key: str) -> DirectoryGroup:
        """A group by object id (a GUID) or display name.

        Raises:
            NotFound: no such group.
            ConfigError: two groups share the display name (use the object id).
            PermissionDenied, BackendUnavailable.
        """
        if _GUID.match(key.strip()):
            return _to_group(await self._group_by_id(key.strip()))
        name = key.strip().replace("'", "''")
        query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
            filter=f"displayName eq '{name}'", select=_GROUP_FIELDS, top=2
        )
        page = await self._call(
            "find group",
            lambda: self._client.groups.get(
                RequestConfiguration(query_parameters=query)
            ),
            subject="group",
        )
        found = [g for g in (page.value if page else None) or [] if g.id]
        if not found:
            raise NotFound(f"graph: no group {key!r}", user_message=_GROUP_NOT_FOUND)
        if len(found) > 1:
            raise ConfigError(
                f"graph: more than one group is named {key!r}; name it by object id "
                "in the catalogue"
            )
        return _to_group(found[0])

    async def ais_member(self, group_id: str, user_id: str) -> bool:
        """``checkMemberGroups``: transitive, so membership through a nested
        group counts (it grants the same access)."""
        body = CheckMemberGroupsPostRequestBody(group_ids=[group_id])
        answer = await self._call(
            "check membership",
            lambda: self._client.users.by_user_id(user_id).check_member_groups.post(
                body
            ),
        )
        return group_id in ((answer.value if answer else None) or [])

    async def alist_member_groups(self, user_id: str) -> list[DirectoryGroup]:
        """The user's direct groups (``memberOf/microsoft.graph.group``), all pages."""
        builder = self._client.users.by_user_id(user_id).member_of.graph_group
        query = GraphGroupRequestBuilder.GraphGroupRequestBuilderGetQueryParameters(
            select=_GROUP_FIELDS, top=100
        )
        config = RequestConfiguration(query_parameters=query)
        groups: list[DirectoryGroup] = []
        for _ in range(_MAX_GROUP_PAGES):
            page = await self._call("list member groups", lambda: builder.get(config))  # noqa: B023
            groups += [
                _to_group(g) for g in (page.value if page else None) or [] if g.id
            ]
            next_link = page.odata_next_link if page else None
            if not next_link:
                return groups
            builder = builder.with_url(next_link)
            config = RequestConfiguration()
        logger.warning("graph: stopped listing groups after %d pages", _MAX_GROUP_PAGES)
        return groups

    async def aadd_member(self, group_id: str, user_id: str) -> bool:
        """POST ``members/$ref``; Graph's "already exist" answer counts as done.

        Reads the group first, so that a group Graph cannot change is refused
        before anything is sent, and a missing group is told apart from a
        missing user.

        Returns:
            True when the user was added, False when already a member.

        Raises:
            PermissionDenied: a distribution list, mail-enabled, synced or
                role-assignable group, or Graph refused (403).
            NotFound, BackendUnavailable, ConfigError.
        """
        group = await self._writable_group(group_id)
        reference = ReferenceCreate(
            odata_id=f"{self._base_url}/directoryObjects/{user_id}"
        )
        members = self._client.groups.by_group_id(group.object_id).members
        try:
            await self._call(
                "add group member", lambda: members.ref.post(reference), subject="group"
            )
        except _AlreadyMember:
            return False
        return True

    async def aremove_member(self, group_id: str, user_id: str) -> bool:
        """DELETE ``members/{user}/$ref``; Graph's 404 there means "not a member".

        Returns:
            True when the user was removed, False when not a member.

        Raises:
            NotFound: no such group.
            PermissionDenied, BackendUnavailable, ConfigError.
        """
        group = await self._writable_group(group_id)
        member = self._client.groups.by_group_id(
            group.object_id
        ).members.by_directory_object_id(user_id)
        try:
            await self._call("remove group member", member.ref.delete, subject="group")
        except NotFound:
            return False
        return True

    async def _group_by_id(self, object_id: str) -> Group:
        config = RequestConfiguration(
            query_parameters=GroupItemRequestBuilder.GroupItemRequestBuilderGetQueryParameters(
                select=_GROUP_FIELDS
            )
        )
        item = self._client.groups.by_group_id(object_id)
        group = await self._call(
            "get group",
            lambda: item.get(config),
            subject="group",
        )
        if group is None or not group.id:
            raise NotFound(
                f"graph: no group {object_id!r}", user_message=_GROUP_NOT_FOUND
            )
        return group

    async def _writable_group(self, key: str) -> DirectoryGroup:
        group = await self.aget_group(key)
        if not group.membership_writable:
            raise PermissionDenied(
                f"graph: members of {group.display_name!r} ({group.object_id}, "
                f"{_group_limits(group)}) cannot be changed through Graph",
                user_message=_GROUP_BY_HAND,
            )
        return group

    # -- recovery ----------------------------------------------------------------

    async def acreate_temporary_access_pass(
        self, object_id: str, *, lifetime_minutes: int, one_time: bool
    ) -> TemporaryAccessPass:
        """Create a pass; when Graph says one exists already, delete it and retry once.

        Raises:
            PermissionDenied: Graph or the tenant's policy refused (403, or a
                policy that excludes the user).
            NotFound, BackendUnavailable, ConfigError.
        """
        methods = self._client.users.by_user_id(object_id).authentication
        body = TemporaryAccessPassAuthenticationMethod(
            lifetime_in_minutes=lifetime_minutes, is_usable_once=one_time
        )
        try:
            created = await self._call(
                "create temporary access pass",
                lambda: methods.temporary_access_pass_methods.post(body),
            )
        except _ExistingPass:
            existing = await self._call(
                "list temporary access passes",
                lambda: methods.temporary_access_pass_methods.get(),
            )
            passes = methods.temporary_access_pass_methods
            for method in (existing.value if existing else None) or []:
                if method.id:
                    old = passes.by_temporary_access_pass_authentication_method_id(
                        method.id
                    )
                    await self._call("delete temporary access pass", old.delete)
            created = await self._call(
                "create temporary access pass",
                lambda: methods.temporary_access_pass_methods.post(body),
            )
        if created is None or not created.temporary_access_pass:
            raise BackendUnavailable(
                "graph created a temporary access pass but returned no value",
                user_message=_DOWN,
            )
        return TemporaryAccessPass(
            value=SecretValue(created.temporary_access_pass),
            starts_at=created.start_date_time or datetime.now(UTC),
            lifetime_minutes=created.lifetime_in_minutes or lifetime_minutes,
            one_time=bool(
                one_time if created.is_usable_once is None else created.is_usable_once
            ),
        )

    async def aset_temporary_password(self, object_id: str) -> SecretValue:
        """PATCH ``passwordProfile`` with a generated password and forced change.

        Raises:
            PermissionDenied: Graph refused (privileged account, missing role).
            NotFound, BackendUnavailable, ConfigError.
        """
        value = new_temporary_password()
        body = User(
            password_profile=PasswordProfile(
                password=value.reveal(), force_change_password_next_sign_in=True
            )
        )
        await self._call(
            "set temporary password",
            lambda: self._client.users.by_user_id(object_id).patch(body),
        )
        return value

    async def arevoke_sessions(self, object_id: str) -> None:
        """POST ``revokeSignInSessions``."""
        await self._call(
            "revoke sessions",
            lambda: self._client.users.by_user_id(
                object_id
            ).revoke_sign_in_sessions.post(),
        )

    async def aclose(self) -> None:
        """Close the HTTP client and, when it has one, the credential."""
        await self._http.aclose()
        close = getattr(self._credential, "close", None)
        if close is not None:
            result = close()
            if isinstance(result, Awaitable):
                await result

    # -- the boundary ------------------------------------------------------------

    async def _call(
        self,
        operation: str,
        send: Callable[[], Awaitable[T]],
        *,
        subject: Literal["account", "group"] = "account",
    ) -> T:
        """Run one SDK call and translate whatever it raises, once.

        ``subject`` picks the employee's words for a 403 or 404.
        """
        started = time.perf_counter()
        try:
            return await send()
        except APIError as exc:
            raise _translate(operation, exc, subject=subject) from exc
        except httpx.TimeoutException as exc:
            logger.warning(
                "graph %s timed out after %.0f ms (limit %.0f s)",
                operation,
                (time.perf_counter() - started) * 1000,
                self._timeout_s,
            )
            raise BackendUnavailable(
                f"graph {operation}: no answer within {self._timeout_s:g} s",
                user_message=_DOWN,
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"graph {operation}: {type(exc).__name__}: {exc}", user_message=_DOWN
            ) from exc
        except AzureError as exc:
            raise BackendUnavailable(
                f"graph {operation}: could not get a token: {exc}",
                user_message=_DOWN,
            ) from exc
        except (ValueError, TypeError) as exc:
            # A 2xx body that is not the JSON Graph promised.
            raise BackendUnavailable(
                f"graph {operation}: unreadable answer: {type(exc).__name__}",
                user_message=_DOWN,
            ) from exc


class _ExistingPass(ToolError):
    """Graph refused a new pass because the user has one (handled inside)."""


class _AlreadyMember(ToolError):
    """Graph refused an added member because it is one already (handled inside)."""


def _translate(
    operation: str,
    exc: APIError,
    *,
    subject: Literal["account", "group"] = "account",
) -> HelpdeskError:
    status = exc.response_status_code or 0
    headers = exc.response_headers or {}
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or exc.message or ""
    inner = getattr(error, "inner_error", None)
    request_id = _header(headers, "request-id") or getattr(inner, "request_id", None)
    described = f"graph {operation}: {status} {code}: {message}".strip()

    translated: HelpdeskError
    lowered = f"{code} {message}".lower()
    group = subject == "group"
    if status == 404:
        translated = NotFound(
            described, user_message=_GROUP_NOT_FOUND if group else _NOT_FOUND
        )
    elif status == 400 and "references already exist" in lowered:
        translated = _AlreadyMember(described)
    elif status == 400 and (
        "mail-enabled" in lowered or "distribution list" in lowered
    ):
        translated = PermissionDenied(described, user_message=_GROUP_BY_HAND)
    elif status == 403 or (status == 400 and "policy" in lowered):
        translated = PermissionDenied(
            described, user_message=_GROUP_BY_HAND if group else _FORBIDDEN
        )
    elif (
        status in (400, 409)
        and "temporary access pass" in lowered
        and ("exist" in lowered or "already" in lowered)
    ):
        translated = _ExistingPass(described)
    elif status == 401:
        translated = ConfigError(
            described + " (check HELPDESK_GRAPH_CLIENT_ID and _SECRET, and the "
            "app's Graph permissions)"
        )
    elif status == 429:
        translated = BackendUnavailable(
            described,
            user_message=_BUSY,
            retry_after=_retry_after(headers),
            request_id=request_id,
        )
    elif status >= 500 or status == 0:
        translated = BackendUnavailable(
            described, user_message=_DOWN, request_id=request_id
        )
    else:
        translated = ToolError(
            described,
            user_message="The directory refused that request. Please ask IT "
            "support for help.",
        )
    translated.request_id = request_id
    return translated


def _header(headers: Any, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, dict):
        lowered = {str(k).lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    return str(value) if value is not None else None


def _retry_after(headers: Any) -> float | None:
    value = _header(headers, "retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _to_user(
    user: User,
    *,
    roles: frozenset[str] = frozenset(),
    privileged: bool = False,
    manager_id: str | None = None,
    methods: tuple[str, ...] = (),
) -> DirectoryUser:
    return DirectoryUser(
        object_id=user.id or "",
        upn=user.user_principal_name or "",
        display_name=user.display_name or user.user_principal_name or "",
        mail=user.mail,
        account_enabled=user.account_enabled is not False,
        manager_id=manager_id,
        roles=roles,
        privileged=privileged,
        last_password_change=user.last_password_change_date_time,
        methods=methods,
        department=user.department,
        job_title=user.job_title,
    )


def _to_group(group: Group) -> DirectoryGroup:
    return DirectoryGroup(
        object_id=group.id or "",
        display_name=group.display_name or "",
        mail=group.mail,
        kind=_group_kind(group),
        role_assignable=bool(group.is_assignable_to_role),
        synced=bool(group.on_premises_sync_enabled),
    )


def _group_kind(group: Group) -> GroupKind:
    # Graph's own rule: "Unified" in groupTypes is a Microsoft 365 group; else
    # mailEnabled and securityEnabled decide.
    if "Unified" in (group.group_types or []):
        return "microsoft365"
    if group.mail_enabled:
        return "mail_enabled_security" if group.security_enabled else "distribution"
    return "security"


def _group_limits(group: DirectoryGroup) -> str:
    reasons = []
    if group.kind not in ("security", "microsoft365"):
        reasons.append(group.kind.replace("_", " "))
    if group.synced:
        reasons.append("synced from on-premises AD")
    if group.role_assignable:
        reasons.append("role-assignable")
    return ", ".join(reasons)


def _method_words(method: Any) -> str:
    words = _METHOD_WORDS.get(method.odata_type or "", "other sign-in method")
    number = getattr(method, "phone_number", None)
    if words == "phone" and number:
        return f"phone ending {str(number)[-4:]}"
    return words


async def _on_request(request: httpx.Request) -> None:
    _started.set(time.perf_counter())


async def _on_response(response: httpx.Response) -> None:
    # One line per outbound call; user ids and query strings stay out of it.
    request = response.request
    started = _started.get(None)
    elapsed = (time.perf_counter() - started) * 1000 if started else -1.0
    logger.info(
        "graph %s %s -> %s in %.0f ms (request id %s)",
        request.method,
        _PERSON_SEGMENT.sub(r"\1{id}", request.url.path),
        response.status_code,
        elapsed,
        response.headers.get("request-id", "-"),
    )
