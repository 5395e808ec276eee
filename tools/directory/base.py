"""The directory contract: people, managers, roles, sign-in methods, recovery actions.

CONTRACT: shared by the recovery tools, the asset tools that come later, and
both backends (the embedded local directory and Microsoft Graph).

Backends translate their faults once, here-typed:
    NotFound            the user does not exist (Graph 404)
    PermissionDenied    the directory refused (Graph 403 Authorization_RequestDenied,
                        a privileged account, a policy that excludes the user)
    BackendUnavailable  429 (with retry_after), 5xx, timeouts
Each carries the backend's request id in ``request_id`` when it has one
(PermissionDenied and NotFound get it as an attribute set by the backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from tools.secrets import SecretValue

HELPDESK_ROLE = "helpdesk"
"""The role that lets a person act on someone else's account."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A person as the directory knows them.

    Attributes:
        object_id: Entra object id.
        upn: user principal name.
        display_name: the person's name.
        mail: e-mail address, when set.
        account_enabled: false when the account is blocked from signing in.
        manager_id: the manager's object id, when set.
        roles: product roles ("helpdesk", "approver", …) from directory roles
            or groups, as mapped by the backend.
        privileged: holds an admin role; recovery always goes to a person.
        last_password_change: when the password was last changed.
        methods: registered sign-in methods in plain words
            ("Microsoft Authenticator", "phone +1 *** *** 0142", …).
        department, job_title: for tickets and approval cards.
    """

    object_id: str
    upn: str
    display_name: str
    mail: str | None = None
    account_enabled: bool = True
    manager_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    privileged: bool = False
    last_password_change: datetime | None = None
    methods: tuple[str, ...] = ()
    department: str | None = None
    job_title: str | None = None


@dataclass(frozen=True, slots=True)
class TemporaryAccessPass:
    """A pass as created: the secret travels only inside ``value``."""

    value: SecretValue
    starts_at: datetime
    lifetime_minutes: int
    one_time: bool


@runtime_checkable
class Directory(Protocol):
    """What the tools need of a directory. Every method may raise the errors
    named in the module docstring."""

    async def aget_user(self, key: str) -> DirectoryUser:
        """A user by object id or UPN; NotFound when absent."""
        ...

    async def afind_users(self, text: str, *, limit: int = 5) -> list[DirectoryUser]:
        """People whose name, UPN or mail match ``text`` (for "reset Bob's …")."""
        ...

    async def aget_manager(self, object_id: str) -> DirectoryUser | None:
        """The user's manager, or None when none is set."""
        ...

    async def acreate_temporary_access_pass(
        self, object_id: str, *, lifetime_minutes: int, one_time: bool
    ) -> TemporaryAccessPass:
        """Create a pass (one per user: an existing one is replaced)."""
        ...

    async def aset_temporary_password(self, object_id: str) -> SecretValue:
        """Set a generated password that must be changed at next sign-in."""
        ...

    async def arevoke_sessions(self, object_id: str) -> None:
        """Sign the user out everywhere (refresh tokens and sessions)."""
        ...

    async def aclose(self) -> None:
        """Release clients and sessions."""
        ...
