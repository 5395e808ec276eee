"""The local directory: seeding, lookups, and recovery stored only as hashes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tools.db import create_engine, upgrade
from tools.directory.credentials import verify_secret
from tools.directory.local import LocalDirectory, load_seed
from tools.directory.tables import directory_passes, directory_users
from tools.errors import InvalidInput, NotFound, PermissionDenied
from tools.settings import load_settings


@pytest.fixture
async def directory(app_database_url: str | None) -> AsyncIterator[LocalDirectory]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    await upgrade(engine)
    local = LocalDirectory(engine)
    await local.aseed_if_empty(settings.directory_seed_file)
    yield local
    await engine.dispose()


async def test_seeding_twice_at_once_adds_everyone_once(
    directory: LocalDirectory,
) -> None:
    seed = load_seed(load_settings().directory_seed_file)

    reports = await asyncio.gather(directory.aseed(seed), directory.aseed(seed))

    assert [r.users for r in reports] == [0, 0]
    assert await directory.acount() == len(seed.users)


async def test_lookup_by_id_upn_or_mail_and_search_by_name(
    directory: LocalDirectory,
) -> None:
    alex = await directory.aget_user("local-user")

    assert alex.display_name == "Alex Employee"
    assert (await directory.aget_user("ALEX@contoso.example")).object_id == "local-user"
    assert (await directory.aget_manager("local-user")).object_id == "dana-park"  # type: ignore[union-attr]
    assert [u.object_id for u in await directory.afind_users("dana")] == ["dana-park"]
    assert (await directory.aget_user("sam-rivera")).roles == frozenset({"helpdesk"})
    with pytest.raises(NotFound):
        await directory.aget_user("nobody@contoso.example")


async def test_pass_is_kept_only_as_a_salted_hash(directory: LocalDirectory) -> None:
    created = await directory.acreate_temporary_access_pass(
        "local-user", lifetime_minutes=60, one_time=True
    )

    async with directory._engine.connect() as conn:
        stored = (
            await conn.execute(sa.select(directory_passes.c.pass_hash))
        ).scalar_one()
    assert created.value.reveal() not in stored
    assert verify_secret(created.value.reveal(), stored)
    assert "temporary access pass" in (await directory.aget_user("local-user")).methods


async def test_temporary_password_must_change_and_revoke_moves_sessions(
    directory: LocalDirectory,
) -> None:
    value = await directory.aset_temporary_password("priya-shah")
    await directory.arevoke_sessions("priya-shah")

    async with directory._engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(directory_users).where(
                        directory_users.c.object_id == "priya-shah"
                    )
                )
            )
            .mappings()
            .one()
        )
    assert row["must_change_password"] is True
    assert verify_secret(value.reveal(), row["password_hash"])
    assert row["sessions_valid_from"] is not None


async def test_privileged_account_is_refused(directory: LocalDirectory) -> None:
    with pytest.raises(PermissionDenied):
        await directory.aset_temporary_password("morgan-lee")


def test_bad_seed_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text("users:\n  - object_id: a\n    upn: a@x.example\n", "utf-8")

    with pytest.raises(InvalidInput, match=r"users\.0\.display_name"):
        load_seed(path)


# -- groups ------------------------------------------------------------------------------


async def test_group_by_id_or_name(directory: LocalDirectory) -> None:
    by_id = await directory.aget_group("grp-sw-visio")
    by_name = await directory.aget_group("sw-visio-plan2")

    assert by_id == by_name
    assert (by_id.display_name, by_id.kind, by_id.membership_writable) == (
        "SW-Visio-Plan2",
        "security",
        True,
    )
    with pytest.raises(NotFound, match="no group"):
        await directory.aget_group("SW-No-Such-Thing")


async def test_seeded_membership_reads_back(directory: LocalDirectory) -> None:
    groups = await directory.alist_member_groups("alex@contoso.example")

    assert "SW-Visio-Plan2" in [g.display_name for g in groups]
    assert await directory.ais_member("grp-sw-visio", "local-user")
    assert not await directory.ais_member("grp-sw-visio", "priya-shah")
    assert not await directory.ais_member("grp-no-such-group", "local-user")


async def test_add_and_remove_are_idempotent(directory: LocalDirectory) -> None:
    assert await directory.aadd_member("SW-Visio-Plan2", "priya-shah") is True
    assert await directory.aadd_member("grp-sw-visio", "priya-shah") is False
    assert await directory.ais_member("grp-sw-visio", "priya.shah@contoso.example")

    assert await directory.aremove_member("grp-sw-visio", "priya-shah") is True
    assert await directory.aremove_member("grp-sw-visio", "priya-shah") is False
    assert not await directory.ais_member("grp-sw-visio", "priya-shah")
    assert await directory.ais_member("grp-sw-visio", "local-user")


async def test_membership_of_unknown_group_or_person_is_not_found(
    directory: LocalDirectory,
) -> None:
    with pytest.raises(NotFound, match="no group"):
        await directory.aadd_member("grp-no-such-group", "local-user")
    with pytest.raises(NotFound, match="no user"):
        await directory.aadd_member("grp-sw-visio", "nobody@contoso.example")
    with pytest.raises(NotFound, match="no group"):
        await directory.aremove_member("grp-no-such-group", "local-user")
    with pytest.raises(NotFound, match="no user"):
        await directory.alist_member_groups("nobody@contoso.example")
