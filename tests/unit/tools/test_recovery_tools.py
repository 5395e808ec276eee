"""Recovery tools on the local directory, through the registry: who may act on
whom, approvals, limits, one-time secrets and the audit record of each call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.recovery_harness import ScriptedApprover, call_tool, open_recovery_services

from tools.audit import alist
from tools.directory.local import LocalDirectory
from tools.identity import Requester
from tools.services import Services
from tools.settings import PROJECT_ROOT, load_settings

SEED = PROJECT_ROOT / "manifests" / "directory.yaml"


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def _as(object_id: str, tenant: str) -> Requester:
    return Requester(object_id=object_id, tenant_id=tenant)


async def _local(engine: object) -> LocalDirectory:
    directory = LocalDirectory(engine)  # type: ignore[arg-type]
    await directory.aseed_if_empty(SEED)
    return directory


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    async with open_recovery_services(load_settings(), _local) as opened:
        yield opened


async def _audit(services: Services, tenant: str) -> list[tuple[str, str, str]]:
    events = await alist(services.db, tenant_id=tenant)
    return [(e.tool, e.subject_id, e.outcome) for e in events]


async def test_self_service_pass_is_revealed_once_and_not_in_the_content(
    services: Services, tenant: str
) -> None:
    approver = ScriptedApprover()
    thread = "thread-alex"

    message = await call_tool(
        services,
        "issue_temporary_access_pass",
        {},
        _as("local-user", tenant),
        approver=approver,
        thread_id=thread,
    )

    [secret] = services.secrets.take(thread)
    assert secret.subject_id == "local-user"
    assert len(secret.value.reveal()) >= 12
    assert secret.value.reveal() not in str(message.content)
    assert secret.value.reveal() not in str(message.artifact)
    assert "privately, once" in str(message.content)
    assert services.secrets.take(thread) == []
    [asked] = approver.asked
    assert asked.approver_id == "local-user"
    assert asked.title == "Issue a Temporary Access Pass"
    assert asked.action == (
        "Issue a one-time Temporary Access Pass for Alex Employee "
        "(alex@contoso.example), valid 60 minutes."
    )
    assert message.artifact["user_message"].startswith("Done: A Temporary Access")
    assert "never" not in message.artifact["user_message"].lower()
    [event] = await alist(services.db, tenant_id=tenant)
    assert (event.outcome, event.subject_id) == ("success", "local-user")
    assert event.approval_id == asked.approval_id or event.approval_id is None
    assert secret.value.reveal() not in repr(event)


async def test_managers_password_is_refused_without_asking(
    services: Services, tenant: str
) -> None:
    approver = ScriptedApprover()

    message = await call_tool(
        services,
        "set_temporary_password",
        {"user": "Dana Park"},
        _as("local-user", tenant),
        approver=approver,
    )

    assert "only do that for your own account" in str(message.content)
    assert "Do not try this again" in str(message.content)
    assert approver.asked == []
    assert await _audit(services, tenant) == [
        ("set_temporary_password", "Dana Park", "refused")
    ]


async def test_helpdesk_agent_with_a_reason_acts_on_another_user(
    services: Services, tenant: str
) -> None:
    approver = ScriptedApprover()
    thread = "thread-sam"

    message = await call_tool(
        services,
        "set_temporary_password",
        {"user": "priya.shah@contoso.example", "reason": "new laptop, locked out"},
        _as("sam-rivera", tenant),
        approver=approver,
        thread_id=thread,
    )

    assert str(message.content).startswith("Done: A temporary password was set")
    [asked] = approver.asked
    assert asked.subject_id == "priya-shah"
    assert asked.approver_id == "sam-rivera"
    assert ("Reason", "new laptop, locked out") in asked.facts
    [secret] = services.secrets.take(thread)
    assert secret.subject_id == "sam-rivera"
    assert await _audit(services, tenant) == [
        ("set_temporary_password", "priya-shah", "success")
    ]


async def test_helpdesk_agent_without_a_reason_is_refused(
    services: Services, tenant: str
) -> None:
    approver = ScriptedApprover()

    message = await call_tool(
        services,
        "revoke_sessions",
        {"user": "Priya Shah"},
        _as("sam-rivera", tenant),
        approver=approver,
    )

    assert "needs a reason" in str(message.content)
    assert approver.asked == []
    assert [o for *_, o in await _audit(services, tenant)] == ["refused"]


@pytest.mark.parametrize(
    ("requester", "args"),
    [
        pytest.param("morgan-lee", {}, id="self-service-admin"),
        pytest.param(
            "sam-rivera", {"user": "Morgan Lee", "reason": "locked out"}, id="agent"
        ),
    ],
)
async def test_privileged_account_goes_to_a_person(
    services: Services, tenant: str, requester: str, args: dict[str, str]
) -> None:
    approver = ScriptedApprover()

    message = await call_tool(
        services,
        "issue_temporary_access_pass",
        args,
        _as(requester, tenant),
        approver=approver,
    )

    assert "needs a person from IT" in str(message.content)
    assert approver.asked == []
    assert await _audit(services, tenant) == [
        ("issue_temporary_access_pass", "morgan-lee", "refused")
    ]


async def test_daily_limit_says_when_it_resets(services: Services, tenant: str) -> None:
    me = _as("local-user", tenant)
    approver = ScriptedApprover()
    await call_tool(services, "issue_temporary_access_pass", {}, me, approver=approver)

    message = await call_tool(
        services, "issue_temporary_access_pass", {}, me, approver=approver
    )

    assert "once a day" in str(message.content)
    assert "resets at" in str(message.content)
    assert len(approver.asked) == 1
    assert [o for *_, o in await _audit(services, tenant)] == ["limited", "success"]


async def test_declined_approval_changes_nothing(
    services: Services, tenant: str
) -> None:
    before = await services.directory.aget_user("chris-novak")
    thread = "thread-decline"

    message = await call_tool(
        services,
        "set_temporary_password",
        {},
        _as("chris-novak", tenant),
        approver=ScriptedApprover(approve=False),
        thread_id=thread,
    )

    assert "declined" in str(message.content)
    assert await services.directory.aget_user("chris-novak") == before
    assert services.secrets.take(thread) == []
    [event] = await alist(services.db, tenant_id=tenant)
    assert event.outcome == "declined"
    assert event.approval_id


async def test_group_chat_is_refused_before_approval(
    services: Services, tenant: str
) -> None:
    approver = ScriptedApprover()

    message = await call_tool(
        services,
        "issue_temporary_access_pass",
        {},
        _as("local-user", tenant),
        approver=approver,
        private_chat=False,
    )

    assert "private chat" in str(message.content)
    assert approver.asked == []
    assert [o for *_, o in await _audit(services, tenant)] == ["refused"]


async def test_disabled_method_names_what_is_offered(tenant: str) -> None:
    settings = load_settings(recovery_methods=["sspr", "revoke"])
    async with open_recovery_services(settings, _local) as services:
        message = await call_tool(
            services,
            "issue_temporary_access_pass",
            {},
            _as("local-user", tenant),
            approver=ScriptedApprover(),
        )

    assert "does not offer a Temporary Access Pass" in str(message.content)
    assert "self-service password reset" in str(message.content)


async def test_revoke_for_a_lost_phone_needs_no_private_chat(
    services: Services, tenant: str
) -> None:
    message = await call_tool(
        services,
        "revoke_sessions",
        {},
        _as("local-user", tenant),
        approver=ScriptedApprover(),
        private_chat=False,
    )

    assert "signed out of every app and device" in str(message.content)
    assert await _audit(services, tenant) == [
        ("revoke_sessions", "local-user", "success")
    ]


async def test_diagnose_and_self_service_reset_change_nothing(
    services: Services, tenant: str
) -> None:
    me = _as("local-user", tenant)

    diagnosis = await call_tool(services, "diagnose_sign_in", {}, me)
    reset = await call_tool(services, "self_service_reset", {}, me)

    assert "Sign-in is allowed" in str(diagnosis.content)
    assert "Microsoft Authenticator" in str(diagnosis.content)
    assert "Next step: reset the password yourself" in str(diagnosis.content)
    assert "https://passwordreset.microsoftonline.com" in str(reset.content)
    assert "alex@contoso.example" in str(reset.content)
    assert await _audit(services, tenant) == []


async def test_pass_value_is_not_in_the_database_file(
    services: Services, tenant: str
) -> None:
    thread = "thread-bytes"
    await call_tool(
        services,
        "issue_temporary_access_pass",
        {},
        _as("local-user", tenant),
        approver=ScriptedApprover(),
        thread_id=thread,
    )
    [secret] = services.secrets.take(thread)
    await services.db.dispose()  # flush the WAL into the main file

    stored = await asyncio.to_thread(_database_bytes, services.settings.data_dir)

    assert stored
    assert secret.value.reveal().encode() not in stored


def _database_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in Path(folder).glob("helpdesk.db*"))
