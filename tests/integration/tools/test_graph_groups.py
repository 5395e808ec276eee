"""Group membership on the Graph directory, through the real msgraph-sdk against a
local Graph server: requests as Graph expects them, idempotence, faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from fakes.graph_server import FakeGraph, FixedTokenCredential

from tools.directory.graph import GraphDirectory
from tools.errors import BackendUnavailable, ConfigError, NotFound, PermissionDenied

VISIO = "6f1c2d3e-0000-4000-8000-00000000a001"
SALES_TEAM = "6f1c2d3e-0000-4000-8000-00000000a002"
ALL_STAFF = "6f1c2d3e-0000-4000-8000-00000000a003"
FINANCE_MAILBOX = "6f1c2d3e-0000-4000-8000-00000000a004"
SYNCED = "6f1c2d3e-0000-4000-8000-00000000a005"
ADMINS = "6f1c2d3e-0000-4000-8000-00000000a006"
MISSING = "6f1c2d3e-0000-4000-8000-00000000dead"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    fake.add_user("u-alex", "alex@contoso.example", "Alex Employee", manager="u-dana")
    fake.add_user("u-dana", "dana@contoso.example", "Dana Park")
    fake.add_group(VISIO, "SW-Visio-Plan2", members=["u-dana"])
    fake.add_group(SALES_TEAM, "Sales Team", kind="microsoft365")
    fake.add_group(ALL_STAFF, "All Staff Announcements", kind="distribution")
    fake.add_group(
        FINANCE_MAILBOX, "Finance Shared Mailbox Access", kind="mail_enabled_security"
    )
    fake.add_group(SYNCED, "VPN Users (AD)", synced=True)
    fake.add_group(ADMINS, "Helpdesk Admins", role_assignable=True)
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base_url = f"http://127.0.0.1:{port}/v1.0"
    yield fake
    await runner.cleanup()


@pytest.fixture
async def directory(graph: FakeGraph) -> AsyncIterator[GraphDirectory]:
    opened = GraphDirectory(
        FixedTokenCredential(), base_url=graph.base_url, timeout_s=5
    )
    yield opened
    await opened.aclose()


async def test_group_by_id_or_display_name_with_its_kind(
    directory: GraphDirectory,
) -> None:
    by_id = await directory.aget_group(VISIO)
    by_name = await directory.aget_group("sw-visio-plan2")
    team = await directory.aget_group(SALES_TEAM)
    dl = await directory.aget_group("All Staff Announcements")

    assert by_id == by_name
    assert (by_id.display_name, by_id.kind, by_id.membership_writable) == (
        "SW-Visio-Plan2",
        "security",
        True,
    )
    assert (team.kind, team.membership_writable) == ("microsoft365", True)
    assert (dl.kind, dl.mail, dl.membership_writable) == (
        "distribution",
        "allstaffannouncements@contoso.example",
        False,
    )
    assert not (await directory.aget_group(SYNCED)).membership_writable
    assert not (await directory.aget_group(ADMINS)).membership_writable


async def test_add_posts_a_directory_object_reference(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    added = await directory.aadd_member(VISIO, "u-alex")

    assert added is True
    assert graph.writes() == [
        (
            "POST",
            f"/v1.0/groups/{VISIO}/members/$ref",
            {"@odata.id": f"{graph.base_url}/directoryObjects/u-alex"},
        )
    ]
    assert await directory.ais_member(VISIO, "u-alex")
    assert VISIO in [g.object_id for g in await directory.alist_member_groups("u-alex")]


async def test_adding_an_existing_member_is_success_not_an_error(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    first = await directory.aadd_member(VISIO, "u-alex")
    again = await directory.aadd_member(VISIO, "u-alex")

    assert (first, again) == (True, False)
    # Graph itself answered the second one 400 "already exist".
    assert [m for m, *_ in graph.writes()] == ["POST", "POST"]
    assert graph.members[VISIO] == {"u-dana", "u-alex"}


async def test_remove_and_remove_again(
    graph: FakeGraph, directory: GraphDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tools.directory.graph")

    removed = await directory.aremove_member(VISIO, "u-dana")
    again = await directory.aremove_member(VISIO, "u-dana")

    assert (removed, again) == (True, False)
    assert graph.writes()[0][:2] == (
        "DELETE",
        f"/v1.0/groups/{VISIO}/members/u-dana/$ref",
    )
    assert not await directory.ais_member(VISIO, "u-dana")
    assert await directory.alist_member_groups("u-dana") == []
    # The person's id stays out of the request log lines.
    deletes = [r.getMessage() for r in caplog.records if "DELETE" in r.getMessage()]
    assert deletes and all("u-dana" not in line for line in deletes)


async def test_membership_check_and_manager_for_an_approval(
    directory: GraphDirectory,
) -> None:
    assert await directory.ais_member(VISIO, "u-dana")
    assert not await directory.ais_member(VISIO, "u-alex")
    manager = await directory.aget_manager("u-alex")
    assert manager is not None and manager.upn == "dana@contoso.example"


async def test_member_groups_follow_every_page(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    graph.page_size = 1
    for group in (SALES_TEAM, SYNCED):
        graph.members[group].add("u-dana")

    groups = await directory.alist_member_groups("u-dana")

    assert {g.object_id for g in groups} == {VISIO, SALES_TEAM, SYNCED}
    assert len([r for r in graph.requests if "memberOf" in r[1]]) == 3


@pytest.mark.parametrize(
    "group",
    [
        pytest.param(ALL_STAFF, id="distribution-list"),
        pytest.param(FINANCE_MAILBOX, id="mail-enabled-security"),
        pytest.param(SYNCED, id="synced-from-ad"),
        pytest.param(ADMINS, id="role-assignable"),
    ],
)
async def test_groups_graph_cannot_change_go_to_a_person_before_any_write(
    graph: FakeGraph, directory: GraphDirectory, group: str
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await directory.aadd_member(group, "u-alex")

    assert "a person from IT support has to do it" in caught.value.user_message
    assert graph.writes() == []


async def test_graphs_own_mail_enabled_refusal_goes_to_a_person(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    # The group became mail-enabled after it was read: Graph's 400 is the last line.
    graph.fail_next(
        400,
        method="POST",
        path_contains="/members/$ref",
        code="Request_BadRequest",
        message="Cannot Update a mail-enabled security groups and or "
        "distribution list.",
    )

    with pytest.raises(PermissionDenied) as caught:
        await directory.aadd_member(VISIO, "u-alex")

    assert "a person from IT support has to do it" in caught.value.user_message
    assert caught.value.request_id == graph.last_request_id


async def test_forbidden_keeps_graphs_request_id_and_logs_it(
    graph: FakeGraph, directory: GraphDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tools.directory.graph")
    graph.fail_next(
        403,
        method="POST",
        path_contains="/members/",
        code="Authorization_RequestDenied",
    )

    with pytest.raises(PermissionDenied) as caught:
        await directory.aadd_member(VISIO, "u-alex")

    request_id = graph.last_request_id
    assert caught.value.request_id == request_id
    assert "Authorization_RequestDenied" in str(caught.value)
    assert "a person from IT support" in caught.value.user_message
    lines = [r.getMessage() for r in caplog.records]
    assert any("403" in line and request_id in line for line in lines)
    assert not any("u-alex" in line for line in lines)


async def test_throttled_add_says_when_to_retry(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    graph.fail_next(
        429, method="POST", path_contains="/members/", headers={"Retry-After": "30"}
    )

    with pytest.raises(BackendUnavailable) as caught:
        await directory.aadd_member(VISIO, "u-alex")

    assert caught.value.retry_after == 30
    assert caught.value.request_id == graph.last_request_id
    assert "u-alex" not in graph.members[VISIO]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param("get", NotFound, id="get-by-id"),
        pytest.param("add", NotFound, id="add"),
        pytest.param("remove", NotFound, id="remove"),
    ],
)
async def test_unknown_group_is_not_found(
    graph: FakeGraph, directory: GraphDirectory, call: str, expected: type[Exception]
) -> None:
    with pytest.raises(expected) as caught:
        if call == "get":
            await directory.aget_group(MISSING)
        elif call == "add":
            await directory.aadd_member(MISSING, "u-alex")
        else:
            await directory.aremove_member(MISSING, "u-alex")

    assert "group" in caught.value.user_message  # type: ignore[attr-defined]
    assert graph.writes() == []


async def test_unknown_group_name_and_unknown_user(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    with pytest.raises(NotFound, match="no group 'Nope'"):
        await directory.aget_group("Nope")
    with pytest.raises(NotFound):
        await directory.aadd_member(VISIO, "u-nobody")


async def test_two_groups_with_one_name_is_a_catalogue_problem(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    graph.add_group(MISSING, "SW-Visio-Plan2")

    with pytest.raises(ConfigError, match="by object id"):
        await directory.aget_group("SW-Visio-Plan2")


async def test_server_error_on_remove_is_not_taken_for_not_a_member(
    graph: FakeGraph, directory: GraphDirectory
) -> None:
    graph.fail_next(503, method="DELETE")

    with pytest.raises(BackendUnavailable):
        await directory.aremove_member(VISIO, "u-dana")

    assert "u-dana" in graph.members[VISIO]
