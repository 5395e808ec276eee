"""The dedupe claim: first claimant wins, everywhere the database is shared."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tools.db import (
    claim_activity,
    create_engine,
    get_reference,
    prune_activities,
    save_reference,
    upgrade,
)
from tools.settings import load_settings


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest):
    if request.param == "postgres":
        settings = load_settings(database_url=request.getfixturevalue("postgres_url"))
    else:
        settings = load_settings()
        settings.data_dir.mkdir(parents=True)
    engine = create_engine(settings)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def test_only_the_first_claim_of_a_key_wins(engine, tmp_path) -> None:
    key = f"act:t:c:{tmp_path.name}"

    results = await asyncio.gather(*(claim_activity(engine, key) for _ in range(10)))

    assert results.count(True) == 1


async def test_pruning_forgets_old_activity_keys_but_keeps_markers(
    engine, tmp_path
) -> None:
    await claim_activity(engine, f"act:{tmp_path.name}")
    await claim_activity(engine, f"greeted:{tmp_path.name}")

    removed = await prune_activities(engine, older_than=timedelta(0), prefix="act:")

    assert removed >= 1
    assert await claim_activity(engine, f"act:{tmp_path.name}") is True
    assert await claim_activity(engine, f"greeted:{tmp_path.name}") is False


async def test_a_reference_is_stored_and_refreshed(engine, tmp_path) -> None:
    ids = {"tenant_id": "t", "user_object_id": tmp_path.name, "conversation_id": "c"}

    await save_reference(engine, reference={"serviceUrl": "a"}, **ids)
    await save_reference(engine, reference={"serviceUrl": "b"}, **ids)

    assert await get_reference(engine, **ids) == {"serviceUrl": "b"}
    assert await get_reference(engine, tenant_id="t", user_object_id="nobody") is None


async def test_two_migrators_at_once_do_not_crash(engine) -> None:
    await asyncio.gather(upgrade(engine), upgrade(engine), upgrade(engine))
