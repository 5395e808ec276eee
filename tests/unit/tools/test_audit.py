"""The audit trail: append-only records, filters, and ``helpdesk audit``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from bot.cli.audit import format_table, parse_age
from tools.audit import AuditEvent, alist, arecord, audit_events
from tools.db import create_engine, upgrade
from tools.directory.local import load_seed
from tools.settings import load_settings


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    settings = load_settings(database_url=app_database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = create_engine(settings)
    await upgrade(created)
    yield created
    await created.dispose()


def _event(tenant: str, **changes: object) -> AuditEvent:
    fields: dict[str, object] = {
        "at": datetime.now(UTC),
        "tenant_id": tenant,
        "actor_id": "sam-rivera",
        "subject_id": "priya-shah",
        "tool": "set_temporary_password",
        "action": "Set a temporary password for Priya Shah",
        "outcome": "success",
        "approval_id": "appr-1",
        "backend_request_id": "req-1",
    }
    fields.update(changes)
    return AuditEvent(**fields)  # type: ignore[arg-type]


async def test_filters_combine_and_newest_comes_first(engine: AsyncEngine) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    old = datetime.now(UTC) - timedelta(days=10)
    await arecord(engine, _event(tenant, at=old))
    await arecord(engine, _event(tenant, outcome="refused", subject_id="dana-park"))
    await arecord(engine, _event(tenant, tool="revoke_sessions"))

    recent = await alist(
        engine, tenant_id=tenant, since=datetime.now(UTC) - timedelta(days=7)
    )
    refused = await alist(engine, tenant_id=tenant, outcome="refused")
    dana = await alist(engine, tenant_id=tenant, user="dana-park")

    assert [e.tool for e in recent] == ["revoke_sessions", "set_temporary_password"]
    assert [e.subject_id for e in refused] == ["dana-park"]
    assert [e.outcome for e in dana] == ["refused"]


async def test_records_cannot_be_changed_or_deleted(engine: AsyncEngine) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    await arecord(engine, _event(tenant))

    for statement in (
        audit_events.update().values(outcome="declined"),
        audit_events.delete(),
    ):
        with pytest.raises(sa.exc.DBAPIError):
            async with engine.begin() as conn:
                await conn.execute(statement.where(audit_events.c.tenant_id == tenant))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("30m", timedelta(minutes=30), id="minutes"),
        pytest.param("7d", timedelta(days=7), id="days"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
    ],
)
def test_since_accepts_short_ages(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


def test_table_shows_request_ids() -> None:
    table = format_table([_event("t")])

    assert table.splitlines()[0].split()[:3] == ["WHEN", "(UTC)", "ACTOR"]
    assert "req-1" in table and "appr-1" in table


def test_audit_command_lists_and_rejects_a_bad_age(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "--since", "soon"]) == 2
    assert "use a number and m, h, d or w" in capsys.readouterr().err
    assert main(["audit", "--since", "1d"]) == 0


def test_directory_commands_seed_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    seed = load_settings().directory_seed_file

    assert main(["directory", "seed", str(seed)]) == 0
    assert main(["directory", "seed", str(seed)]) == 0
    assert main(["directory", "list"]) == 0

    out = capsys.readouterr().out
    people = len(load_seed(seed).users)
    assert f"{people} new people" in out and "0 new people" in out
    assert "sam-rivera" in out and "helpdesk" in out and "privileged" in out
