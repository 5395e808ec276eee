"""Asset requests fulfilled through Microsoft Graph, from the employee's chat.

The same conversation as ``test_bot_asset_requests.py`` (Alex asks for
Microsoft Project, Dana Park approves on a card in her own chat), but the
directory is Graph: the real msgraph-sdk against a local Graph server that
knows Alex, Dana as his manager and the SW-Project-Plan3 group. The catalogue
names the group by an Entra object id, as a company's catalogue does.

People post as Teams does: ``from.id`` is their Teams channel id and
``from.aadObjectId`` their Entra object id, so a mix-up between the two would
show (the approver is asked by one and clicks with the other).

What the employee is told must match what Graph did: a membership that Graph
refused, could not make right now, or does not show afterwards is never
reported as done; the request goes to the item's queue as a ticket. Every test runs on SQLite and, where it is reachable, on
PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fakes.asset_chat import approval_card, ask_for_project, deliver, texts
from fakes.graph_server import FakeGraph, FixedTokenCredential

import bot.chat
import tools.directory
from bot.app import TASKS_KEY
from bot.chat import ChatSession, render
from tools.assets import requests as store
from tools.assets import workflow
from tools.audit import alist as audit_log
from tools.settings import PROJECT_ROOT, Settings, load_settings

ALEX = "3f2a9c1e-5b7d-4e8f-9a10-2b3c4d5e6f70"
DANA = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
RILEY = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
PROJECT_GROUP = "9e8d7c6b-5a49-4382-a716-1f2e3d4c5b6a"
"""SW-Project-Plan3's Entra object id in this tenant."""
EMBEDDED_PROJECT_GROUP = "grp-sw-project"
"""The shipped catalogue's id for it, which is the embedded directory's."""
QUEUE = "Software Licensing"
"""The catalogue's queue for Microsoft Project."""
MEMBERS_REF = f"/v1.0/groups/{PROJECT_GROUP}/members/$ref"

_real_activity = bot.chat.message_activity


def _teams_activity(**kwargs: Any) -> dict[str, Any]:
    """A message as Teams sends it: the channel id is not the Entra object id."""
    activity = _real_activity(**kwargs)
    activity["from"]["id"] = "29:1" + activity["from"]["aadObjectId"].replace("-", "")
    return activity


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    fake.add_user(ALEX, "alex@contoso.example", "Alex Employee", manager=DANA)
    fake.add_user(DANA, "dana.park@contoso.example", "Dana Park", manager=RILEY)
    fake.add_user(RILEY, "riley.chen@contoso.example", "Riley Chen")
    fake.add_group(PROJECT_GROUP, "SW-Project-Plan3", members=[RILEY])
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}/v1.0"
    yield fake
    await runner.cleanup()


def _manifests(folder: Path, project_group: str) -> Path:
    """The shipped manifests, with Project's group named by ``project_group``."""
    copied = shutil.copytree(PROJECT_ROOT / "manifests", folder)
    catalog = copied / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    shipped = f"object_id: {EMBEDDED_PROJECT_GROUP},"
    assert text.count(shipped) == 1, "the catalogue's Project entry has changed"
    catalog.write_text(
        text.replace(shipped, f"object_id: {project_group},"), encoding="utf-8"
    )
    return copied


@pytest.fixture
def graph_settings(
    graph: FakeGraph,
    app_database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], Settings]:
    """Settings for bots on the local Graph, given the id the catalogue names
    Project's group by."""
    # Graph with a fixed token: the app's client secret would go to Entra.
    monkeypatch.setattr(
        tools.directory,
        "open_directory",
        partial(tools.directory.open_directory, credential=FixedTokenCredential()),
    )
    monkeypatch.setattr(bot.chat, "message_activity", _teams_activity)

    def make(project_group: str) -> Settings:
        return load_settings(
            database_url=app_database_url,
            directory_backend="graph",
            graph_base_url=graph.base_url,
            graph_tenant_id="contoso-tenant",
            graph_client_id="helpdesk-app",
            graph_client_secret="not-used-with-a-fixed-token",
            graph_timeout_s=5,
            manifests_dir=_manifests(tmp_path / "manifests", project_group),
        )

    return make


@pytest.fixture
def settings_on_graph(graph_settings: Callable[[str], Settings]) -> Settings:
    return graph_settings(PROJECT_GROUP)


@pytest.fixture
async def people(
    settings_on_graph: Settings,
) -> AsyncIterator[tuple[ChatSession, ChatSession]]:
    async with (
        ChatSession(settings_on_graph, as_user=ALEX) as alex,
        ChatSession(settings_on_graph, as_user=DANA) as dana,
    ):
        await dana.say("hello")  # Dana has a chat with the bot to be reached in
        yield alex, dana


async def _approve(chat: ChatSession, card_id: str, data: dict[str, Any]) -> list[str]:
    """Click Approve on the card, as Teams posts it; the bot's answers."""
    before = len(chat.connector.calls)
    activity = _teams_activity(
        service_url=chat.connector.url,
        conversation_id=chat.conversation_id,
        user=chat.user,
        text="",
        value={**data, "action": "asset_approve"},
        reply_to_id=card_id,
    )
    assert await chat.post(activity) == 200
    await chat._app[TASKS_KEY].join(wait_s=60)
    return [
        render(c.activity)[0]
        for c in chat.connector.calls[before:]
        if c.method == "POST"
    ]


async def _card_reaches_dana(
    alex: ChatSession, dana: ChatSession
) -> tuple[str, dict[str, Any]]:
    """Alex asks for Project; the approval card lands in Dana's chat."""
    await ask_for_project(alex)
    await deliver(alex, dana)
    return await approval_card(dana)


async def _news(alex: ChatSession) -> str:
    """The newest message the bot sent Alex on its own."""
    await deliver(alex)
    return texts(alex)[-1]


def _adds(graph: FakeGraph) -> list[tuple[str, str, Any]]:
    return [r for r in graph.writes() if r[1] == MEMBERS_REF]


async def _assert_queued_not_granted(alex: ChatSession, news: str, *, why: str) -> None:
    """The request went to Project's queue as a ticket, with the reason, and
    Alex was told so, not that it is done."""
    assert "Done" not in news and "you now have" not in news
    [request] = await store.requests_of(alex.services.db, "local", ALEX)
    assert request.status == "queued" and request.ticket
    assert (
        "Dana Park approved REQ1000001. I couldn't grant Microsoft Project Plan 3 "
        f"automatically, so {request.ticket} went to {QUEUE}, who will do it and "
        "tell you." in news
    )
    ticket = await alex.services.tickets.aget(request.ticket)
    assert ticket.assignment_group == QUEUE
    assert ticket.caller.object_id == ALEX
    assert ticket.short_description == "Fulfil REQ1000001: Microsoft Project Plan 3"
    assert "Requester UPN: alex@contoso.example" in ticket.description
    assert f"Why this came to a person: the automatic step failed ({why}" in (
        ticket.description
    )
    trail = " ".join(e.detail or "" for e in await audit_log(alex.services.db))
    assert f"fulfilment ticket {request.ticket} for {QUEUE}" in trail
    assert "fulfilled:" not in trail
    shown = await alex.say("show my requests")
    assert (
        "REQ1000001: Microsoft Project Plan 3: approved, with the fulfilment team "
        f"(ticket {request.ticket})" in render(shown[-1])[0]
    )


async def test_the_approvers_card_reaches_the_manager_graph_names(
    people: tuple[ChatSession, ChatSession], graph: FakeGraph
) -> None:
    alex, dana = people

    await _card_reaches_dana(alex, dana)

    # Graph was asked for Alex's manager by his Entra object id.
    assert ("GET", f"/v1.0/users/{ALEX}/manager", None) in graph.requests
    card = next(t for t in texts(dana) if "Approve Microsoft Project Plan 3" in t)
    for shown in ("Alex Employee", "to plan the Q1 product launch", "30.00 USD"):
        assert shown in card
    assert not any("Approve Microsoft Project" in t for t in texts(alex))
    [request] = await store.requests_of(alex.services.db, "local", ALEX)
    [asked] = await store.approvals_of(alex.services.db, request.seq)
    assert (asked.approver_id, asked.approver_name) == (DANA, "Dana Park")
    assert _adds(graph) == []  # nothing is granted before the approval


async def test_an_approved_request_is_granted_in_graph_and_read_back(
    people: tuple[ChatSession, ChatSession], graph: FakeGraph
) -> None:
    alex, dana = people
    card_id, data = await _card_reaches_dana(alex, dana)

    answer = await _approve(dana, card_id, data)

    assert answer == ["Approved REQ1000001. Alex Employee has been told."]
    assert _adds(graph) == [
        (
            "POST",
            MEMBERS_REF,
            {"@odata.id": f"{graph.base_url}/directoryObjects/{ALEX}"},
        )
    ]
    # After the add, the workflow asked Graph whether it took.
    add_at = graph.requests.index(_adds(graph)[0])
    assert (
        "POST",
        f"/v1.0/users/{ALEX}/checkMemberGroups",
        {"groupIds": [PROJECT_GROUP]},
    ) in graph.requests[add_at + 1 :]
    assert graph.members[PROJECT_GROUP] == {RILEY, ALEX}
    assert await alex.services.directory.ais_member(PROJECT_GROUP, ALEX)
    news = await _news(alex)
    assert "Dana Park approved REQ1000001" in news
    assert "you now have Microsoft Project Plan 3" in news
    [request] = await store.requests_of(alex.services.db, "local", ALEX)
    assert (request.status, request.ticket) == ("fulfilled", None)
    trail = " ".join(e.detail or "" for e in await audit_log(alex.services.db))
    assert "fulfilled: added to SW-Project-Plan3" in trail
    assert await audit_log(alex.services.db, outcome="failed") == []


@pytest.mark.parametrize(
    ("status", "code", "message", "headers"),
    [
        pytest.param(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            {},
            id="403-denied",
        ),
        pytest.param(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
            {},
            id="503-unavailable",
        ),
        pytest.param(
            429,
            "TooManyRequests",
            "Too many requests.",
            {"Retry-After": "30"},
            id="429-throttled",
        ),
    ],
)
async def test_a_membership_graph_does_not_make_goes_to_the_queue_as_a_ticket(
    people: tuple[ChatSession, ChatSession],
    graph: FakeGraph,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str],
) -> None:
    alex, dana = people
    card_id, data = await _card_reaches_dana(alex, dana)
    graph.fail_next(
        status,
        method="POST",
        path_contains="/members/$ref",
        code=code,
        message=message,
        headers=headers,
    )

    answer = await _approve(dana, card_id, data)

    # The refused add was Graph's last answer; its request id is the one to keep.
    assert graph.requests[-1][:2] == ("POST", MEMBERS_REF)
    refused_request_id = graph.last_request_id
    assert answer == ["Approved REQ1000001. Alex Employee has been told."]
    failure = f"graph add group member: {status} {code}: {message}"
    assert ALEX not in graph.members[PROJECT_GROUP]
    assert not await alex.services.directory.ais_member(PROJECT_GROUP, ALEX)
    await _assert_queued_not_granted(alex, await _news(alex), why=failure)
    [failed] = await audit_log(alex.services.db, outcome="failed")
    assert failed.detail == f"automatic step failed: {failure}"
    assert failed.subject_id == ALEX
    assert failed.backend_request_id == refused_request_id


async def test_an_add_graph_accepts_but_does_not_read_back_is_not_called_done(
    people: tuple[ChatSession, ChatSession], graph: FakeGraph
) -> None:
    alex, dana = people
    card_id, data = await _card_reaches_dana(alex, dana)
    # Graph takes the add, then checkMemberGroups does not list the group at
    # any of the bot's read-backs.
    graph.fail_next(
        200,
        method="POST",
        path_contains="/checkMemberGroups",
        raw_body='{"value": []}',
        times=len(workflow.READ_BACK_WAITS_S),
    )

    await _approve(dana, card_id, data)

    # Graph has him by now, but the bot could not see it: a person checks.
    assert len(_adds(graph)) == 1 and ALEX in graph.members[PROJECT_GROUP]
    await _assert_queued_not_granted(
        alex, await _news(alex), why="the membership did not read back"
    )
    [failed] = await audit_log(alex.services.db, outcome="failed")
    assert failed.detail == "automatic step failed: the membership did not read back"


async def test_a_catalogue_still_naming_the_embedded_group_id_grants_nothing(
    graph_settings: Callable[[str], Settings], graph: FakeGraph
) -> None:
    # The shipped catalogue names Project's group by the embedded directory's
    # id; on Graph that is no object id, so no group is found and a person at
    # the queue gets the request with the reason.
    settings = graph_settings(EMBEDDED_PROJECT_GROUP)
    async with (
        ChatSession(settings, as_user=ALEX) as alex,
        ChatSession(settings, as_user=DANA) as dana,
    ):
        await dana.say("hello")
        card_id, data = await _card_reaches_dana(alex, dana)

        answer = await _approve(dana, card_id, data)

        assert answer == ["Approved REQ1000001. Alex Employee has been told."]
        assert not any("/members/" in path for _, path, _ in graph.writes())
        assert ALEX not in graph.members[PROJECT_GROUP]
        await _assert_queued_not_granted(
            alex,
            await _news(alex),
            why=f"graph: no group '{EMBEDDED_PROJECT_GROUP}'",
        )


async def test_a_membership_that_shows_up_a_moment_late_is_still_done(
    people: tuple[ChatSession, ChatSession], graph: FakeGraph
) -> None:
    alex, dana = people
    card_id, data = await _card_reaches_dana(alex, dana)
    # The first read-back comes too early; the next one sees the member.
    graph.fail_next(
        200,
        method="POST",
        path_contains="/checkMemberGroups",
        raw_body='{"value": []}',
    )

    await _approve(dana, card_id, data)

    assert "you now have Microsoft Project Plan 3" in await _news(alex)
    [request] = await store.requests_of(alex.services.db, "local", ALEX)
    assert request.status == "fulfilled"
