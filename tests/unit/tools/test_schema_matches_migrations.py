"""The migrations build exactly the schema the code's table definitions describe.

A column added to a table in code but not to a migration (or the reverse)
works in tests that create tables from code and fails on a real upgrade; this
compares the two with Alembic's own autogenerate comparison.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import tools.analytics.tables
import tools.approvals
import tools.assets.tables
import tools.audit
import tools.custom.tables
import tools.directory.tables
import tools.handoff.tables
import tools.tickets.tables  # noqa: F401
from tools.db import create_engine, metadata, upgrade
from tools.settings import load_settings


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    found = compare_metadata(context, metadata)
    # Alembic's own bookkeeping table is not ours to describe.
    return [d for d in found if "alembic_version" not in repr(d)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_upgraded_database_matches_the_table_definitions(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = None if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    engine = create_engine(load_settings(database_url=url))
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()

    assert differences == []
