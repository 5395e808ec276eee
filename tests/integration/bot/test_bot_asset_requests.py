"""Asset requests through ``/api/messages``: an employee asks, the manager
decides on a card in their own chat, the directory grants, the employee hears.

The real bot and copilot (offline model), the embedded directory (Alex's
manager is Dana Park, whose manager is Riley Chen) and ticket system, and
the local connector recording what each person's chat receives. Every test
runs on SQLite and, where it is reachable, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fakes.asset_chat import approval_card, ask_for_project, deliver, texts

from bot.app import TASKS_KEY
from bot.chat import ChatSession, message_activity, render
from tools.assets import requests as store
from tools.assets import workflow
from tools.audit import alist as audit_log
from tools.settings import load_settings

PROJECT_GROUP = "grp-sw-project"


@pytest.fixture
async def people(
    app_database_url: str | None,
) -> AsyncIterator[tuple[ChatSession, ChatSession]]:
    settings = load_settings(database_url=app_database_url)
    async with (
        ChatSession(settings) as alex,
        ChatSession(settings, as_user="dana-park") as dana,
    ):
        await dana.say("hello")  # Dana has a chat with the bot to be reached in
        yield alex, dana


async def _click(
    chat: ChatSession,
    card_id: str,
    data: dict[str, Any],
    *,
    approve: bool,
    comment: str = "",
    activity_id: str | None = None,
) -> list[str]:
    before = len(chat.connector.calls)
    value = {**data, "action": "asset_approve" if approve else "asset_reject"}
    if comment:
        value["comment"] = comment
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=chat.conversation_id,
        user=chat.user,
        text="",
        value=value,
        reply_to_id=card_id,
        activity_id=activity_id,
    )
    assert await chat.post(activity) == 200
    await chat._app[TASKS_KEY].join(wait_s=60)
    return [
        render(c.activity)[0]
        for c in chat.connector.calls[before:]
        if c.method == "POST"
    ]


async def _is_member(chat: ChatSession, group: str, user: str = "local-user") -> bool:
    return await chat.services.directory.ais_member(group, user)


async def test_a_software_request_approved_by_the_manager_is_granted(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)
    card = next(t for t in texts(dana) if "Approve Microsoft Project Plan 3" in t)
    for shown in (
        "Alex Employee",
        "to plan the Q1 product launch",
        "30.00 USD per month",
    ):
        assert shown in card

    answer = await _click(dana, card_id, data, approve=True, comment="go ahead")

    assert answer == ["Approved REQ1000001. Alex Employee has been told."]
    assert await _is_member(alex, PROJECT_GROUP)
    await deliver(alex)
    news = texts(alex)[-1]
    assert "Dana Park approved REQ1000001" in news
    assert "you now have Microsoft Project Plan 3" in news
    [request] = await store.requests_of(alex.services.db, "local", "local-user")
    assert request.status == "fulfilled"
    trail = " ".join(
        e.detail or "" for e in await audit_log(alex.services.db, limit=50)
    )
    assert "approved by Dana Park (manager): go ahead" in trail
    assert "fulfilled: added to SW-Project-Plan3" in trail


async def test_a_rejection_with_a_comment_reaches_the_employee_and_grants_nothing(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)

    answer = await _click(
        dana, card_id, data, approve=False, comment="not in this quarter's budget"
    )

    assert answer == ["Rejected REQ1000001. Alex Employee has been told."]
    assert not await _is_member(alex, PROJECT_GROUP)
    await deliver(alex)
    assert "not in this quarter's budget" in texts(alex)[-1]
    status = await alex.say("show my requests")
    assert "REQ1000001: Microsoft Project Plan 3: rejected" in render(status[-1])[0]


async def test_two_clicks_and_a_resent_activity_grant_once(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)

    first = await _click(dana, card_id, data, approve=True, activity_id="click-1")
    resent = await _click(dana, card_id, data, approve=True, activity_id="click-1")
    second = await _click(dana, card_id, data, approve=False, activity_id="click-2")

    assert first == ["Approved REQ1000001. Alex Employee has been told."]
    assert resent == []  # Teams' re-send: answered 200, nothing else
    assert second == ["REQ1000001 was already decided: done."]
    trail = [
        e
        for e in await audit_log(alex.services.db, limit=50)
        if (e.detail or "").startswith("fulfilled")
    ]
    assert len(trail) == 1


async def test_only_the_approver_asked_can_decide(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)

    # Alex forges Dana's click in his own chat.
    forged = await _click(alex, card_id, data, approve=True)

    assert forged == ["Only Dana Park can decide this request."]
    assert not await _is_member(alex, PROJECT_GROUP)


async def test_what_is_held_or_not_allowed_is_refused_before_anyone_is_asked(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    held = await alex.say("I need Visio")
    assert "You already have Microsoft Visio Plan 2" in render(held[0])[0]
    laptop = await alex.say("I need a developer laptop to compile our apps")
    assert "not available for your role or department" in render(laptop[0])[0]
    assert await store.requests_of(alex.services.db, "local", "local-user") == []
    await deliver(alex, dana)
    assert not any("Approve" in t for t in texts(dana))


async def test_an_undecided_request_is_reminded_then_escalated_to_the_approvers_manager(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    services = alex.services
    [request] = await store.requests_of(services.db, "local", "local-user")
    hours = services.settings.asset_remind_hours
    now = datetime.now(UTC)

    assert await workflow.run_reminders(services, now=now) == 0
    assert (
        await workflow.run_reminders(services, now=now + timedelta(hours=hours + 1))
        == 1
    )
    assert (
        await workflow.run_reminders(services, now=now + timedelta(hours=hours + 2))
        == 0
    )
    later = now + timedelta(hours=2 * hours + 3)
    assert await workflow.run_reminders(services, now=later) == 1

    asked = [
        (a.approver_name, a.role, a.status)
        for a in await store.approvals_of(services.db, request.seq)
    ]
    assert asked == [
        ("Dana Park", "manager", "pending"),
        ("Riley Chen", "escalated", "pending"),
    ]
    await deliver(alex, dana)
    assert any("Reminder: Approve Microsoft Project Plan 3" in t for t in texts(dana))

    # Riley decides first; Dana's card is then already decided.
    async with ChatSession(services.settings, as_user="riley-chen") as riley:
        await riley.say("hello")
        await deliver(riley)
        card_id, data = await approval_card(riley)
        assert (await _click(riley, card_id, data, approve=True))[0].startswith(
            "Approved REQ1000001"
        )
    card_id, data = await approval_card(dana)
    assert await _click(dana, card_id, data, approve=False) == [
        "REQ1000001 was already decided: done."
    ]
    assert await _is_member(alex, PROJECT_GROUP)


async def test_an_approved_laptop_goes_to_the_hardware_queue_as_a_ticket(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    card = await alex.say("my laptop is five years old, I need a new one")
    assert "Request Standard laptop" in render(card[-1])[0]
    await alex.say("1")
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)

    await _click(dana, card_id, data, approve=True)

    [request] = await store.requests_of(alex.services.db, "local", "local-user")
    assert request.status == "queued" and request.ticket
    ticket = await alex.services.tickets.aget(request.ticket)
    assert ticket.assignment_group == "Hardware Fulfilment"
    assert "Dell Latitude 7450" in ticket.description
    await deliver(alex)
    assert f"{request.ticket} went to Hardware Fulfilment" in texts(alex)[-1]


async def test_a_waiting_request_can_be_cancelled_and_its_card_then_decides_nothing(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await ask_for_project(alex)
    await deliver(alex, dana)
    card_id, data = await approval_card(dana)

    card = await alex.say("cancel my request")
    assert "Cancel REQ1000001" in render(card[-1])[0]
    done = await alex.say("1")
    assert "Cancelled REQ1000001" in render(done[-1])[0]

    late = await _click(dana, card_id, data, approve=True)
    assert late == ["REQ1000001 was already decided: cancelled."]
    assert not await _is_member(alex, PROJECT_GROUP)
    async with alex.services.db.connect() as conn:
        pending = (
            await conn.execute(
                sa.text("SELECT count(*) FROM asset_approvals WHERE status = 'pending'")
            )
        ).scalar_one()
    assert pending == 0


async def test_a_request_and_its_approval_survive_a_bot_restart(
    app_database_url: str | None,
) -> None:
    settings = load_settings(database_url=app_database_url)
    async with (
        ChatSession(settings) as alex,
        ChatSession(settings, as_user="dana-park") as dana,
    ):
        await dana.say("hello")
        await ask_for_project(alex)
        await deliver(alex, dana)
        card_id, data = await approval_card(dana)
    # Every bot process is gone; new ones start on the same database, and
    # Dana clicks the card she received before the restart.
    async with (
        ChatSession(settings) as alex,
        ChatSession(settings, as_user="dana-park") as dana,
    ):
        answer = await _click(dana, card_id, data, approve=True)
        assert answer == ["Approved REQ1000001. Alex Employee has been told."]
        again = await _click(dana, card_id, data, approve=True)
        assert again == ["REQ1000001 was already decided: done."]
        assert await _is_member(alex, PROJECT_GROUP)
        [request] = await store.requests_of(alex.services.db, "local", "local-user")
        assert request.status == "fulfilled"


async def test_an_approver_who_never_used_the_bot_gets_the_card_later_and_the_fallback_now(
    app_database_url: str | None,
) -> None:
    settings = load_settings(
        database_url=app_database_url,
        asset_fallback_approver="riley.chen@contoso.example",
    )
    async with (
        ChatSession(settings) as alex,
        ChatSession(settings, as_user="riley-chen") as riley,
    ):
        await riley.say("hello")
        asked = await alex.say("I need Microsoft Project")
        assert "Why do you need" in render(asked[-1])[0]
        await alex.say("to plan the Q1 product launch")
        done = await alex.say("1")
        assert (
            "or Riley Chen, as they have not used me in Teams yet"
            in render(done[-1])[0]
        )
        await deliver(alex, riley)
        assert any("fallback approver" in t for t in texts(riley))

        # Dana has never written to the bot: her card waits for her. Once she
        # does, it arrives, and the first decision (hers) counts.
        async with ChatSession(settings, as_user="dana-park") as dana:
            await dana.say("hello")
            await deliver(alex, dana)
            card_id, data = await approval_card(dana)
            answer = await _click(dana, card_id, data, approve=True)
            assert answer == ["Approved REQ1000001. Alex Employee has been told."]
        card_id, data = await approval_card(riley)
        assert await _click(riley, card_id, data, approve=True) == [
            "REQ1000001 was already decided: done."
        ]
        assert await _is_member(alex, PROJECT_GROUP)


async def test_an_approver_gets_the_waiting_card_as_soon_as_the_app_is_installed_for_them(
    app_database_url: str | None,
) -> None:
    settings = load_settings(database_url=app_database_url)
    async with ChatSession(settings) as alex:
        await ask_for_project(alex)
        await deliver(alex)  # Dana has no chat with the bot: the card waits
        async with ChatSession(settings, as_user="dana-park") as dana:
            # Installing the app for Dana: Teams adds the bot to her 1:1 chat.
            installed = message_activity(
                service_url=dana.connector.url,
                conversation_id=dana.conversation_id,
                user=dana.user,
                text=None,
                activity_id="install-1",
            )
            del installed["text"]
            installed["type"] = "conversationUpdate"
            installed["membersAdded"] = [{"id": installed["recipient"]["id"]}]
            assert await dana.post(installed) == 200
            await dana._app[TASKS_KEY].join(wait_s=60)
            await deliver(dana)

            card_id, data = await approval_card(dana)
            answer = await _click(dana, card_id, data, approve=True)
            assert answer == ["Approved REQ1000001. Alex Employee has been told."]


async def test_an_owner_asking_for_their_own_item_is_approved_by_their_manager(
    app_database_url: str | None,
) -> None:
    settings = load_settings(database_url=app_database_url)
    async with (
        ChatSession(settings, as_user="dana-park") as dana,
        ChatSession(settings, as_user="riley-chen") as riley,
    ):
        await riley.say("hello")
        await dana.say("add me to the finance shared mailbox")
        await dana.say("to cover for the finance team in January")
        done = await dana.say("1")
        assert "waiting for Riley Chen to approve it" in render(done[-1])[0]
        await deliver(dana, riley)
        card_id, data = await approval_card(riley)
        assert (await _click(riley, card_id, data, approve=True))[0].startswith(
            "Approved REQ1000001"
        )


async def test_giving_back_what_one_does_not_hold_changes_and_audits_nothing(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, _ = people
    said = await alex.say("I don't use Project any more, remove it")
    assert "nothing to give back" in render(said[-1])[0]
    trail = await audit_log(alex.services.db, tool="return_access")
    assert trail == []


async def test_a_wrong_request_number_or_a_new_question_does_not_trap_the_chat(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, _ = people
    wrong = await alex.say("cancel REQ9999999")
    assert "I can't find REQ9999999 among your requests" in render(wrong[-1])[0]
    asked = await alex.say("how do I connect to the VPN on Windows?")
    assert "knowledge base" in render(asked[0])[0]

    why = await alex.say("I need Microsoft Project")
    assert "Why do you need" in render(why[-1])[0]
    moved_on = await alex.say("actually, how do I set up the VPN on my Mac?")
    assert "Why you need it" not in render(moved_on[-1])[0]
    assert "knowledge base" in render(moved_on[0])[0]

    why = await alex.say("I need Microsoft Project")
    asked_anew = await alex.say("give me access to Confluence")
    said = " ".join(render(a)[0] for a in asked_anew)
    assert "Why you need it: give me access" not in said, "taken as the reason"
    assert "couldn't find" in said and "Confluence" in said


@pytest.mark.parametrize(
    ("said", "item"),
    [
        ("I need Figma", "Figma Professional"),
        ("I need Tableau", "Tableau Creator"),
        ("I need Visual Studio", "Visual Studio Enterprise"),
    ],
)
async def test_a_catalogue_item_can_be_asked_for_by_its_name(
    people: tuple[ChatSession, ChatSession], said: str, item: str
) -> None:
    alex, _ = people
    asked = await alex.say(said)
    assert f"Why do you need {item}" in render(asked[-1])[0]


async def test_a_password_typed_into_the_chat_is_stored_and_shown_nowhere(
    people: tuple[ChatSession, ChatSession],
) -> None:
    alex, dana = people
    await alex.say("I need Adobe Acrobat Pro")
    card = await alex.say(
        "design reviews with the product team; my new password will be Summer2024 by the way"
    )
    assert "design reviews with the product team" in render(card[-1])[0]
    await alex.say("1")
    await deliver(alex, dana)

    shown = " ".join(texts(alex) + texts(dana))
    assert "design reviews" in shown and "Summer2024" not in shown
    data_dir = alex.settings.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert b"Summer2024" not in path.read_bytes(), path.name
