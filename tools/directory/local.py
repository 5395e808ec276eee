"""The embedded directory: people, managers, groups and recovery in the app database.

Works offline (``make chat``) and behaves like the real one where it matters:
passes and temporary passwords are generated here, stored only as salted
hashes and returned once; privileged accounts are refused; a revoke moves the
account's ``sessions_valid_from`` forward. Seeded from a YAML file (see
``manifests/directory.yaml``) on first start.

Warning:
    The local directory has no tenants: every tenant the bot serves sees the
    same people. It is for a laptop, a demo and tests; companies use Graph.

Warning:
    Local groups have no kind or address: every one is a plain security group
    whose members can be changed, and membership is direct (no nesting). The
    catalogue's own rules (shared mailboxes and distribution lists go to a
    queue) still apply, so the embedded setup behaves like Graph for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.directory.base import DirectoryGroup, DirectoryUser, TemporaryAccessPass
from tools.directory.credentials import (
    hash_secret,
    new_access_pass,
    new_temporary_password,
)
from tools.directory.tables import (
    directory_group_members,
    directory_groups,
    directory_passes,
    directory_users,
)
from tools.errors import InvalidInput, NotFound, PermissionDenied
from tools.secrets import SecretValue

logger = logging.getLogger(__name__)

_PRIVILEGED_REFUSAL = (
    "This account has administrator rights, so a person from IT support has to "
    "help with it."
)


class SeedUser(BaseModel):
    """One person in a seed file."""

    model_config = ConfigDict(extra="forbid")

    object_id: str = Field(min_length=1, max_length=64)
    upn: str = Field(min_length=3, max_length=256)
    display_name: str = Field(min_length=1, max_length=256)
    mail: str | None = None
    account_enabled: bool = True
    manager: str | None = None
    """The manager's object id."""
    roles: list[str] = Field(default_factory=list)
    privileged: bool = False
    department: str | None = None
    job_title: str | None = None
    methods: list[str] = Field(default_factory=list)
    last_password_change: datetime | None = None
    groups: list[str] = Field(default_factory=list)
    """Group ids the person belongs to."""


class SeedGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    description: str | None = None


class DirectorySeed(BaseModel):
    """A seed file: groups, then people."""

    model_config = ConfigDict(extra="forbid")

    groups: list[SeedGroup] = Field(default_factory=list)
    users: list[SeedUser] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SeedReport:
    users: int
    groups: int

    def summary(self) -> str:
        return f"{self.users} new people, {self.groups} new groups"


def load_seed(path: Path) -> DirectorySeed:
    """Read and check a seed file.

    Raises:
        InvalidInput: the file is unreadable, or a field is wrong (named), or
            a manager or group refers to nobody in the file.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read YAML: {exc}") from exc
    try:
        seed = DirectorySeed.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidInput(f"{path}: {problems}") from exc
    ids = {u.object_id for u in seed.users}
    groups = {g.id for g in seed.groups}
    for user in seed.users:
        if user.manager and user.manager not in ids:
            raise InvalidInput(
                f"{path}: {user.object_id}: manager {user.manager!r} is not in the file"
            )
        for group in user.groups:
            if group not in groups:
                raise InvalidInput(
                    f"{path}: {user.object_id}: group {group!r} is not in the file"
                )
    return seed


class LocalDirectory:
    """The :class:`~tools.directory.base.Directory` over the app database.

    Args:
        engine: the app database (migrated).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- reading ---------------------------------------------------------------

    async def aget_user(self, key: str) -> DirectoryUser:
        """A user by object id, UPN or mail (case-insensitive for the last two).

        Raises:
            NotFound: nobody has that id, UPN or mail.
        """
        table = directory_users
        lowered = key.strip().lower()
        query = sa.select(table).where(
            sa.or_(
                table.c.object_id == key.strip(),
                sa.func.lower(table.c.upn) == lowered,
                sa.func.lower(table.c.mail) == lowered,
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise NotFound(
                    f"local directory: no user {key!r}",
                    user_message="I could not find that account in the directory.",
                )
            has_pass = await self._has_valid_pass(conn, row["object_id"])
        return _user(row, has_pass=has_pass)

    async def afind_users(self, text: str, *, limit: int = 5) -> list[DirectoryUser]:
        """People whose name, UPN or mail contain ``text``, by name."""
        words = text.strip().lower()
        if not words:
            return []
        pattern = "%" + _escape_like(words) + "%"
        table = directory_users
        query = (
            sa.select(table)
            .where(
                sa.or_(
                    sa.func.lower(table.c.display_name).like(pattern, escape="\\"),
                    sa.func.lower(table.c.upn).like(pattern, escape="\\"),
                    sa.func.lower(table.c.mail).like(pattern, escape="\\"),
                )
            )
            .order_by(table.c.display_name)
            .limit(max(1, limit))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_user(row) for row in rows]

    async def aget_manager(self, object_id: str) -> DirectoryUser | None:
        """The user's manager, or None when none is set.

        Raises:
            NotFound: the user does not exist.
        """
        user = await self.aget_user(object_id)
        if not user.manager_id:
            return None
        try:
            return await self.aget_user(user.manager_id)
        except NotFound:
            return None

    async def alist_users(self) -> list[DirectoryUser]:
        """Everyone, by name (for ``helpdesk directory list``)."""
        query = sa.select(directory_users).order_by(directory_users.c.display_name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_user(row) for row in rows]

    async def acount(self) -> int:
        query = sa.select(sa.func.count()).select_from(directory_users)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    # -- groups ------------------------------------------------------------------

    async def aget_group(self, key: str) -> DirectoryGroup:
        """A group by id or name (the name without regard to case).

        Raises:
            NotFound: no such group.
        """
        table = directory_groups
        query = sa.select(table).where(
            sa.or_(
                table.c.group_id == key.strip(),
                sa.func.lower(table.c.name) == key.strip().lower(),
            )
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound(
                f"local directory: no group {key!r}",
                user_message="I could not find that group in the directory. Please "
                "tell IT support, so they can fix the catalogue.",
            )
        # TODO(local groups have no kind or mail column): add them with the
        # assets migration so the embedded directory can model distribution
        # lists; until then every local group is a security group.
        return DirectoryGroup(object_id=row["group_id"], display_name=row["name"])

    async def ais_member(self, group_id: str, user_id: str) -> bool:
        """Whether the user is a (direct) member of the group.

        Raises:
            NotFound: no such user.
        """
        user = await self.aget_user(user_id)
        try:
            group = await self.aget_group(group_id)
        except NotFound:
            return False  # as Graph's checkMemberGroups: not in a group that is not
        members = directory_group_members
        query = sa.select(sa.func.count()).where(
            members.c.group_id == group.object_id,
            members.c.object_id == user.object_id,
        )
        async with self._engine.connect() as conn:
            return bool((await conn.execute(query)).scalar_one())

    async def alist_member_groups(self, user_id: str) -> list[DirectoryGroup]:
        """The user's groups, by name.

        Raises:
            NotFound: no such user.
        """
        user = await self.aget_user(user_id)
        members = directory_group_members
        query = (
            sa.select(directory_groups.c.group_id, directory_groups.c.name)
            .join(members, members.c.group_id == directory_groups.c.group_id)
            .where(members.c.object_id == user.object_id)
            .order_by(directory_groups.c.name)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [DirectoryGroup(object_id=r.group_id, display_name=r.name) for r in rows]

    async def aadd_member(self, group_id: str, user_id: str) -> bool:
        """Add the user; True when added, False when already a member.

        Raises:
            NotFound: no such group or user.
        """
        group = await self.aget_group(group_id)
        user = await self.aget_user(user_id)
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        async with self._engine.begin() as conn:
            result = await conn.execute(
                dialect.insert(directory_group_members)
                .values(group_id=group.object_id, object_id=user.object_id)
                .on_conflict_do_nothing()
            )
        added = bool(result.rowcount)
        if added:
            logger.info(
                "local directory: %s added to group %s", user.object_id, group.object_id
            )
        return added

    async def aremove_member(self, group_id: str, user_id: str) -> bool:
        """Remove the user; True when removed, False when not a member.

        Raises:
            NotFound: no such group.
        """
        group = await self.aget_group(group_id)
        try:
            user = await self.aget_user(user_id)
        except NotFound:
            return False  # nobody by that name is in any group
        members = directory_group_members
        async with self._engine.begin() as conn:
            result = await conn.execute(
                members.delete().where(
                    members.c.group_id == group.object_id,
                    members.c.object_id == user.object_id,
                )
            )
        removed = bool(result.rowcount)
        if removed:
            logger.info(
                "local directory: %s removed from group %s",
                user.object_id,
                group.object_id,
            )
        return removed

    # -- recovery ----------------------------------------------------------------

    async def acreate_temporary_access_pass(
        self, object_id: str, *, lifetime_minutes: int, one_time: bool
    ) -> TemporaryAccessPass:
        """Create a pass, replacing the user's existing one.

        Raises:
            NotFound: no such user.
            PermissionDenied: a privileged account.
        """
        await self._target(object_id)
        value = new_access_pass()
        pass_hash = await asyncio.to_thread(hash_secret, value)
        starts_at = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                directory_passes.delete().where(
                    directory_passes.c.object_id == object_id
                )
            )
            await conn.execute(
                directory_passes.insert().values(
                    object_id=object_id,
                    pass_hash=pass_hash,
                    starts_at=starts_at,
                    lifetime_minutes=lifetime_minutes,
                    one_time=one_time,
                )
            )
        logger.info("local directory: temporary access pass created for %s", object_id)
        return TemporaryAccessPass(value, starts_at, lifetime_minutes, one_time)

    async def aset_temporary_password(self, object_id: str) -> SecretValue:
        """Set a generated password that must be changed at next sign-in.

        Raises:
            NotFound: no such user.
            PermissionDenied: a privileged account.
        """
        await self._target(object_id)
        value = new_temporary_password()
        password_hash = await asyncio.to_thread(hash_secret, value)
        async with self._engine.begin() as conn:
            await conn.execute(
                directory_users.update()
                .where(directory_users.c.object_id == object_id)
                .values(
                    password_hash=password_hash,
                    must_change_password=True,
                    last_password_change=datetime.now(UTC),
                )
            )
        logger.info("local directory: temporary password set for %s", object_id)
        return value

    async def arevoke_sessions(self, object_id: str) -> None:
        """Invalidate every session issued before now.

        Raises:
            NotFound: no such user.
        """
        await self.aget_user(object_id)
        async with self._engine.begin() as conn:
            await conn.execute(
                directory_users.update()
                .where(directory_users.c.object_id == object_id)
                .values(sessions_valid_from=datetime.now(UTC))
            )
        logger.info("local directory: sessions revoked for %s", object_id)

    async def aclose(self) -> None:
        """Nothing to release: the engine belongs to the services."""

    # -- seeding -------------------------------------------------------------------

    async def aseed(self, seed: DirectorySeed) -> SeedReport:
        """Add the seed's groups and people; those already there are left as they are.

        Safe when two processes seed at once: every insert skips rows that exist.
        """
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        users = groups = 0
        async with self._engine.begin() as conn:
            for group in seed.groups:
                result = await conn.execute(
                    dialect.insert(directory_groups)
                    .values(
                        group_id=group.id,
                        name=group.name,
                        description=group.description,
                    )
                    .on_conflict_do_nothing()
                )
                groups += int(result.rowcount or 0)
            for user in seed.users:
                result = await conn.execute(
                    dialect.insert(directory_users)
                    .values(**_user_row(user))
                    .on_conflict_do_nothing()
                )
                users += int(result.rowcount or 0)
                for group_id in user.groups:
                    await conn.execute(
                        dialect.insert(directory_group_members)
                        .values(group_id=group_id, object_id=user.object_id)
                        .on_conflict_do_nothing()
                    )
        return SeedReport(users=users, groups=groups)

    async def aseed_if_empty(self, path: Path) -> SeedReport | None:
        """Seed from ``path`` when the directory has nobody in it (first start)."""
        if await self.acount():
            return None
        if not await asyncio.to_thread(path.is_file):
            logger.warning("local directory is empty and %s does not exist", path)
            return None
        report = await self.aseed(await asyncio.to_thread(load_seed, path))
        logger.info("local directory seeded from %s: %s", path, report.summary())
        return report

    # -- helpers ---------------------------------------------------------------------

    async def _target(self, object_id: str) -> DirectoryUser:
        user = await self.aget_user(object_id)
        if user.privileged:
            raise PermissionDenied(
                f"local directory refuses recovery of privileged account {object_id}",
                user_message=_PRIVILEGED_REFUSAL,
            )
        return user

    async def _has_valid_pass(self, conn: Any, object_id: str) -> bool:
        row = (
            await conn.execute(
                sa.select(
                    directory_passes.c.starts_at, directory_passes.c.lifetime_minutes
                ).where(directory_passes.c.object_id == object_id)
            )
        ).first()
        if row is None:
            return False
        ends = _aware(row.starts_at) + timedelta(minutes=row.lifetime_minutes)
        return ends > datetime.now(UTC)


def _user(row: Any, *, has_pass: bool = False) -> DirectoryUser:
    methods = list(json.loads(row["methods"] or "[]"))
    if has_pass and "temporary access pass" not in methods:
        methods.append("temporary access pass")
    last = row["last_password_change"]
    return DirectoryUser(
        object_id=row["object_id"],
        upn=row["upn"],
        display_name=row["display_name"],
        mail=row["mail"],
        account_enabled=bool(row["account_enabled"]),
        manager_id=row["manager_id"],
        roles=frozenset(r for r in (row["roles"] or "").split(",") if r),
        privileged=bool(row["privileged"]),
        last_password_change=_aware(last) if last else None,
        methods=tuple(methods),
        department=row["department"],
        job_title=row["job_title"],
    )


def _user_row(user: SeedUser) -> dict[str, Any]:
    changed = user.last_password_change
    if changed is not None and changed.tzinfo is None:
        changed = changed.replace(tzinfo=UTC)
    return {
        "object_id": user.object_id,
        "upn": user.upn,
        "display_name": user.display_name,
        "mail": user.mail,
        "account_enabled": user.account_enabled,
        "manager_id": user.manager,
        "roles": ",".join(sorted(set(user.roles))),
        "privileged": user.privileged,
        "department": user.department,
        "job_title": user.job_title,
        "methods": json.dumps(user.methods),
        "password_hash": None,
        "must_change_password": False,
        "last_password_change": changed,
        "sessions_valid_from": None,
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _aware(at: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)
