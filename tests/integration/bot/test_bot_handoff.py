"""Live hand-off through ``/api/messages``: the agents' channel, the card, the
relay both ways, the end, and a hand-off nobody took.

The real bot and copilot (offline model), the embedded ticket system and the
demo directory (Sam Rivera has the helpdesk role), and the local connector
recording what the bot sends to the employee's chat and to the channel.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.file_server import PNG, serve_files

from bot import replies
from bot.app import HANDLER_KEY, HANDOFF_JOBS_KEY, TASKS_KEY
from bot.chat import ChatSession, ChatUser, message_activity, render
from bot.connector import Recorded
from bot.handoff import LEFT, WAITING_NOTED, HandoffDesk
from bot.inbound import parse_activity
from tools.handoff import store
from tools.handoff.base import Handoff
from tools.settings import load_settings

CHANNEL = "19:helpdesk-agents@thread.tacv2"
SAM = ChatUser(id="sam-rivera", name="Sam Rivera")
MORGAN = ChatUser(id="morgan-lee", name="Morgan Lee")


@pytest.fixture
async def chat(app_database_url: str | None) -> AsyncIterator[ChatSession]:
    settings = load_settings(database_url=app_database_url)
    async with ChatSession(settings) as session:
        yield session


async def _post(
    chat: ChatSession,
    user: ChatUser,
    conversation_id: str,
    text: str,
    *,
    value: Any = None,
    reply_to_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> list[Recorded]:
    """Post one activity as ``user`` and wait for its turn; return what the bot
    sent meanwhile (anywhere)."""
    before = len(chat.connector.calls)
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=conversation_id,
        user=user,
        text=text,
        value=value,
        reply_to_id=reply_to_id,
        conversation_type="personal" if conversation_id.startswith("a:") else "channel",
    )
    if attachments:
        activity["attachments"] = attachments
    assert await chat.post(activity) == 200
    await chat._app[TASKS_KEY].join(wait_s=60)
    return chat.connector.calls[before:]


async def _employee_writes(chat: ChatSession, text: str) -> list[Recorded]:
    return await _post(chat, chat.user, chat.conversation_id, text)


async def _in_channel(
    chat: ChatSession, user: ChatUser, text: str, **options: Any
) -> list[Recorded]:
    thread = options.pop("thread", None) or f"{CHANNEL};messageid={uuid.uuid4().hex}"
    return await _post(chat, user, thread, text, **options)


def _texts(calls: list[Recorded], conversation_id: str) -> list[str]:
    return [
        render(c.activity)[0]
        for c in calls
        if c.method == "POST"
        and c.conversation_id == conversation_id
        and c.activity.get("type") == "message"
    ]


def _card_text(activity: dict[str, Any]) -> str:
    return str(activity["attachments"][0]["content"])


async def _designate(chat: ChatSession) -> None:
    sent = await _in_channel(chat, SAM, "Helpdesk use this channel for hand-offs")
    assert any(
        "Hand-offs will arrive in this channel" in t
        for c in sent
        for t in [render(c.activity)[0]]
    )


async def _open(
    chat: ChatSession, *, ticket: str | None = None, overdue: bool = False
) -> tuple[Handoff, Recorded]:
    """Open a hand-off of the employee's chat as the hand-off tool does, and
    announce it as the handler does after the turn; returns it and its card."""
    deadline = datetime.now(UTC) + (
        timedelta(seconds=-1) if overdue else timedelta(minutes=10)
    )
    handoff, created = await store.open_handoff(
        chat.services.db,
        tenant_id=chat.user.tenant_id,
        employee_id=chat.user.id,
        employee_name=chat.user.name,
        conversation_id=chat.conversation_id,
        reason="asked for a person",
        summary="Second monitor flickers on the dock",
        category="hardware",
        tried=["Showed the article on monitor flicker"],
        transcript="Alex Employee: my monitor flickers\nHelpdesk: try the cable",
        ticket=ticket,
        deadline_at=deadline,
    )
    assert created
    before = len(chat.connector.calls)
    await _desk(chat).post_card(handoff)
    [card] = [c for c in chat.connector.calls[before:] if c.conversation_id == CHANNEL]
    return handoff, card


def _desk(chat: ChatSession) -> HandoffDesk:
    desk = chat._app[HANDLER_KEY].handoffs
    assert desk is not None, "the app wires a hand-off desk"
    return desk


def _thread(card: Recorded) -> str:
    return f"{CHANNEL};messageid={card.activity_id}"


async def test_a_handoff_is_taken_relayed_both_ways_in_order_and_handed_back(
    chat: ChatSession,
) -> None:
    await chat.say("my monitor flickers")
    refused = await _in_channel(
        chat, chat.user, "Helpdesk use this channel for hand-offs"
    )
    assert "Only IT support staff" in " ".join(render(c.activity)[0] for c in refused)
    await _designate(chat)
    assert (await store.get_channel(chat.services.db, "local")) is not None

    handoff, card = await _open(chat)
    content = _card_text(card.activity)
    for shown in ("Alex Employee", "Second monitor flickers", "hardware", "Tried"):
        assert shown in content
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}
    assert take in [
        a.get("data") for a in card.activity["attachments"][0]["content"]["actions"]
    ]
    thread = _thread(card)
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.thread_id == thread

    # Writing while nobody has taken it: held, the first message noted, and
    # the copilot stays quiet.
    held = await _employee_writes(chat, "it flickers when I move the cable")
    assert _texts(held, chat.conversation_id) == [WAITING_NOTED]
    assert _texts(held, thread) == []
    more = await _employee_writes(chat, "only on the left screen")
    assert _texts(more, chat.conversation_id) == []

    queue = await _in_channel(chat, SAM, "queue")
    assert "Alex Employee (hardware)" in " ".join(render(c.activity)[0] for c in queue)
    await _in_channel(chat, SAM, "available")
    assert [a[1:] for a in await store.agents(chat.services.db, "local")] == [
        ("Sam Rivera", "available")
    ]

    taken = await _post(chat, SAM, thread, "", value=take, reply_to_id=card.activity_id)
    [redrawn] = [c for c in taken if c.method == "PUT"]
    assert "Taken by Sam Rivera" in _card_text(redrawn.activity)
    assert any(
        "Sam Rivera from IT support has joined" in t
        for t in _texts(taken, chat.conversation_id)
    )
    assert _texts(taken, thread) == [
        "**Alex Employee:** it flickers when I move the cable",
        "**Alex Employee:** only on the left screen",
    ]

    again = await _post(
        chat, MORGAN, thread, "", value=take, reply_to_id=card.activity_id
    )
    assert _texts(again, thread) == ["Already taken by Sam Rivera."]

    # A picture pasted in the thread: its Teams link needs the bot's token,
    # so the employee gets the picture itself, inline.
    async with serve_files() as files:
        picture = {"contentType": "image/*", "contentUrl": files.url("/screenshot.png")}
        answer = await _post(
            chat, SAM, thread, "Try another cable, please", attachments=[picture]
        )
    assert _texts(answer, chat.conversation_id) == [
        "**Sam Rivera (IT support):** Try another cable, please"
    ]
    [relayed] = [c for c in answer if c.conversation_id == chat.conversation_id]
    [inline] = relayed.activity["attachments"]
    assert inline["contentType"] == "image/png"
    assert inline["contentUrl"] == "data:image/png;base64," + base64.b64encode(
        PNG
    ).decode("ascii")
    first = await _employee_writes(chat, "ok, trying")
    second = await _employee_writes(chat, "that fixed it")
    assert _texts(first + second, thread) == [
        "**Alex Employee:** ok, trying",
        "**Alex Employee:** that fixed it",
    ]
    assert _texts(first + second, chat.conversation_id) == []

    back = await _post(chat, SAM, thread, "hand back")
    assert any(
        "You're back with the copilot" in t for t in _texts(back, chat.conversation_id)
    )
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.status == "returned"
    assert (await chat.say("how do I connect to the vpn")) != []


async def test_closing_puts_the_transcript_on_the_ticket() -> None:
    async with ChatSession(load_settings()) as chat:
        await chat.say("my vpn keeps dropping every hour")
        await chat.say("open a ticket")
        await chat.say("1")
        [ticket] = await chat.services.tickets.alist(open_only=False)
        await _designate(chat)
        handoff, card = await _open(chat, ticket=ticket.number)
        thread = _thread(card)
        take = {"action": "handoff_take", "handoff": handoff.handoff_id}
        await _post(chat, SAM, thread, "", value=take, reply_to_id=card.activity_id)
        await _post(chat, SAM, thread, "I reset your VPN profile")
        await _employee_writes(chat, "works now, thanks")

        closed = await _post(chat, SAM, thread, "close")
        assert any(
            "Sam Rivera closed the conversation" in t
            for t in _texts(closed, chat.conversation_id)
        )
        again = await chat.services.tickets.aget(ticket.number, work_notes=True)
        [note] = [c for c in again.comments if c.work_note]
        assert "Sam Rivera: I reset your VPN profile" in note.body
        assert "Alex Employee: works now, thanks" in note.body
        assert "closed" in note.body


async def test_nobody_takes_it_in_time_so_a_ticket_is_offered() -> None:
    async with ChatSession(load_settings()) as chat:
        await chat.say("my monitor flickers")
        await _designate(chat)
        handoff, _ = await _open(chat, overdue=True)
        await _employee_writes(chat, "it is the left screen, error 809 on the dock")
        before = len(chat.connector.calls)

        relay = chat._app[HANDOFF_JOBS_KEY]
        await relay.run_once()
        await relay.wait_for_passes(relay.passes + 1)  # or the loop's own pass
        after = chat.connector.calls[before:]

        stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
        assert stored is not None and stored.status == "withdrawn"
        [redrawn] = [c for c in after if c.method == "PUT"]
        assert "Withdrawn: nobody took it in time" in _card_text(redrawn.activity)
        told = [c for c in after if c.conversation_id == chat.conversation_id]
        assert "Nobody from IT support" in render(told[0].activity)[0]
        drafted = [c for c in told if render(c.activity)[1]]
        assert drafted, "the drafted ticket card reaches the employee"
        assert "monitor" in _card_text(drafted[0].activity).lower()
        # What they wrote while waiting for a person is on the ticket too.
        assert "error 809" in _card_text(drafted[0].activity)
        # The help desk's own request for the ticket is not the employee's
        # words: neither the draft nor the transcript carries it.
        assert "help desk, not the employee" not in _card_text(drafted[0].activity)
        again = await chat.say("open a ticket")
        assert again, "the thread keeps working"


class _Recording:
    """The turn's outbox, recording what the handler sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, activity: dict[str, Any]) -> None:
        self.sent.append(activity)

    async def update(self, activity_id: str, activity: dict[str, Any]) -> None:
        raise AssertionError("nothing to redraw")


async def test_hub_mode_sends_one_handoff_initiate_event_and_no_card() -> None:
    async with ChatSession(load_settings(handoff_mode="hub")) as chat:
        await chat.say("my monitor flickers")
        await _designate(chat)
        await store.open_handoff(
            chat.services.db,
            tenant_id="local",
            employee_id=chat.user.id,
            employee_name=chat.user.name,
            conversation_id=chat.conversation_id,
            reason="asked for a person",
            summary="Monitor flickers",
            transcript="Alex Employee: my monitor flickers\nHelpdesk: try the cable",
        )
        inbound = parse_activity(
            message_activity(
                service_url=chat.connector.url,
                conversation_id=chat.conversation_id,
                user=chat.user,
                text="I want to talk to a person",
            )
        )
        outbox = _Recording()
        before = len(chat.connector.calls)

        desk = _desk(chat)
        await desk.after_turn(inbound, outbox, email="alex@contoso.example")

        [event] = outbox.sent
        assert (event["type"], event["name"]) == ("event", "handoff.initiate")
        assert event["value"]["emailAddress"] == "alex@contoso.example"
        assert event["value"]["summary"] == "Monitor flickers"
        [transcript] = event["attachments"]
        assert (
            transcript["contentType"] == "application/vnd.microsoft.activity.transcript"
        )
        said = [a["text"] for a in transcript["content"]["activities"]]
        assert said == ["my monitor flickers", "try the cable"]
        assert chat.connector.calls[before:] == []  # no card in the channel


async def test_asking_for_a_person_posts_one_card_and_the_copilot_goes_quiet() -> None:
    async with ChatSession(load_settings(handoff_hours="always")) as chat:
        await _designate(chat)
        await chat.say("my monitor flickers")
        before = len(chat.connector.calls)

        answer = await chat.say("I want to talk to a person")

        assert answer, "the employee is told someone will pick up"
        [card] = [
            c for c in chat.connector.calls[before:] if c.conversation_id == CHANNEL
        ]
        assert "Take" in _card_text(card.activity)
        live = await store.live_for_conversation(
            chat.services.db, "local", chat.conversation_id
        )
        assert live is not None and live.card_activity_id == card.activity_id
        assert "monitor flickers" in live.transcript

        held = await _employee_writes(chat, "are you there?")
        assert _texts(held, chat.conversation_id) == [WAITING_NOTED]
        assert [c for c in held if c.conversation_id == CHANNEL] == []


async def test_hub_mode_through_a_turn_emits_the_event_and_posts_no_card() -> None:
    settings = load_settings(handoff_hours="always", handoff_mode="hub")
    async with ChatSession(settings) as chat:
        await chat.say("my monitor flickers")
        before = len(chat.connector.calls)

        await _employee_writes(chat, "I want to talk to a person")

        sent = chat.connector.calls[before:]
        events = [c.activity for c in sent if c.activity.get("type") == "event"]
        assert [e["name"] for e in events] == ["handoff.initiate"]
        [transcript] = events[0]["attachments"]
        said = " ".join(a["text"] for a in transcript["content"]["activities"])
        assert "my monitor flickers" in said
        assert [c for c in sent if c.conversation_id.startswith("19:")] == []
        # The hub owns the conversation now: nothing is held for a channel.
        assert (
            await store.live_for_conversation(
                chat.services.db, "local", chat.conversation_id
            )
            is None
        )


async def test_only_the_taker_talks_to_the_employee_and_only_staff_end_it_for_them(
    chat: ChatSession,
) -> None:
    await chat.say("my monitor flickers")
    await _designate(chat)
    handoff, card = await _open(chat)
    thread = _thread(card)
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}
    await _post(chat, MORGAN, thread, "", value=take, reply_to_id=card.activity_id)

    # Sam (helpdesk role) chatting in Morgan's thread does not reach Alex.
    aside = await _post(chat, SAM, thread, "Morgan, check the dock firmware")
    assert _texts(aside, chat.conversation_id) == []
    assert "Only Morgan Lee talks to Alex Employee" in _texts(aside, thread)[0]

    # Nor can a colleague without the role end it; Morgan, the taker, can
    # talk; Sam, with the role, can close it for Morgan.
    stranger = ChatUser(id="dana-park", name="Dana Park")
    refused = await _post(chat, stranger, thread, "close")
    assert "nothing changed" in _texts(refused, thread)[0]
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.status == "active"

    said = await _post(chat, MORGAN, thread, "Which dock do you have?")
    assert _texts(said, chat.conversation_id) == [
        "**Morgan Lee (IT support):** Which dock do you have?"
    ]
    closed = await _post(chat, SAM, thread, "close")
    assert any(
        "Sam Rivera closed the conversation" in t
        for t in _texts(closed, chat.conversation_id)
    )


async def test_desk_commands_and_clicks_count_only_in_the_agents_channel(
    chat: ChatSession,
) -> None:
    await chat.say("my monitor flickers")
    await _designate(chat)
    handoff, card = await _open(chat)
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}

    # "available" in another channel of the team is just chatter: with the
    # app's channel-message permission the bot hears it, and says nothing.
    elsewhere = "19:general@thread.tacv2;messageid=7"
    chatter = await _post(chat, SAM, elsewhere, "available")
    assert chatter == []
    assert await store.agents(chat.services.db, "local") == []

    # The card's Take, forged from the employee's own chat, takes nothing.
    forged = await _employee_writes_value(chat, take)
    assert _texts(forged, chat.conversation_id) == [replies.card_unusable()]
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.status == "waiting"

    # In the agents' channel itself, it counts.
    taken = await _post(
        chat, SAM, _thread(card), "", value=take, reply_to_id=card.activity_id
    )
    assert any(c.method == "PUT" for c in taken)


async def test_a_channel_question_is_answered_only_when_it_mentions_the_bot(
    chat: ChatSession,
) -> None:
    general = "19:general@thread.tacv2;messageid=8"
    unaddressed = await _post(chat, MORGAN, general, "how do I connect to the vpn")
    assert unaddressed == []

    before = len(chat.connector.calls)
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=general,
        user=MORGAN,
        text="<at>Helpdesk</at> how do I connect to the vpn",
        conversation_type="channel",
    )
    activity["entities"] = [
        {
            "type": "mention",
            "text": "<at>Helpdesk</at>",
            "mentioned": {"id": activity["recipient"]["id"], "name": "Helpdesk"},
        }
    ]
    assert await chat.post(activity) == 200
    await chat._app[TASKS_KEY].join(wait_s=60)
    assert "vpn" in " ".join(_texts(chat.connector.calls[before:], general)).lower()


async def test_a_card_whose_post_failed_is_posted_once_by_the_background_job(
    chat: ChatSession,
) -> None:
    await chat.say("my monitor flickers")
    await _designate(chat)
    handoff, created = await store.open_handoff(
        chat.services.db,
        tenant_id="local",
        employee_id=chat.user.id,
        employee_name=chat.user.name,
        conversation_id=chat.conversation_id,
        reason="asked",
        summary="Monitor flickers",
        deadline_at=datetime.now(UTC) + timedelta(minutes=10),
    )
    assert created
    desk = _desk(chat)
    chat.connector.fail_next(502)
    assert await desk.post_card(handoff) is False
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.card_activity_id is None

    # While the failed post's claim holds, nobody posts it (the app's own
    # hand-off loop runs meanwhile too); once it lapses the job posts the
    # card, and only once however often it runs.
    assert await desk.run_cards() == 0
    await _expire_card_claims(chat, datetime.now(UTC))
    posted = [await desk.run_cards() for _ in range(3)]
    assert sum(posted) <= 1
    cards = [
        c
        for c in chat.connector.calls
        if c.conversation_id == CHANNEL and c.method == "POST"
    ]
    assert len(cards) == 1
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.card_activity_id == cards[0].activity_id


async def _expire_card_claims(chat: ChatSession, at: datetime) -> None:
    from tools.handoff.tables import handoffs

    async with chat.services.db.begin() as conn:
        await conn.execute(
            handoffs.update().values(card_claimed_until=at - timedelta(minutes=5))
        )


async def _employee_writes_value(
    chat: ChatSession, value: dict[str, Any]
) -> list[Recorded]:
    return await _post(chat, chat.user, chat.conversation_id, "", value=value)


async def _live(chat: ChatSession) -> Handoff | None:
    return await store.live_for_conversation(
        chat.services.db, "local", chat.conversation_id
    )


async def test_a_frustrated_employee_is_handed_to_a_person() -> None:
    async with ChatSession(load_settings(handoff_hours="always")) as chat:
        await _designate(chat)
        await chat.say("how do I connect to the VPN on Windows?")

        said = await _employee_writes(chat, "this is useless, I'm fed up")

        live = await _live(chat)
        assert live is not None and live.reason == "frustrated"
        assert [c for c in said if c.conversation_id == CHANNEL], "a card is posted"
        assert any(
            "asked the IT support team" in t for t in _texts(said, chat.conversation_id)
        )


async def test_failing_twice_hands_off_instead_of_offering_another_ticket() -> None:
    async with ChatSession(load_settings(handoff_hours="always")) as chat:
        await _designate(chat)
        first = await chat.say("the espresso machine in the kitchen leaks water")
        assert "drafted a ticket" in render(first[0])[0]
        assert await _live(chat) is None

        second = await _employee_writes(
            chat, "the badge reader at the side door rejects my card"
        )

        live = await _live(chat)
        assert live is not None and live.reason == "repeated_failure"
        assert any(
            "asked the IT support team" in t
            for t in _texts(second, chat.conversation_id)
        )


async def test_outside_hours_a_frustrated_employee_gets_a_ticket_and_when_agents_are_back() -> (
    None
):
    # Today (and tomorrow, should the test run across midnight) is a holiday.
    today = datetime.now(UTC).date()
    holidays = f"{today.isoformat()},{(today + timedelta(days=1)).isoformat()}"
    settings = load_settings(
        handoff_hours="mon-sun 00:00-23:59", handoff_holidays=holidays
    )
    async with ChatSession(settings) as chat:
        await _designate(chat)
        await chat.say("how do I connect to the VPN on Windows?")

        said = await chat.say("this is useless")

        text = " ".join(render(a)[0] for a in said)
        assert "Nobody from IT support is available right now" in text
        assert "they are back" in text
        assert any(render(a)[1] for a in said), "a drafted ticket card"
        assert await _live(chat) is None


async def test_a_big_screenshot_is_shrunk_to_pass_on_and_a_file_goes_as_a_link(
    chat: ChatSession,
) -> None:
    await chat.say("my monitor flickers")
    await _designate(chat)
    handoff, card = await _open(chat)
    thread = _thread(card)
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}
    await _post(chat, SAM, thread, "", value=take, reply_to_id=card.activity_id)

    async with serve_files() as files:
        photo = {"contentType": "image/*", "contentUrl": files.url("/photo.png")}
        log = {
            "contentType": "application/vnd.microsoft.teams.file.download.info",
            "name": "sync.log",
            "content": {"downloadUrl": files.url("/sync.log"), "fileType": "log"},
        }
        sent = await _post(
            chat, chat.user, chat.conversation_id, "", attachments=[photo, log]
        )

    [relayed] = [c for c in sent if c.conversation_id == thread]
    assert render(relayed.activity)[0] == "**Alex Employee:** (sent a file: sync.log)"
    log_link, shrunk = relayed.activity["attachments"]
    assert (log_link["name"], log_link["contentUrl"]) == (
        "sync.log",
        files.url("/sync.log"),
    )
    assert shrunk["contentType"] == "image/jpeg"
    assert shrunk["contentUrl"].startswith("data:image/jpeg;base64,")
    assert len(shrunk["contentUrl"]) < 256_000, "fits in one Teams activity"


async def test_a_message_that_starts_with_close_is_relayed_not_obeyed(
    chat: ChatSession,
) -> None:
    await chat.say("my vpn drops")
    await _designate(chat)
    handoff, card = await _open(chat)
    thread = _thread(card)
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}
    await _post(chat, SAM, thread, "", value=take, reply_to_id=card.activity_id)

    said = await _post(
        chat, SAM, thread, "Close the VPN client and switch to the SSTP profile."
    )

    assert _texts(said, chat.conversation_id) == [
        "**Sam Rivera (IT support):** Close the VPN client and switch to the SSTP profile."
    ]
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.status == "active"
    closed = await _post(chat, SAM, thread, "Close.")
    assert any(
        "closed the conversation" in t for t in _texts(closed, chat.conversation_id)
    )


async def test_the_employee_can_end_a_live_chat_and_an_idle_one_comes_back(
    chat: ChatSession,
) -> None:
    await chat.say("my vpn drops")
    await _designate(chat)
    handoff, card = await _open(chat)
    thread = _thread(card)
    take = {"action": "handoff_take", "handoff": handoff.handoff_id}
    await _post(chat, SAM, thread, "", value=take, reply_to_id=card.activity_id)

    left = await _employee_writes(chat, "end chat")

    assert _texts(left, chat.conversation_id)[-1] == LEFT
    assert any("ended the chat" in t for t in _texts(left, thread))
    stored = await store.get_handoff(chat.services.db, handoff.handoff_id)
    assert stored is not None and stored.status == "returned"
    assert await chat.say("how do I connect to the vpn"), "the copilot answers again"

    # An agent who took the next one and walked away: it comes back by itself.
    second, card = await _open(chat)
    take = {"action": "handoff_take", "handoff": second.handoff_id}
    await _post(chat, SAM, _thread(card), "", value=take, reply_to_id=card.activity_id)
    from tools.handoff.tables import handoffs

    async with chat.services.db.begin() as conn:
        await conn.execute(
            handoffs.update()
            .where(handoffs.c.handoff_id == second.handoff_id)
            .values(taken_at=datetime.now(UTC) - timedelta(hours=2))
        )
    before = len(chat.connector.calls)
    assert await _desk(chat).run_idle() in (0, 1)  # the app's own loop may win
    stored = await store.get_handoff(chat.services.db, second.handoff_id)
    assert stored is not None and stored.status == "returned"
    await chat._app[TASKS_KEY].join(wait_s=5)
    told = _texts(chat.connector.calls, chat.conversation_id)
    assert any("minutes without messages" in t for t in told)
    assert before <= len(chat.connector.calls)
