"""Ticket conversations through ``/api/messages`` on the embedded service desk.

The real agent (offline model), the real ticket tools, the embedded ticket
system in the app database, the local directory with the demo organisation,
and the local connector capturing every reply.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.openai_server import serve_fake_openai, text, tool_call
from fakes.servicenow_server import PASSWORD, USER, serve_fake_servicenow

from bot.chat import ChatSession, message_activity, render
from tools.settings import Settings, load_settings
from tools.tickets.base import Caller, TicketDraft

AGENT = "Sam Rivera"


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
async def chat(settings: Settings) -> AsyncIterator[ChatSession]:
    async with ChatSession(settings) as session:
        yield session


def _text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(render(m)[0] for m in messages)


def _cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if render(m)[1]]


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = card["attachments"][0]["content"]["body"]
    return {e["id"]: e for e in body if e["type"].startswith("Input.")}


async def _click(
    chat: ChatSession, value: dict[str, Any], *, activity_id: str | None = None
) -> list[dict[str, Any]]:
    """Post a card submit as Teams does (the card's data merged with its inputs)."""
    before = len(chat.connector.calls)
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=chat.conversation_id,
        user=chat.user,
        text="",
        value=value,
        activity_id=activity_id,
        reply_to_id=chat._choice_cards[0] if chat._choice_cards else None,
    )
    assert await chat.post(activity) == 200
    return [
        c.activity
        for c in chat.connector.calls[before:]
        if c.method == "POST" and c.activity.get("type") == "message"
    ]


async def _tickets(chat: ChatSession, **filters: Any) -> list[Any]:
    return await chat.services.tickets.alist(open_only=False, **filters)


async def test_a_flickering_monitor_becomes_a_confirmed_ticket_with_the_transcript(
    chat: ChatSession,
) -> None:
    first = await chat.say("my monitor flickers")
    assert _cards(first) == []  # an answer first, not a ticket

    offered = await chat.say("that didn't help")
    [card] = _cards(offered)
    inputs = _inputs(card)
    assert inputs["field.short_description"]["value"] == "My monitor flickers"
    assert inputs["field.category"]["value"] == "hardware"
    assert await _tickets(chat) == []  # nothing before the confirmation

    # The employee sharpens the summary and the urgency on the card, then confirms.
    approve = dict(chat.choices[0])
    approve["field.short_description"] = "Second monitor flickers on the dock"
    approve["field.urgency"] = "high"
    done = await _click(chat, approve)

    [ticket] = await _tickets(chat)
    assert ticket.number == "INC0001001"
    assert f"Your ticket {ticket.number} is open" in _text(done)
    assert ticket.short_description == "Second monitor flickers on the dock"
    assert (ticket.urgency, ticket.category, ticket.caller.object_id) == (
        "high",
        "hardware",
        "local-user",
    )
    details = await chat.services.tickets.adetails(ticket.number)
    assert "Alex Employee: my monitor flickers" in details.transcript
    assert "Alex Employee: that didn't help" in details.transcript
    assert any(t.startswith("Showed the article") for t in details.tried)
    assert any("teams.microsoft.com/l/chat" in url for _, url in details.links)


async def test_status_and_a_comment_on_my_ticket(chat: ChatSession) -> None:
    await chat.say("my vpn keeps dropping every hour")
    await chat.say("open a ticket")
    await chat.say("1")
    [ticket] = await _tickets(chat)

    status = _text(await chat.say(f"what's the status of {ticket.number}"))
    assert f"{ticket.number}: " in status
    assert "State: New" in status

    asked = await chat.say(f"add to {ticket.number} that it also drops in the office")
    [card] = _cards(asked)
    assert "it also drops in the office" in _inputs(card)["field.comment"]["value"]
    told = _text(await chat.say("1"))
    assert f"Added your comment to {ticket.number}" in told
    again = await chat.services.tickets.aget(ticket.number)
    assert [c.body for c in again.comments] == ["it also drops in the office"]
    assert again.comments[0].from_caller


async def test_someone_elses_ticket_is_refused_like_a_missing_one(
    chat: ChatSession,
) -> None:
    theirs = await chat.services.tickets.acreate(
        TicketDraft(
            idempotency_key="dana-1",
            caller=Caller(
                object_id="dana-park",
                tenant_id="local",
                upn="dana.park@contoso.example",
                name="Dana Park",
            ),
            short_description="Dana's secret project laptop",
            description="private",
        )
    )
    status = _text(await chat.say(f"status of {theirs.number}"))
    comment = await chat.say(f"add to {theirs.number} that I can help")

    assert f"I can't find ticket {theirs.number} among your tickets" in status
    assert "secret project" not in status
    assert _cards(comment) == [] or all(
        "Add a comment" not in render(c)[0] for c in _cards(comment)
    )
    assert (await chat.services.tickets.aget(theirs.number)).comments == []


async def test_the_same_confirmation_posted_three_times_makes_one_ticket(
    chat: ChatSession,
) -> None:
    await chat.say("the printer on floor 3 jams all the time")
    await chat.say("open a ticket")
    click = dict(chat.choices[0])

    for _ in range(3):  # Teams re-sends the same activity (T1)
        await _click(chat, click, activity_id="1700000000001")
    await _click(chat, click)  # and a double click is a new activity

    assert len(await _tickets(chat)) == 1
    assert len(chat.services.registry.manifests) > 0


async def test_a_password_typed_in_the_chat_never_reaches_the_ticket(
    chat: ChatSession,
) -> None:
    await chat.say("Outlook rejects my password Winter2024! since this morning")
    await chat.say("open a ticket")
    await chat.say("1")

    [ticket] = await _tickets(chat)
    details = await chat.services.tickets.adetails(ticket.number)
    stored = repr(details)
    assert "Winter2024" not in stored
    assert "[redacted]" in details.transcript


async def test_staff_see_the_queue_and_employees_only_their_own(
    settings: Settings,
) -> None:
    async with ChatSession(settings) as alex:
        await alex.say("my laptop battery dies in an hour")
        await alex.say("open a ticket")
        await alex.say("1")
        mine = _text(await alex.say("show the ticket queue"))
    assert "Only the help-desk team can see the queue" in mine

    async with ChatSession(settings, as_user=AGENT) as sam:
        queue = _text(await sam.say("show the ticket queue"))
    assert "Open tickets in the queue:" in queue
    assert "Alex Employee" in queue


async def _news(chat: ChatSession) -> list[dict[str, Any]]:
    return await asyncio.wait_for(chat.wait_for_news(), 15)


async def test_a_resolved_ticket_is_news_and_no_reopens_it_once() -> None:
    async with ChatSession(load_settings(notify_poll_s=0.1)) as chat:
        await chat.say("my docking station does not charge the laptop, open a ticket")
        await chat.say("1")
        [ticket] = await _tickets(chat)

        # A technician resolves it from `helpdesk tickets` (same system, same event).
        await chat.services.tickets.aset_state(
            ticket.number, "resolved", by="Sam Rivera", note="Firmware updated."
        )
        [news] = await _news(chat)
        shown = render(news)[0]
        assert "Firmware updated." in shown
        assert "Did this fix it?" in shown

        told = _text(await chat.say("2"))  # "No, reopen it"
        again = _text(await chat.say("2"))
        reopened = await chat.services.tickets.aget(ticket.number)

    assert reopened.state == "in_progress"
    assert "reopen" in told.lower()
    assert "already" in again.lower()
    assert [c.body for c in reopened.comments if c.from_caller] == [
        "The employee says the resolution did not fix it."
    ]


async def test_servicenow_down_then_back_makes_one_ticket_and_tells_twice(
    tmp_path: Any,
) -> None:
    async with serve_fake_servicenow() as fake:
        fake.add_user("alex@contoso.example", "Alex Employee")
        settings = load_settings(
            ticket_backend="servicenow",
            servicenow_url=fake.url,
            servicenow_user=USER,
            servicenow_password=PASSWORD,
            servicenow_timeout_s=0.5,
            notify_poll_s=0.1,
        )
        fake.fail_next(503, path_contains="/api/now/table/incident")
        async with ChatSession(settings) as chat:
            await chat.say("my headset crackles in every call, open a ticket")
            first = _text(await chat.say("1"))
            [reference] = re.findall(r"HD-[A-Z2-7]{6}", first)
            assert "isn't answering right now" in first
            assert fake.incidents == []

            # ServiceNow is back: the outbox delivers and the employee hears the number.
            [news] = await _news(chat)
            [incident] = fake.incidents
            assert incident["number"] in render(news)[0]
            status = _text(await chat.say(f"status of {reference}"))

    assert len(fake.incidents) == 1
    assert incident["correlation_id"]
    assert incident["number"] in status


@pytest.mark.parametrize(
    "unhappy",
    [
        "that didn't help",
        "this is useless",
        "you are not helping me",
        "still not working",
    ],
)
async def test_an_unhappy_employee_is_offered_a_drafted_ticket(
    chat: ChatSession, unhappy: str
) -> None:
    answered = await chat.say("how do I connect to the VPN on Windows?")
    assert _cards(answered) == []

    [card] = _cards(await chat.say(unhappy))

    assert "Open a ticket with the IT service desk" in render(card)[0]
    assert "VPN" in _inputs(card)["field.short_description"]["value"]


async def test_a_how_to_question_about_tickets_is_answered_not_acted_on(
    chat: ChatSession,
) -> None:
    said = await chat.say("how do I open a ticket?")

    assert _cards(said) == []


async def test_a_language_model_drafts_the_ticket_and_the_employee_confirms_it() -> (
    None
):
    """With an OpenAI-compatible model the draft is the model's; the card shows
    it, the transcript goes along, and a password the model copied is redacted."""
    drafted = {
        "short_description": "Docking station stopped charging the laptop",
        "description": "Since Monday the dock no longer charges. Password Summer2025!",
        "category": "hardware",
        "urgency": "high",
        "impact": "low",
        "service": "Docking station",
    }
    async with serve_fake_openai(
        tool_call("create_ticket", drafted),
        text("I've sent it to the service desk."),
    ) as model:
        settings = load_settings(
            model_provider="openai", model_base_url=model.base_url, model_api_key="k"
        )
        async with ChatSession(settings) as chat:
            [card] = _cards(await chat.say("my dock doesn't charge, raise a ticket"))
            shown = _inputs(card)
            await chat.say("1")
            [ticket] = await _tickets(chat)
            details = await chat.services.tickets.adetails(ticket.number)

    assert shown["field.short_description"]["value"] == drafted["short_description"]
    assert shown["field.urgency"]["value"] == "high"
    assert "Summer2025" not in shown["field.description"]["value"]
    assert ticket.short_description == drafted["short_description"]
    assert "Summer2025" not in repr(details)
    assert "my dock doesn't charge" in details.transcript
    # The model saw the tool's schema, never the employee's identity.
    sent = model.requests[0].body
    assert any(t["function"]["name"] == "create_ticket" for t in sent["tools"])


async def test_the_answer_to_a_technicians_question_goes_on_the_ticket_once() -> None:
    async with ChatSession(load_settings(notify_poll_s=0.1)) as chat:
        await chat.say("my monitor flickers, open a ticket")
        await chat.say("1")
        [ticket] = await _tickets(chat)
        await chat.services.tickets.aset_state(
            ticket.number, "on_hold", by="Sam Rivera", note="Which monitor model?"
        )
        [news] = await _news(chat)
        assert "Which monitor model?" in render(news)[0]

        told = _text(await chat.say("1 It is a Dell U2720Q"))
        again = _text(await chat.say("1 It is a Dell U2720Q"))
        answered = await chat.services.tickets.aget(ticket.number)

    assert f"it is on {ticket.number} now" in told
    assert "already sent" in again
    assert answered.state == "in_progress"
    assert [c.body for c in answered.comments if c.from_caller] == [
        "It is a Dell U2720Q"
    ]


async def test_a_help_desk_comment_from_the_chat_reaches_the_employee(
    settings: Settings,
) -> None:
    async with ChatSession(load_settings(notify_poll_s=0.1)) as alex:
        await alex.say("my laptop fan is very loud, open a ticket")
        await alex.say("1")
        [ticket] = await _tickets(alex)

        async with ChatSession(alex.settings, as_user=AGENT) as sam:
            await sam.say(f"add to {ticket.number} that we are ordering a new fan")
            await sam.say("1")

        [news] = await _news(alex)
        stored = await alex.services.tickets.aget(ticket.number)

    assert "we are ordering a new fan" in render(news)[0]
    [comment] = stored.comments
    assert (comment.author, comment.from_caller) == ("Sam Rivera", False)
