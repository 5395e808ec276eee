"""The directory contract: people, managers, roles, sign-in methods, recovery
actions, and group membership.

CONTRACT: shared by the recovery tools, the asset tools, and both backends (the
embedded local directory and Microsoft Graph).

Backends translate their faults once, here-typed:
    NotFound            the user or group does not exist (Graph 404)
    PermissionDenied    the directory refused (Graph 403 Authorization_RequestDenied,
                        a privileged account, a policy that excludes the user)
    BackendUnavailable  429 (with retry_after), 5xx, timeouts
Each carries the backend's request id in ``request_id`` when it has one
(PermissionDenied and NotFound get it as an attribute set by the backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

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


GroupKind = Literal[
    "security",
    "microsoft365",
    "mail_enabled_security",
    "distribution",
]
"""Entra group kinds. Graph changes the members of the first two only."""


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    """A group as the directory knows it.

    Attributes:
        object_id: Entra object id.
        display_name: the group's name.
        mail: the group's address, when it is mail-enabled.
        kind: security, microsoft365 (behind Teams and SharePoint team sites),
            mail_enabled_security or distribution.
        role_assignable: can hold directory roles; changing its members needs a
            privileged role this product does not ask for.
        synced: synced from on-premises AD; its members are changed there.
    """

    object_id: str
    display_name: str
    mail: str | None = None
    kind: GroupKind = "security"
    role_assignable: bool = False
    synced: bool = False

    @property
    def membership_writable(self) -> bool:
        """Whether the directory can add and remove members of this group.

        False for distribution lists and mail-enabled security groups
        (Exchange owns them), synced groups (on-premises AD owns them) and
        role-assignable groups: those go to a person in IT.
        """
        return (
            self.kind in ("security", "microsoft365")
            and not self.role_assignable
            and not self.synced
        )


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

    async def aget_group(self, key: str) -> DirectoryGroup:
        """A group by object id or display name; NotFound when absent."""
        ...

    async def ais_member(self, group_id: str, user_id: str) -> bool:
        """Whether the user is in the group (through nested groups too, on Graph)."""
        ...

    async def alist_member_groups(self, user_id: str) -> list[DirectoryGroup]:
        """The groups the user is a direct member of."""
        ...

    async def aadd_member(self, group_id: str, user_id: str) -> bool:
        """Add the user to the group; True when added, False when already there.

        Raises:
            NotFound: no such group or user.
            PermissionDenied: the directory may not change this group (a
                distribution list, mail-enabled, synced or role-assignable
                group, or the app lacks GroupMember.ReadWrite.All).
        """
        ...

    async def aremove_member(self, group_id: str, user_id: str) -> bool:
        """Remove the user; True when removed, False when not a member.

        Raises:
            NotFound: no such group.
            PermissionDenied: as for :meth:`aadd_member`.
        """
        ...

    async def aclose(self) -> None:
        """Release clients and sessions."""
        ...
