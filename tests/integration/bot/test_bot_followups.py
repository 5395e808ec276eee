"""After an answer, through ``/api/messages``: "Did this fix it?", Teams feedback
with its comment tied to the cited articles, and the 1-5 satisfaction card
(after a resolution or a closed ticket, at most once per period)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.chat import ChatSession, ChatUser, message_activity
from bot.cli import main
from bot.followup_cards import FIXED_REPLY, RATE_ACTION, STUCK_REPLY
from bot.ticket_news import FIXED
from tools.analytics import AnalyticsEvent, alist_events
from tools.analytics.tables import analytics_events, answers
from tools.settings import Settings, load_settings

QUESTION = "how do I connect to the VPN on Windows?"
VPN_ARTICLE = "https://intranet.contoso.example/it/vpn-windows"


def _settings(**options: Any) -> Settings:
    return load_settings(handoff_hours="always", **options)


async def _events(chat: ChatSession) -> list[AnalyticsEvent]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return await alist_events(chat.services.db, since=since)


def _kinds(events: list[AnalyticsEvent]) -> list[str]:
    return [e.kind for e in events]


def _suggested(activity: dict[str, Any]) -> list[str]:
    actions = (activity.get("suggestedActions") or {}).get("actions") or []
    return [a["value"] for a in actions if a.get("type") == "imBack"]


def _rating_card(sent: list[dict[str, Any]]) -> dict[str, Any] | None:
    for activity in sent:
        for attachment in activity.get("attachments") or []:
            actions = attachment.get("content", {}).get("actions") or []
            if any(a.get("data", {}).get("action") == RATE_ACTION for a in actions):
                return activity
    return None


async def _answer_with_articles(chat: ChatSession) -> dict[str, Any]:
    [answer, question] = await chat.say(QUESTION)
    assert question["text"] == "Did this fix it?"
    assert _suggested(question) == [FIXED_REPLY, STUCK_REPLY]
    assert not _suggested(answer), "the answer itself is left as it was"
    cited = [
        claim["appearance"].get("url")
        for entity in answer.get("entities") or []
        for claim in entity.get("citation") or []
    ]
    assert VPN_ARTICLE in cited, "the offline model's VPN answer changed"
    return answer


async def test_a_cited_answer_asks_whether_it_fixed_it_and_yes_is_counted() -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)

        said = await chat.say(FIXED_REPLY)
        texts = [a.get("text") or "" for a in said]
        card = _rating_card(said)
        events = await _events(chat)

    assert any("glad that's sorted" in t for t in texts)
    assert card is not None, "a resolution brings the 1-5 card"
    assert [a["title"] for a in card["attachments"][0]["content"]["actions"]] == [
        "1 Poor",
        "2",
        "3",
        "4",
        "5 Great",
    ]
    assert _kinds(events).count("resolved_by_user") == 1
    fixed = [e for e in events if e.kind == "article_fixed"]
    assert VPN_ARTICLE in {e.detail for e in fixed}
    assert {e.value for e in fixed} == {1}
    assert _kinds(events).count("turn") == 1, "a yes is not another question"


async def test_a_second_yes_is_thanked_but_not_counted_again() -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)
        await chat.say(FIXED_REPLY)
        again = await chat.say("that worked, thanks!")
        events = await _events(chat)

    assert [a.get("text") for a in again] == [
        "Great, glad that's sorted. If anything else comes up, just tell me here."
    ]
    assert _kinds(events).count("resolved_by_user") == 1
    assert not any(a.get("attachments") for a in again), "no second card, no ticket"


@pytest.mark.parametrize("stuck", [STUCK_REPLY, "nope", "👎", "still broken"])
async def test_still_stuck_is_counted_and_goes_on_to_the_model(stuck: str) -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)
        said = await chat.say(stuck)
        events = await _events(chat)

    kinds = _kinds(events)
    assert "not_fixed" in kinds and "resolved_by_user" not in kinds
    assert next(e.value for e in events if e.kind == "article_fixed") == -1
    assert kinds.count("turn") == 2, "the model answers the no"
    offered = " ".join(json.dumps(a) for a in said)
    assert "ticket" in offered.lower(), "the employee is offered a next step"
    assert _rating_card(said) is None


async def test_no_question_is_asked_in_a_group_chat() -> None:
    async with ChatSession(_settings()) as chat:
        activity = message_activity(
            service_url=chat.connector.url,
            conversation_id="19:group-chat@thread.v2",
            user=chat.user,
            text=QUESTION,
            conversation_type="groupChat",
        )
        assert await chat.post(activity) == 200
        [answer] = await chat.connector.wait_for_messages(
            1, conversation_id="19:group-chat@thread.v2"
        )
        await asyncio.sleep(0.5)  # room for a question that must not come
        sent = chat.connector.messages("19:group-chat@thread.v2")

    assert answer.get("entities"), "the answer still cites"
    assert [m["text"] for m in sent] == [answer["text"]], "no question in a group"


async def test_yes_without_an_open_question_goes_to_the_model() -> None:
    async with ChatSession(_settings()) as chat:
        said = await chat.say("yes")
        events = await _events(chat)

    assert "resolved_by_user" not in _kinds(events)
    assert _kinds(events).count("turn") == 1
    assert said


async def _feedback(
    chat: ChatSession, reply_to_id: str, reaction: str, comment: str | None
) -> int:
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=chat.conversation_id,
        user=chat.user,
        text=None,
        reply_to_id=reply_to_id,
    )
    action: dict[str, Any] = {"reaction": reaction}
    if comment is not None:
        action["feedback"] = json.dumps({"feedbackText": comment})
    activity.update(
        type="invoke",
        name="message/submitAction",
        value={"actionName": "feedback", "actionValue": action},
    )
    return await chat.post(activity)


async def test_feedback_keeps_the_comment_redacted_and_scores_the_cited_articles(
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)
        [answer_call] = [c for c in chat.connector.calls if c.activity.get("entities")]
        comment = "step 2 is wrong, the portal moved. my password is Hunter2!"

        first = await _feedback(chat, answer_call.activity_id, "dislike", comment)
        resent = await _feedback(chat, answer_call.activity_id, "dislike", comment)
        events = await _events(chat)
        async with chat.services.db.connect() as conn:
            rows = (await conn.execute(sa.select(analytics_events))).all()
            kept = (await conn.execute(sa.select(answers.c.activity_id))).scalars()
            assert list(kept) == [answer_call.activity_id]

    assert (first, resent) == (200, 200)
    [feedback] = [e for e in events if e.kind == "feedback"]
    assert feedback.value == -1
    assert feedback.detail is not None and "portal moved" in feedback.detail
    stored = " ".join(str(value) for row in rows for value in row)
    assert "Hunter2" not in stored, "the comment is redacted before it is kept"
    articles = [e for e in events if e.kind == "article_feedback"]
    assert VPN_ARTICLE in {e.detail for e in articles}, "tied to the cited article"
    assert len(articles) == len({e.detail for e in articles}), "a re-send counts once"

    assert await asyncio.to_thread(main, ["report", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "ARTICLE" in out and VPN_ARTICLE in out
    assert "portal moved" in out and "Hunter2" not in out


async def test_a_rating_is_kept_once_and_only_from_its_employee() -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)
        card = _rating_card(await chat.say(FIXED_REPLY))
        assert card is not None
        data = card["attachments"][0]["content"]["actions"][3]["data"]  # "4"

        stranger = message_activity(
            service_url=chat.connector.url,
            conversation_id=chat.conversation_id,
            user=ChatUser(id="someone-else", name="Someone Else"),
            text="",
            value=data,
        )
        before = len(chat.connector.messages())
        assert await chat.post(stranger) == 200
        refused = await chat.connector.wait_for_messages(before + 1)
        rated = await chat.say("4")  # the card's fourth button, by its employee
        redrawn = list(chat.updated)
        again = await chat.say("1")  # the card's first button, after the rating
        events = await _events(chat)

    assert "for the person it was sent to" in (refused[-1].get("text") or "")
    assert any("Thanks for rating 4 out of 5" in (a.get("text") or "") for a in rated)
    assert any("already rated" in (a.get("text") or "") for a in again)
    assert [e.value for e in events if e.kind == "satisfaction"] == [4]
    assert any("You rated this 4 out of 5" in json.dumps(a) for a in redrawn)


async def test_the_card_comes_at_most_once_per_period() -> None:
    async with ChatSession(_settings(satisfaction_every_days=30)) as chat:
        await _answer_with_articles(chat)
        first = _rating_card(await chat.say(FIXED_REPLY))
        await _answer_with_articles(chat)
        second = _rating_card(await chat.say(FIXED_REPLY))

    assert first is not None
    assert second is None, "asked once already this month"


async def test_closing_a_resolved_ticket_brings_the_card() -> None:
    async with ChatSession(_settings(notify_poll_s=0.1)) as chat:
        await chat.say("the espresso machine in the kitchen leaks, open a ticket")
        await chat.say("1")  # the drafted ticket, confirmed
        [ticket] = await chat.services.tickets.alist(caller_id=chat.user.id)
        await chat.services.tickets.aset_state(
            ticket.number, "resolved", by="Alex Tech", note="Replaced the gasket."
        )
        news = await chat.wait_for_news()
        assert any(FIXED in json.dumps(n) for n in news)
        [yes] = [n for n, c in enumerate(chat.choices, 1) if c["action"] == FIXED]
        said = await chat.say(str(yes))

    assert any("closed" in (a.get("text") or "").lower() for a in said)
    assert _rating_card(said) is not None


async def test_feedback_on_a_message_that_is_no_answer_is_not_counted() -> None:
    async with ChatSession(_settings()) as chat:
        await _answer_with_articles(chat)

        unknown = await _feedback(chat, "not-an-answer", "like", None)
        events = await _events(chat)

    assert unknown == 200
    assert not [e for e in events if e.kind in ("feedback", "article_feedback")]
