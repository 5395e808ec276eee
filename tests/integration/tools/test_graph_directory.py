"""The Graph directory through the real msgraph-sdk against a local Graph server,
and the recovery tools on it: requests as Graph expects them, faults (T8)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from fakes.graph_server import FakeGraph, FixedTokenCredential
from fakes.recovery_harness import ScriptedApprover, call_tool, open_recovery_services

from tools.audit import alist
from tools.directory import open_directory
from tools.directory.graph import GraphDirectory
from tools.errors import BackendUnavailable, ConfigError, NotFound, PermissionDenied
from tools.identity import Requester
from tools.services import Services
from tools.settings import load_settings

ADMIN_UPN = "admin@contoso.example"


@dataclass
class Served:
    graph: FakeGraph
    base_url: str


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    graph = FakeGraph()
    graph.add_user(
        "u-alex",
        "alex@contoso.example",
        "Alex Employee",
        manager="u-dana",
        methods=["authenticator", "phone", "password"],
    )
    graph.add_user("u-dana", "dana@contoso.example", "Dana Park")
    graph.add_user(
        "u-sam", "sam@contoso.example", "Sam Rivera", roles=["Helpdesk Administrator"]
    )
    graph.add_user("u-admin", ADMIN_UPN, "Ada Admin", roles=["Global Administrator"])
    graph.add_user("u-lee", "lee@contoso.example", "Lee Shy")
    runner = web.AppRunner(graph.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Served(graph, f"http://127.0.0.1:{port}/v1.0")
    await runner.cleanup()


def _directory(served: Served, *, timeout_s: float = 5.0) -> GraphDirectory:
    return GraphDirectory(
        FixedTokenCredential(),
        base_url=served.base_url,
        timeout_s=timeout_s,
        helpdesk_role_names=["Helpdesk Administrator"],
    )


@pytest.fixture
async def directory(served: Served) -> AsyncIterator[GraphDirectory]:
    graph_directory = _directory(served)
    yield graph_directory
    await graph_directory.aclose()


async def test_user_has_roles_manager_and_methods_in_plain_words(
    directory: GraphDirectory,
) -> None:
    alex = await directory.aget_user("alex@contoso.example")
    sam = await directory.aget_user("u-sam")
    admin = await directory.aget_user("u-admin")

    assert alex.object_id == "u-alex"
    assert alex.manager_id == "u-dana"
    assert alex.methods == ("Microsoft Authenticator", "phone ending 0142", "password")
    assert (alex.roles, alex.privileged) == (frozenset(), False)
    assert (sam.roles, sam.privileged) == (frozenset({"helpdesk"}), False)
    assert admin.privileged
    assert (await directory.aget_manager("u-alex")).display_name == "Dana Park"  # type: ignore[union-attr]
    assert [u.object_id for u in await directory.afind_users("Dana")] == ["u-dana"]


async def test_pass_request_carries_lifetime_and_one_time_use(
    served: Served, directory: GraphDirectory
) -> None:
    created = await directory.acreate_temporary_access_pass(
        "u-alex", lifetime_minutes=60, one_time=True
    )

    assert created.value.reveal().startswith("TAPvalue")
    [write] = served.graph.writes()
    assert write[:2] == (
        "POST",
        "/v1.0/users/u-alex/authentication/temporaryAccessPassMethods",
    )
    assert write[2]["lifetimeInMinutes"] == 60
    assert write[2]["isUsableOnce"] is True


async def test_existing_pass_is_deleted_when_graph_says_so(
    served: Served, directory: GraphDirectory
) -> None:
    served.graph.one_pass_only = True
    await directory.acreate_temporary_access_pass(
        "u-alex", lifetime_minutes=60, one_time=True
    )

    await directory.acreate_temporary_access_pass(
        "u-alex", lifetime_minutes=60, one_time=True
    )

    assert [m for m, *_ in served.graph.writes()] == ["POST", "POST", "DELETE", "POST"]


async def test_temporary_password_forces_a_change(
    served: Served, directory: GraphDirectory
) -> None:
    value = await directory.aset_temporary_password("u-alex")

    [(method, path, body)] = served.graph.writes()
    assert (method, path) == ("PATCH", "/v1.0/users/u-alex")
    assert body["passwordProfile"]["forceChangePasswordNextSignIn"] is True
    assert body["passwordProfile"]["password"] == value.reveal()


async def test_revoke_posts_revoke_sign_in_sessions(
    served: Served, directory: GraphDirectory
) -> None:
    await directory.arevoke_sessions("u-alex")

    assert served.graph.writes() == [
        ("POST", "/v1.0/users/u-alex/revokeSignInSessions", None)
    ]


async def test_forbidden_keeps_graphs_request_id_and_logs_it(
    served: Served, directory: GraphDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    served.graph.deny_upns.add(ADMIN_UPN)
    caplog.set_level(logging.INFO, logger="tools.directory.graph")

    with pytest.raises(PermissionDenied) as caught:
        await directory.aset_temporary_password(ADMIN_UPN)

    request_id = served.graph.last_request_id
    assert caught.value.request_id == request_id
    assert "Authorization_RequestDenied" in str(caught.value)
    assert any(
        "403" in r.getMessage() and request_id in r.getMessage() for r in caplog.records
    )
    assert not any("password" in r.getMessage().lower() for r in caplog.records)


@pytest.mark.parametrize(
    ("status", "headers", "raw_body", "expected"),
    [
        pytest.param(404, {}, None, NotFound, id="404"),
        pytest.param(401, {}, None, ConfigError, id="401"),
        pytest.param(429, {"Retry-After": "120"}, None, BackendUnavailable, id="429"),
        pytest.param(500, {}, None, BackendUnavailable, id="500"),
        pytest.param(200, {}, "{not json", BackendUnavailable, id="malformed"),
    ],
)
async def test_faults_are_translated_once(
    served: Served,
    directory: GraphDirectory,
    status: int,
    headers: dict[str, str],
    raw_body: str | None,
    expected: type[Exception],
) -> None:
    served.graph.fail_next(status, headers=headers, raw_body=raw_body)

    with pytest.raises(expected) as caught:
        await directory.aget_user("u-alex")

    if status == 429:
        assert caught.value.retry_after == 120  # type: ignore[attr-defined]
    if raw_body is None:
        assert caught.value.request_id == served.graph.last_request_id  # type: ignore[attr-defined]


async def test_slow_answer_times_out(served: Served) -> None:
    directory = _directory(served, timeout_s=0.3)
    served.graph.slow_next(2.0)
    try:
        with pytest.raises(BackendUnavailable, match="no answer within"):
            await directory.aget_user("u-alex")
    finally:
        await directory.aclose()


# -- the tools on Graph ---------------------------------------------------------------


@pytest.fixture
async def services(served: Served) -> AsyncIterator[Services]:
    settings = load_settings(
        directory_backend="graph",
        graph_base_url=served.base_url,
        graph_tenant_id="tenant",
        graph_client_id="client",
        graph_client_secret="unused",
        graph_timeout_s=0.5,
        helpdesk_role_names=["Helpdesk Administrator"],
    )

    async def factory(engine: object) -> GraphDirectory:
        return _directory(served, timeout_s=0.5)

    async with open_recovery_services(settings, factory) as opened:
        yield opened


def _as(object_id: str) -> Requester:
    return Requester(object_id=object_id, tenant_id=f"t-{uuid.uuid4().hex[:8]}")


async def test_self_service_pass_on_graph(served: Served, services: Services) -> None:
    thread = "thread-graph"

    message = await call_tool(
        services,
        "issue_temporary_access_pass",
        {},
        _as("u-alex"),
        approver=ScriptedApprover(),
        thread_id=thread,
    )

    [secret] = services.secrets.take(thread)
    assert secret.value.reveal() not in str(message.content)
    assert str(message.content).startswith("Done:")


async def test_graph_refusal_is_never_a_success(
    served: Served, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    # A helpdesk agent on an account Graph protects but the directory roles do
    # not flag: Graph's own 403 is the last line.
    served.graph.deny_upns.add("lee@contoso.example")
    caplog.set_level(logging.INFO)
    sam = _as("u-sam")

    message = await call_tool(
        services,
        "set_temporary_password",
        {"user": "lee@contoso.example", "reason": "locked out"},
        sam,
        approver=ScriptedApprover(),
    )

    content = str(message.content)
    assert "needs a person from IT support" in content
    assert "Done" not in content
    assert "Do not try this again" in content
    [event] = await alist(services.db, tenant_id=sam.tenant_id)
    assert (event.outcome, event.subject_id) == ("failed", "u-lee")
    assert event.backend_request_id == served.graph.last_request_id
    assert any(served.graph.last_request_id in r.getMessage() for r in caplog.records)


async def test_privileged_admin_is_refused_before_graph_is_asked(
    served: Served, services: Services
) -> None:
    message = await call_tool(
        services,
        "issue_temporary_access_pass",
        {},
        _as("u-admin"),
        approver=ScriptedApprover(),
    )

    assert "needs a person from IT" in str(message.content)
    assert served.graph.writes() == []


@pytest.mark.parametrize(
    ("status", "headers", "words"),
    [
        pytest.param(404, {}, "was not found", id="404"),
        pytest.param(429, {"Retry-After": "120"}, "in about 2 minutes", id="429"),
    ],
)
async def test_backend_faults_after_approval_say_what_to_do(
    served: Served,
    services: Services,
    status: int,
    headers: dict[str, str],
    words: str,
) -> None:
    served.graph.fail_next(status, method="POST", headers=headers)

    message = await call_tool(
        services, "revoke_sessions", {}, _as("u-alex"), approver=ScriptedApprover()
    )

    assert words in str(message.content)
    assert "Done" not in str(message.content)


async def test_timeout_after_approval_is_not_a_success(
    served: Served, services: Services
) -> None:
    served.graph.slow_next(2.0, path_contains="revokeSignInSessions")

    message = await call_tool(
        services, "revoke_sessions", {}, _as("u-alex"), approver=ScriptedApprover()
    )

    assert "did not confirm the change" in str(message.content)


async def test_open_directory_builds_graph_from_settings(served: Served) -> None:
    settings = load_settings(
        directory_backend="graph",
        graph_base_url=served.base_url,
        graph_tenant_id="tenant",
        graph_client_id="client",
        graph_client_secret="unused",
    )
    async with open_directory(
        settings,
        engine=None,
        credential=FixedTokenCredential(),  # type: ignore[arg-type]
    ) as directory:
        assert (await directory.aget_user("u-alex")).display_name == "Alex Employee"
