"""ServiceNow tickets against a local ServiceNow: the outbox, auth, faults and round trips."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from fakes.servicenow_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    USER,
    FakeServiceNow,
    serve_fake_servicenow,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.db import create_engine, upgrade
from tools.errors import BackendUnavailable, NotFound, ToolError
from tools.settings import Settings, load_settings
from tools.tickets.base import Attachment, Caller, TicketDraft
from tools.tickets.servicenow import ServiceNowTickets
from tools.tickets.tables import ticket_events, ticket_outbox

ALEX = Caller("oid-alex", "tenant-1", "alex@contoso.example", "Alex Employee")
LATER = timedelta(hours=2)
"""Far enough ahead that every backoff has run out."""


def _draft(key: str = "approval-1", **changes: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "idempotency_key": key,
        "caller": ALEX,
        "short_description": "Laptop does not boot",
        "description": "The laptop shows a black screen after the logo.",
        "category": "hardware",
        "urgency": "high",
        "impact": "medium",
        "transcript": "Alex Employee: my laptop won't boot\nHelpdesk: Let's try a reset.",
        "tried": ["Showed the article 'Hard reset a laptop'"],
        "links": [("Conversation in Teams", "https://teams.microsoft.com/l/chat/0")],
        "conversation_id": "conv-1",
    }
    values.update(changes)
    return TicketDraft(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServiceNow]:
    async with serve_fake_servicenow() as served:
        served.add_user("alex@contoso.example", "Alex Employee", user_name="alex.e")
        served.add_user("beth@contoso.example", "Beth Tech", user_name="beth.tech")
        served.add_group("Network Team")
        yield served


def _settings(url: str, database_url: str | None, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "ticket_backend": "servicenow",
        "servicenow_url": url,
        "servicenow_user": USER,
        "servicenow_password": PASSWORD,
        "servicenow_timeout_s": 0.5,
    }
    values.update(changes)
    return load_settings(**values)


async def _engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings)
    await upgrade(engine)
    return engine


@pytest.fixture
async def engine(app_database_url: str | None) -> AsyncIterator[AsyncEngine]:
    """The app database, on SQLite and on Postgres."""
    created = await _engine(load_settings(database_url=app_database_url))
    yield created
    await created.dispose()


@pytest.fixture
async def local_engine() -> AsyncIterator[AsyncEngine]:
    """The app database on SQLite only (round trips that do not test the outbox)."""
    created = await _engine(load_settings())
    yield created
    await created.dispose()


@pytest.fixture
async def desk(
    fake: FakeServiceNow, local_engine: AsyncEngine
) -> AsyncIterator[ServiceNowTickets]:
    tickets = ServiceNowTickets(_settings(fake.url, None), local_engine)
    yield tickets
    await tickets.aclose()


async def _outbox(engine: AsyncEngine, key: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                ticket_outbox.select().where(ticket_outbox.c.idempotency_key == key)
            )
        ).one()


async def _events(engine: AsyncEngine, *, muted: bool = False) -> list[Any]:
    """The events the caller will hear of (or, with ``muted``, those kept silent)."""
    status = ticket_events.c.status
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    ticket_events.select()
                    .where(status == "muted" if muted else status != "muted")
                    .order_by(ticket_events.c.created_at)
                )
            ).all()
        )


def _later() -> datetime:
    return datetime.now(UTC) + LATER


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- creating ------------------------------------------------------------------


async def test_create_with_basic_auth_fills_the_incident(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    ticket = await desk.acreate(_draft())

    assert (ticket.number, ticket.pending, ticket.state) == ("INC0010001", False, "new")
    assert re.fullmatch(r"HD-[A-Z2-7]{6}", ticket.reference)
    [incident] = fake.incidents
    alex = next(u for u in fake.tables["sys_user"].values() if u["email"] == ALEX.upn)
    assert incident["caller_id"] == alex["sys_id"]
    assert (incident["urgency"], incident["impact"], incident["priority"]) == (
        "1",
        "2",
        "2",
    )
    assert (incident["category"], incident["contact_type"]) == (
        "hardware",
        "virtual_agent",
    )
    assert incident["correlation_id"] == "approval-1"
    description = incident["description"]
    order = [
        description.index("The laptop shows a black screen"),
        description.index("What the copilot already tried:\n- Showed the article"),
        description.index("Alex Employee: my laptop won't boot"),
        description.index("https://teams.microsoft.com/l/chat/0"),
    ]
    assert order == sorted(order)
    assert not description.startswith("Caller:")
    [create] = fake.calls("POST", "/api/now/table/incident")
    assert create.headers["Authorization"].startswith("Basic ")
    assert ticket.url == (
        f"{fake.url}/nav_to.do?uri=incident.do?sys_id={incident['sys_id']}"
    )


async def test_create_with_oauth_fetches_one_token_and_reuses_it(
    fake: FakeServiceNow, local_engine: AsyncEngine
) -> None:
    settings = _settings(
        fake.url,
        None,
        servicenow_user=None,
        servicenow_password=None,
        servicenow_client_id=CLIENT_ID,
        servicenow_client_secret=CLIENT_SECRET,
    )
    tickets = ServiceNowTickets(settings, local_engine)

    first = await tickets.acreate(_draft("approval-1"))
    second = await tickets.acreate(_draft("approval-2"))
    await tickets.aget(first.label)
    await tickets.aclose()

    assert (first.number, second.number) == ("INC0010001", "INC0010002")
    [token_call] = fake.calls("POST", "/oauth_token.do")
    assert "grant_type=client_credentials" in token_call.body.decode()
    [token] = fake.tokens
    api_calls = [r for r in fake.requests if r.path.startswith("/api/")]
    assert {r.headers["Authorization"] for r in api_calls} == {f"Bearer {token}"}


async def test_a_revoked_token_is_replaced_once(
    fake: FakeServiceNow, local_engine: AsyncEngine
) -> None:
    settings = _settings(
        fake.url,
        None,
        servicenow_client_id=CLIENT_ID,
        servicenow_client_secret=CLIENT_SECRET,
    )
    tickets = ServiceNowTickets(settings, local_engine)
    created = await tickets.acreate(_draft())
    fake.expire_tokens()

    read = await tickets.aget(created.label)
    await tickets.aclose()

    assert read.number == created.number
    assert len(fake.calls("POST", "/oauth_token.do")) == 2


async def test_unknown_caller_is_named_at_the_top_of_the_description(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    stranger = Caller("oid-sam", "tenant-1", "sam@contoso.example", "Sam New")

    ticket = await desk.acreate(_draft(caller=stranger))

    assert ticket.number == "INC0010001"
    [incident] = fake.incidents
    assert incident["caller_id"] == ""
    assert incident["description"].startswith("Caller: Sam New <sam@contoso.example>\n")


async def test_caller_lookup_is_remembered(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft("approval-1"))
    await desk.acreate(_draft("approval-2"))

    lookups = fake.calls("GET", "/api/now/table/sys_user")
    assert len(lookups) == 1
    assert lookups[0].query["sysparm_query"].startswith("email=alex@contoso.example")


async def test_assignment_group_from_settings_is_set_and_read_back(
    fake: FakeServiceNow, local_engine: AsyncEngine
) -> None:
    settings = _settings(fake.url, None, servicenow_assignment_group="Network Team")
    tickets = ServiceNowTickets(settings, local_engine)

    created = await tickets.acreate(_draft(category="network"))
    await tickets.aclose()

    assert created.assignment_group == "Network Team"
    assert fake.incidents[0]["category"] == "network"


async def test_secrets_in_the_draft_are_redacted_again(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    draft = _draft(transcript="Alex Employee: my password is Tr0ub4dor&3 now")

    await desk.acreate(draft)

    description = fake.incidents[0]["description"]
    assert "Tr0ub4dor" not in description
    assert "[redacted]" in description


# -- the outbox ----------------------------------------------------------------


async def test_same_key_twice_makes_one_incident(
    fake: FakeServiceNow, engine: AsyncEngine
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), engine)

    first = await tickets.acreate(_draft())
    second = await tickets.acreate(_draft())
    await tickets.aclose()

    assert first.reference == second.reference
    assert first.number == second.number == "INC0010001"
    assert len(fake.incidents) == 1
    assert len(fake.calls("POST", "/api/now/table/incident")) == 1


@pytest.mark.parametrize("mode", ["hang", "reset"])
async def test_lost_answer_after_create_is_found_not_repeated(
    fake: FakeServiceNow, engine: AsyncEngine, mode: Literal["hang", "reset"]
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), engine)
    fake.drop_after_create(mode=mode)

    pending = await tickets.acreate(_draft())
    delivered = await tickets.arun_due(now=_later())
    await tickets.aclose()

    assert (pending.pending, pending.number) == (True, None)
    assert delivered == 1
    assert len(fake.incidents) == 1
    assert len(fake.calls("POST", "/api/now/table/incident")) == 1
    row = await _outbox(engine, "approval-1")
    assert (row.status, row.number) == ("delivered", "INC0010001")
    [event] = await _events(engine)
    assert (event.event_id, event.kind, event.number) == (
        "approval-1:created",
        "created",
        "INC0010001",
    )


def _fault_500(fake: FakeServiceNow) -> None:
    fake.fail_next(500, path_contains="/table/incident")


def _fault_429(fake: FakeServiceNow) -> None:
    fake.fail_next(429, path_contains="/table/incident", headers={"Retry-After": "120"})


def _fault_malformed(fake: FakeServiceNow) -> None:
    fake.malformed_next(path_contains="/table/incident")


def _fault_slow(fake: FakeServiceNow) -> None:
    fake.slow_next(2.0, path_contains="/table/incident", method="GET")


@pytest.mark.parametrize(
    "inject",
    [_fault_500, _fault_429, _fault_malformed, _fault_slow],
    ids=["500", "429-retry-after", "malformed-json", "timeout"],
)
async def test_failed_create_keeps_the_reference_and_delivers_later(
    fake: FakeServiceNow, engine: AsyncEngine, inject: Any
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), engine)
    inject(fake)
    started = datetime.now(UTC)

    pending = await tickets.acreate(_draft())

    assert pending.pending and pending.number is None
    assert pending.reference.startswith("HD-")
    assert pending.short_description == "Laptop does not boot"
    row = await _outbox(engine, "approval-1")
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, None)
    assert _aware(row.next_attempt_at) > started
    if inject is _fault_429:
        assert _aware(row.next_attempt_at) >= started + timedelta(seconds=119)
    assert fake.incidents == []
    assert await tickets.arun_due() == 0  # not due yet

    delivered = await tickets.arun_due(now=_later())
    await tickets.aclose()

    assert delivered == 1
    assert len(fake.incidents) == 1
    [event] = await _events(engine)
    assert event.kind == "created"
    assert event.reference == pending.reference
    assert (event.caller_id, event.tenant_id, event.conversation_id) == (
        "oid-alex",
        "tenant-1",
        "conv-1",
    )
    assert event.text == "Your ticket is now INC0010001 in the service desk."
    again = await ServiceNowTickets(_settings(fake.url, None), engine).acreate(_draft())
    assert (again.number, again.reference) == ("INC0010001", pending.reference)


async def test_slow_create_that_lands_late_is_not_doubled(
    fake: FakeServiceNow, engine: AsyncEngine
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), engine)
    fake.slow_next(1.0, path_contains="/table/incident", method="POST")

    pending = await tickets.acreate(_draft())
    for _ in range(50):  # the fake finishes the create after the client left
        if fake.incidents:
            break
        await asyncio.sleep(0.05)
    await tickets.arun_due(now=_later())
    await tickets.aclose()

    assert pending.pending
    assert len(fake.incidents) == 1
    assert (await _outbox(engine, "approval-1")).status == "delivered"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_restart_delivers_what_an_unreachable_instance_left_pending(
    fake: FakeServiceNow, app_database_url: str | None
) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    first_engine = await _engine(_settings(dead, app_database_url))
    before = ServiceNowTickets(_settings(dead, app_database_url), first_engine)
    pending = await before.acreate(_draft())
    await before.aclose()
    await first_engine.dispose()

    settings = _settings(fake.url, app_database_url)
    second_engine = await _engine(settings)
    after = ServiceNowTickets(settings, second_engine)
    delivered = await after.arun_due(now=_later())
    status = await after.aget(pending.reference)
    await after.aclose()
    events = await _events(second_engine)
    await second_engine.dispose()

    assert pending.pending
    assert delivered == 1
    assert (status.number, status.pending) == ("INC0010001", False)
    assert len(fake.incidents) == 1
    assert [e.kind for e in events] == ["created"]


async def test_two_replicas_deliver_a_pending_ticket_once(
    fake: FakeServiceNow, app_database_url: str | None
) -> None:
    settings = _settings(fake.url, app_database_url)
    engines = [await _engine(settings), await _engine(settings)]
    replicas = [ServiceNowTickets(settings, e) for e in engines]
    fake.fail_next(503, path_contains="/table/incident")
    await replicas[0].acreate(_draft())
    fake.slow_next(0.2, path_contains="/table/incident", method="GET", times=2)

    counts = await asyncio.gather(*(r.arun_due(now=_later()) for r in replicas))
    for replica in replicas:
        await replica.aclose()
    events = await _events(engines[0])
    for engine in engines:
        await engine.dispose()

    assert sorted(counts) == [0, 1]
    assert len(fake.incidents) == 1
    assert len(fake.calls("POST", "/api/now/table/incident")) == 1
    assert len(events) == 1


async def test_max_attempts_marks_the_ticket_failed(
    fake: FakeServiceNow, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(fake.url, None, outbox_max_attempts=2)
    tickets = ServiceNowTickets(settings, engine)
    fake.fail_next(500, path_contains="/table/incident", times=100)

    pending = await tickets.acreate(_draft())
    with caplog.at_level(logging.ERROR, logger="tools.tickets.servicenow"):
        assert await tickets.arun_due(now=_later()) == 0
    calls = len(fake.requests)
    assert await tickets.arun_due(now=_later() + LATER) == 0
    after = await tickets.aget(pending.reference)
    await tickets.aclose()

    row = await _outbox(engine, "approval-1")
    assert (row.status, row.attempts) == ("failed", 2)
    assert "500" in row.last_error
    assert "needs an operator" in caplog.text
    assert len(fake.requests) == calls  # a failed row is not tried again
    assert after.pending
    assert await _events(engine) == []


async def test_backoff_is_capped(fake: FakeServiceNow, engine: AsyncEngine) -> None:
    settings = _settings(fake.url, None, outbox_backoff_max_s=5)
    tickets = ServiceNowTickets(settings, engine)
    fake.fail_next(500, path_contains="/table/incident", times=100)
    await tickets.acreate(_draft())

    for step in range(1, 6):
        await tickets.arun_due(now=datetime.now(UTC) + timedelta(hours=step))
    await tickets.aclose()

    row = await _outbox(engine, "approval-1")
    assert row.attempts == 6
    wait = _aware(row.next_attempt_at) - datetime.now(UTC)
    assert wait <= timedelta(seconds=5)


async def test_wrong_password_names_the_setting_and_logs_no_secret(
    fake: FakeServiceNow, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Wr0ng-But-Secret-Pa55!"
    settings = _settings(fake.url, None, servicenow_password=secret)
    tickets = ServiceNowTickets(settings, engine)

    with caplog.at_level(logging.DEBUG):
        pending = await tickets.acreate(_draft())
        with pytest.raises(BackendUnavailable) as caught:
            await tickets.alist(caller_upn=ALEX.upn)
    await tickets.aclose()

    assert pending.pending and pending.reference.startswith("HD-")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("HELPDESK_SERVICENOW_PASSWORD" in r.getMessage() for r in errors)
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    for hidden in (secret, PASSWORD, basic):
        assert hidden not in caplog.text
    assert "HELPDESK_SERVICENOW_PASSWORD" in str(caught.value)
    assert secret not in str(caught.value)
    row = await _outbox(engine, "approval-1")
    assert _aware(row.next_attempt_at) > datetime.now(UTC) + timedelta(seconds=500)


async def test_wrong_client_secret_names_the_setting_and_logs_no_token(
    fake: FakeServiceNow, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    good = _settings(
        fake.url,
        None,
        servicenow_client_id=CLIENT_ID,
        servicenow_client_secret=CLIENT_SECRET,
    )
    bad = _settings(
        fake.url,
        None,
        servicenow_client_id=CLIENT_ID,
        servicenow_client_secret="not-the-secret-9!",
    )
    working, refused = ServiceNowTickets(good, engine), ServiceNowTickets(bad, engine)

    with caplog.at_level(logging.DEBUG):
        await working.acreate(_draft("approval-1"))
        pending = await refused.acreate(_draft("approval-2"))
    await working.aclose()
    await refused.aclose()

    assert pending.pending
    assert "HELPDESK_SERVICENOW_CLIENT_SECRET" in caplog.text
    [token] = fake.tokens
    for secret in (token, CLIENT_SECRET, "not-the-secret-9!"):
        assert secret not in caplog.text


async def test_bad_request_waits_for_an_operator(
    fake: FakeServiceNow, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), engine)
    fake.fail_next(400, path_contains="/table/incident", method="POST")

    with caplog.at_level(logging.ERROR, logger="tools.tickets.servicenow"):
        pending = await tickets.acreate(_draft())
    await tickets.aclose()

    assert pending.pending
    assert "HELPDESK_SERVICENOW_ASSIGNMENT_GROUP" in caplog.text
    row = await _outbox(engine, "approval-1")
    assert _aware(row.next_attempt_at) > datetime.now(UTC) + timedelta(seconds=500)


# -- reading and changing ------------------------------------------------------


async def test_status_by_number_and_reference_shows_comments_not_work_notes(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    created = await desk.acreate(_draft())
    sys_id = fake.incident("INC0010001")["sys_id"]
    fake.add_comment(sys_id, "Please bring the laptop to the desk.", by="beth.tech")
    fake.add_comment(sys_id, "Disk is probably dead", element="work_notes")

    by_number = await desk.aget("inc0010001")
    by_reference = await desk.aget(created.reference)
    with_notes = await desk.aget("INC0010001", work_notes=True)

    assert by_number == by_reference
    assert by_number.reference == created.reference
    assert by_number.caller == ALEX
    assert [c.body for c in by_number.comments] == [
        "Please bring the laptop to the desk."
    ]
    assert by_number.comments[0].author == "beth.tech"
    assert [c.work_note for c in with_notes.comments] == [False, True]
    assert (by_number.priority, by_number.urgency, by_number.impact) == (
        2,
        "high",
        "medium",
    )
    assert by_number.category == "hardware"
    assert by_number.created_at is not None


async def test_pending_reference_reads_from_the_outbox(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    fake.fail_next(503, path_contains="/table/incident")
    created = await desk.acreate(_draft())

    status = await desk.aget(created.reference.lower())

    assert (status.pending, status.number, status.state) == (True, None, "new")
    assert status.description.startswith("The laptop shows")
    with pytest.raises(ToolError) as caught:
        await desk.acomment(
            created.reference, "any news?", author="Alex Employee", from_caller=True
        )
    assert created.reference in caught.value.user_message


async def test_unknown_tickets_are_not_found(desk: ServiceNowTickets) -> None:
    for label in ("INC0099999", "HD-AAAAAA", "hello"):
        with pytest.raises(NotFound):
            await desk.aget(label)


async def test_outage_while_reading_keeps_the_transaction_id(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())
    fake.fail_next(503, path_contains="/table/incident")

    with pytest.raises(BackendUnavailable) as caught:
        await desk.aget("INC0010001")

    assert re.fullmatch(r"[0-9a-f]{12}", caught.value.request_id or "")
    assert "try again" in caught.value.user_message


async def test_list_is_newest_first_with_pending_and_without_resolved(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    first = await desk.acreate(_draft("approval-1", short_description="First"))
    second = await desk.acreate(_draft("approval-2", short_description="Second"))
    await desk.acreate(_draft("approval-3", short_description="Third"))
    await desk.aset_state("INC0010003", "resolved", by="Beth Tech", note="Replaced")
    stranger = Caller("oid-alex", "tenant-1", "alex.old@contoso.example", "Alex")
    unlinked = await desk.acreate(_draft("approval-4", caller=stranger))
    fake.fail_next(503, path_contains="/table/incident")
    pending = await desk.acreate(_draft("approval-5", short_description="Fifth"))

    by_id = await desk.alist(caller_id="oid-alex")
    by_upn = await desk.alist(caller_upn=ALEX.upn)
    everything = await desk.alist(caller_id="oid-alex", open_only=False)

    assert [t.label for t in by_id] == [
        pending.reference,
        unlinked.number,
        second.number,
        first.number,
    ]
    assert [t.number for t in by_upn] == [second.number, first.number]
    assert len(everything) == 5
    assert (
        "stateIN1,2,3"
        in fake.calls("GET", "/api/now/table/incident")[-2].query["sysparm_query"]
    )


async def test_group_queue(fake: FakeServiceNow, desk: ServiceNowTickets) -> None:
    await desk.acreate(_draft("approval-1"))
    await desk.acreate(_draft("approval-2"))
    await desk.aassign("INC0010002", group="Network Team", assignee=None, by="Beth")

    queue = await desk.alist(group="Network Team")

    assert [t.number for t in queue] == ["INC0010002"]
    assert queue[0].assignment_group == "Network Team"


async def test_comments_from_the_caller_and_from_staff(
    fake: FakeServiceNow, local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())

    await desk.acomment(
        "INC0010001",
        "It beeps three times. My PIN 4471 is on the sticker.",
        author="Alex Employee",
        from_caller=True,
    )
    await desk.acomment(
        "INC0010001",
        "Checking the disk",
        author="Beth Tech",
        from_caller=False,
        work_note=True,
    )
    ticket = await desk.acomment(
        "INC0010001", "Please restart once more.", author="Beth Tech", from_caller=False
    )

    sys_id = fake.incident("INC0010001")["sys_id"]
    assert fake.journal(sys_id)[0].startswith(
        "[From Alex Employee via Microsoft Teams]\n"
    )
    assert "4471" not in fake.journal(sys_id)[0]
    assert fake.journal(sys_id, "work_notes") == ["[From Beth Tech]\nChecking the disk"]
    assert [(c.author, c.from_caller) for c in ticket.comments] == [
        ("Alex Employee", True),
        ("Beth Tech", False),
    ]
    assert ticket.comments[1].body == "Please restart once more."
    events = await _events(local_engine)
    assert [(e.kind, e.author, e.text) for e in events] == [
        ("commented", "Beth Tech", "Please restart once more.")
    ]


async def test_resolve_reopen_and_close(
    fake: FakeServiceNow, local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())

    resolved = await desk.aset_state(
        "INC0010001", "resolved", by="Beth Tech", note="Replaced the disk."
    )
    incident = dict(fake.incident("INC0010001"))
    reopened = await desk.aset_state("INC0010001", "in_progress", by="Alex Employee")
    closed = await desk.aset_state("INC0010001", "closed", by="Beth Tech")
    with pytest.raises(ToolError) as caught:
        await desk.aset_state("INC0010001", "in_progress", by="Alex Employee")

    assert (resolved.state, resolved.resolution_note) == (
        "resolved",
        "Replaced the disk.",
    )
    assert (incident["state"], incident["close_code"]) == ("6", "Solved (Permanently)")
    assert reopened.state == "in_progress"
    assert fake.incident("INC0010001")["reopen_count"] == "1"
    assert closed.state == "closed"
    assert "new one" in caught.value.user_message
    kinds = [e.kind for e in await _events(local_engine)]
    assert kinds == ["resolved", "reopened", "closed"]


async def test_on_hold_asks_the_caller(
    fake: FakeServiceNow, local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())

    held = await desk.aset_state(
        "INC0010001", "on_hold", by="Beth Tech", note="Which model is it?"
    )

    assert held.state == "on_hold"
    assert fake.incident("INC0010001")["hold_reason"] == "1"
    assert [c.body for c in held.comments] == ["Which model is it?"]
    [event] = await _events(local_engine)
    assert (event.kind, event.text) == ("question", "Which model is it?")


async def test_resolution_refused_by_servicenow_is_a_tool_error(
    fake: FakeServiceNow, local_engine: AsyncEngine
) -> None:
    tickets = ServiceNowTickets(_settings(fake.url, None), local_engine, close_code="")
    await tickets.acreate(_draft())

    with pytest.raises(ToolError) as caught:
        await tickets.aset_state("INC0010001", "resolved", by="Beth", note="done")
    await tickets.aclose()

    assert "mandatory" in str(caught.value)
    assert fake.incident("INC0010001")["state"] == "1"


async def test_assign_to_group_and_person(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())

    ticket = await desk.aassign(
        "INC0010001", group="Network Team", assignee="beth@contoso.example", by="Dana"
    )

    assert (ticket.assignment_group, ticket.assigned_to) == (
        "Network Team",
        "Beth Tech",
    )
    with pytest.raises(ToolError):
        await desk.aassign("INC0010001", group="Nobody", assignee=None, by="Dana")


async def test_attach_uploads_the_file(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

    await desk.aattach("INC0010001", Attachment("screen.png", "image/png", data))

    [upload] = fake.attachments
    assert upload["data"] == data
    assert upload["meta"]["file_name"] == "screen.png"
    assert upload["meta"]["content_type"] == "image/png"
    assert upload["meta"]["table_sys_id"] == fake.incident("INC0010001")["sys_id"]


@pytest.mark.parametrize(
    ("urgency", "impact", "priority"),
    [
        ("high", "high", 1),
        ("high", "medium", 2),
        ("medium", "medium", 3),
        ("low", "medium", 4),
        ("low", "low", 5),
    ],
)
async def test_priority_follows_urgency_and_impact(
    fake: FakeServiceNow,
    desk: ServiceNowTickets,
    urgency: str,
    impact: str,
    priority: int,
) -> None:
    ticket = await desk.acreate(_draft(urgency=urgency, impact=impact))

    assert ticket.priority == priority
    assert fake.incidents[0]["priority"] == str(priority)


@pytest.mark.parametrize(
    ("state", "code"),
    [("in_progress", "2"), ("on_hold", "3"), ("resolved", "6"), ("closed", "7")],
)
async def test_states_map_to_servicenow_codes(
    fake: FakeServiceNow, desk: ServiceNowTickets, state: Any, code: str
) -> None:
    await desk.acreate(_draft())

    ticket = await desk.aset_state("INC0010001", state, by="Beth Tech")

    assert fake.incident("INC0010001")["state"] == code
    assert ticket.state == state


@pytest.mark.parametrize(
    ("ours", "category", "subcategory", "back"),
    [
        ("hardware", "hardware", "", "hardware"),
        ("email", "software", "email", "email"),
        ("access", "inquiry", "", "other"),
    ],
)
async def test_categories_map_to_servicenow_defaults(
    fake: FakeServiceNow,
    desk: ServiceNowTickets,
    ours: str,
    category: str,
    subcategory: str,
    back: str,
) -> None:
    await desk.acreate(_draft(category=ours))
    incident = fake.incident("INC0010001")
    sa_row = (incident["category"], incident["subcategory"])

    fake.tables["incident"][incident["sys_id"]]["correlation_id"] = "made-elsewhere"
    async with desk._engine.begin() as conn:  # forget it was ours
        await conn.execute(sa.delete(ticket_outbox))
    read = await desk.aget("INC0010001")

    assert sa_row == (category, subcategory)
    assert read.category == back
    assert read.reference == "INC0010001"
    assert read.caller.upn == ALEX.upn


async def test_long_key_correlates_by_reference_and_long_talk_is_cut(
    fake: FakeServiceNow, desk: ServiceNowTickets
) -> None:
    key = "approval-" + "x" * 120
    talk = "\n".join(f"Alex Employee: message {n}" for n in range(400))

    ticket = await desk.acreate(_draft(key, transcript=talk))
    again = await desk.acreate(_draft(key, transcript=talk))

    incident = fake.incident("INC0010001")
    assert incident["correlation_id"] == ticket.reference
    assert again.number == ticket.number
    description = incident["description"]
    assert len(description) <= 4000
    assert "[earlier messages cut]" in description
    assert "message 399" in description
    assert description.endswith("https://teams.microsoft.com/l/chat/0")


# -- news of changes made here ---------------------------------------------------------


@pytest.mark.parametrize(
    "by",
    ["oid-alex", "alex@contoso.example", " ALEX@Contoso.Example "],
    ids=["object-id", "upn", "upn-in-other-case"],
)
async def test_the_callers_own_close_and_reopen_are_not_news(
    fake: FakeServiceNow, local_engine: AsyncEngine, desk: ServiceNowTickets, by: str
) -> None:
    await desk.acreate(_draft())

    await desk.aset_state("INC0010001", "resolved", by="Beth Tech", note="New disk.")
    await desk.aset_state("INC0010001", "in_progress", by=by)  # "No, reopen it"
    await desk.aset_state("INC0010001", "resolved", by="Beth Tech", note="Again.")
    closed = await desk.aset_state("INC0010001", "closed", by=by)  # "Yes, close it"

    assert closed.state == "closed"
    news = await _events(local_engine)
    assert [(e.kind, e.text) for e in news] == [
        ("resolved", "New disk."),
        ("resolved", "Again."),
    ]
    muted = await _events(local_engine, muted=True)
    assert [e.kind for e in muted] == ["reopened", "closed"]


async def test_the_callers_answer_that_ends_a_hold_is_not_news(
    local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())
    await desk.aset_state(
        "INC0010001", "on_hold", by="Beth Tech", note="Which model is it?"
    )

    await desk.acomment(
        "INC0010001", "A T14.", author="Alex Employee", from_caller=True
    )
    await desk.aset_state("INC0010001", "in_progress", by="alex@contoso.example")

    assert [e.kind for e in await _events(local_engine)] == ["question"]
    muted = await _events(local_engine, muted=True)
    assert [(e.kind, e.author) for e in muted[1:]] == [
        ("commented", "Alex Employee"),
        ("state_changed", "alex@contoso.example"),
    ]


async def test_staff_closing_or_reopening_is_still_news(
    local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())

    await desk.aset_state("INC0010001", "resolved", by="Beth Tech", note="Done.")
    await desk.aset_state("INC0010001", "in_progress", by="Beth Tech")
    await desk.aset_state("INC0010001", "closed", by="Alex Employee")  # a name

    kinds = [e.kind for e in await _events(local_engine)]
    assert kinds == ["resolved", "reopened", "closed"]


async def test_events_of_changes_made_here_carry_the_business_rules_ids(
    fake: FakeServiceNow, local_engine: AsyncEngine, desk: ServiceNowTickets
) -> None:
    await desk.acreate(_draft())
    sys_id = fake.incident("INC0010001")["sys_id"]

    await desk.acomment(
        "INC0010001", "Please restart.", author="Beth Tech", from_caller=False
    )  # sys_mod_count 1
    await desk.aset_state(
        "INC0010001", "on_hold", by="Beth Tech", note="Which model?"
    )  # 2
    await desk.aset_state("INC0010001", "resolved", by="Beth Tech", note="Done.")  # 3
    await desk.aset_state(
        "INC0010001", "in_progress", by="Beth Tech", note="It came back."
    )  # 4

    news = await _events(local_engine)
    muted = await _events(local_engine, muted=True)
    assert [(e.event_id, e.kind) for e in news] == [
        (f"itsm:{sys_id}:1:c", "commented"),
        (f"itsm:{sys_id}:2:c", "question"),
        (f"itsm:{sys_id}:3:s", "resolved"),
        (f"itsm:{sys_id}:4:s", "reopened"),
    ]
    assert news[-1].text == "It came back."
    # The rule also reports these parts (a state that a question explains, a
    # reopening's comment); they are kept silent so its report is a replay.
    assert [(e.event_id, e.kind) for e in muted] == [
        (f"itsm:{sys_id}:2:s", "state_changed"),
        (f"itsm:{sys_id}:4:c", "commented"),
    ]
