"""Approval cards and one-time secrets through ``/api/messages``, with the fake copilot.

The fake asks for approvals through the real approvals table and claims each
decision once, like the agent; these tests prove the host's side: the cards,
the routing of clicks (field case T3), the redrawn cards, the answers to each
outcome, and where a secret may and may not be shown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fakes.bot_harness import RunningBot, card_actions, card_body, run_bot
from fakes.bot_services import FakeDirectory
from fakes.copilot import FakeCopilot, Plan

from bot.chat import ChatUser
from bot.connector import LocalConnector
from tools.settings import Settings

PASS = "Xq7-PASS-7731"
TAP = "I forgot my password, I need a temporary access pass"
MANAGER = ChatUser(id="manager-1", name="Mira Manager")
STRANGER = ChatUser(id="someone-else", name="Sam Stranger")


@pytest.fixture
def copilot() -> FakeCopilot:
    return FakeCopilot(
        plans={
            TAP: Plan(secret=PASS),
            "two things please": Plan(count=2),
            "ask my manager": Plan(approver_id=MANAGER.id),
            "already stale": Plan(lifetime=timedelta(minutes=-1)),
            "pass for my colleague": Plan(subject_id="colleague-1", secret=PASS),
        }
    )


@pytest.fixture
async def bot(
    settings: Settings, connector: LocalConnector, copilot: FakeCopilot
) -> AsyncIterator[RunningBot]:
    directory = FakeDirectory()
    directory.add("local-user", "Local User")
    directory.add(MANAGER.id, MANAGER.name)
    async with run_bot(settings, connector, copilot, directory=directory) as running:
        yield running


def _texts(bot: RunningBot) -> list[str]:
    return [m.get("text", "") for m in bot.connector.messages()]


def _everything_sent(bot: RunningBot) -> str:
    return repr([c.activity for c in bot.connector.calls])


async def test_an_action_asks_with_a_card_that_says_exactly_what_and_for_whom(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))

    answer, card = bot.connector.messages()
    assert answer["text"] == "I can do that once you confirm."
    body = card_body(card)
    assert body["version"] == "1.5"
    texts = [e.get("text", "") for e in body["body"]]
    assert texts[0] == "Issue a Temporary Access Pass"
    assert texts[1] == "Create a one-time Temporary Access Pass for your account."
    assert {"title": "Account", "value": "local-user"} in body["body"][2]["facts"]
    assert texts[3].startswith("For Local User to confirm. Expires {{DATE(")
    assert not any(e["type"] == "Input.Text" for e in body["body"])

    [approve, cancel] = card_actions(card)
    approval_id = approve["data"]["approval"]
    assert approve == {
        "type": "Action.Submit",
        "title": "Approve",
        "data": {"action": "approve", "approval": approval_id},
        "style": "positive",
    }
    assert cancel["data"] == {"action": "reject", "approval": approval_id}
    assert card["summary"] == "Issue a Temporary Access Pass"


async def test_each_pending_approval_gets_its_own_card(bot: RunningBot) -> None:
    await bot.post(bot.activity("two things please"))

    cards = bot.cards()
    assert len(cards) == 2
    ids = {card_actions(c.activity)[0]["data"]["approval"] for c in cards}
    assert len(ids) == 2


async def test_approving_resumes_redraws_the_card_and_shows_the_secret_once(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()

    status, _ = await bot.post(bot.click(card))

    assert status == 200
    [resume] = bot.copilot.resumes
    assert resume["requester"].object_id == "local-user"
    assert resume["approve"] is True
    assert resume["private_chat"] is True
    assert [d.approved for d in bot.copilot.acted] == [True]

    [update] = bot.updates()
    assert update.reply_to_id == card.activity_id
    redrawn = card_body(update.activity)
    assert "actions" not in redrawn
    assert redrawn["body"][-1]["text"].startswith("Approved by Local User, {{DATE(")

    *_, done, secret = bot.connector.messages()
    assert done["text"] == "Done: the pass is ready."
    assert PASS not in done["text"]
    assert PASS not in secret.get("text", "") + secret["summary"]
    [container] = card_body(secret)["body"]
    assert container["id"] == "one-time-secret"
    shown = [item["text"] for item in container["items"]]
    assert shown[:2] == ["Temporary Access Pass", PASS]
    assert any("aka.ms/mysecurityinfo" in line for line in shown)
    assert _everything_sent(bot).count(PASS) == 1


async def test_cancelling_redraws_the_card_as_cancelled_and_acts_on_nothing(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()

    await bot.post(bot.click(card, choice=1))

    assert [d.approved for d in bot.copilot.acted] == [False]
    [update] = bot.updates()
    assert "Cancelled by Local User" in card_body(update.activity)["body"][-1]["text"]
    assert _texts(bot)[-1] == "OK, I cancelled that."
    assert PASS not in _everything_sent(bot)


async def test_a_double_click_acts_once_and_the_second_is_told_it_was_handled(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()

    await bot.post(bot.click(card, activity_id="click-1"))
    sent_before = len(bot.connector.calls)
    await bot.post(bot.click(card, activity_id="click-2"))

    assert len(bot.copilot.resumes) == 2
    assert len(bot.copilot.acted) == 1
    assert len(bot.updates()) == 1
    second = [
        c.activity.get("text")
        for c in bot.connector.calls[sent_before:]
        if c.activity["type"] == "message"
    ]
    assert second == ["That request was already handled."]
    assert _everything_sent(bot).count(PASS) == 1


async def test_teams_resending_a_click_is_dropped_before_the_agent(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()
    click = bot.click(card, activity_id="click-resent")

    await bot.post(click)
    await bot.post(click)

    assert len(bot.copilot.resumes) == 1


async def test_a_card_clicked_by_someone_else_is_refused_and_stays_usable(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP, conversation_type="groupChat"))
    [card] = bot.cards()

    await bot.post(bot.click(card, user=STRANGER, conversation_type="groupChat"))

    assert _texts(bot)[-1] == "This card is for Local User to confirm."
    assert bot.copilot.acted == []
    assert bot.updates() == []

    await bot.post(bot.click(card, conversation_type="groupChat"))
    assert [d.decided_by for d in bot.copilot.acted] == ["local-user"]


async def test_an_approver_other_than_the_requester_gets_a_comment_box(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity("ask my manager", conversation_type="groupChat"))
    [card] = bot.cards()
    body = card_body(card.activity)["body"]
    assert body[3]["text"].startswith("For Mira Manager to confirm.")
    [comment] = [e for e in body if e["type"] == "Input.Text"]
    assert comment["id"] == "comment"

    await bot.post(
        bot.click(
            card,
            user=MANAGER,
            conversation_type="groupChat",
            value={"comment": "  fine, reset my manager's password too  "},
        )
    )

    [resume] = bot.copilot.resumes
    assert resume["requester"].object_id == MANAGER.id
    assert resume["comment"] == "fine, reset my manager's password too"
    assert len(bot.copilot.calls) == 1, "card fields never reach the model"
    [update] = bot.updates()
    assert "Approved by Mira Manager" in card_body(update.activity)["body"][-1]["text"]


async def test_a_submit_whose_value_teams_dropped_says_so_and_shows_the_card_again(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()
    approval_id = card_actions(card.activity)[0]["data"]["approval"]

    await bot.post(bot.activity("", reply_to_id=card.activity_id))

    assert bot.copilot.resumes == []
    assert len(bot.copilot.calls) == 1
    *_, told, again = bot.connector.messages()
    assert (
        told["text"] == "I couldn't read your choice from that card. Here it is again:"
    )
    assert card_actions(again)[0]["data"] == {
        "action": "approve",
        "approval": approval_id,
    }

    await bot.post(bot.click(bot.cards()[-1]))
    assert len(bot.copilot.acted) == 1


async def test_a_submit_without_value_and_nothing_pending_asks_for_words(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity("", reply_to_id="some-old-card"))

    [reply] = bot.connector.messages()
    assert reply["text"].startswith("I couldn't read your choice from that card.")
    assert "tell me again in words" in reply["text"]
    assert bot.copilot.calls == []


@pytest.mark.parametrize(
    "value",
    [
        "approve",
        {"action": "approve"},
        {"action": "delete-everything", "approval": "x"},
        {"action": "approve", "approval": ["not", "a", "string"]},
    ],
    ids=["bare-string", "no-id", "unknown-action", "id-not-a-string"],
)
async def test_a_value_that_is_not_a_choice_is_not_a_decision(
    bot: RunningBot, value: object
) -> None:
    await bot.post(bot.activity("", value=value, reply_to_id="card-1"))

    assert bot.copilot.resumes == []
    assert bot.copilot.calls == []
    assert _texts(bot)[0].startswith("I couldn't read your choice")


async def test_the_field_case_value_naming_the_request_resumes_it(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()
    approval_id = card_actions(card.activity)[0]["data"]["approval"]

    await bot.post(
        bot.activity(
            "",
            value={"action": "approve", "request": approval_id},
            reply_to_id=card.activity_id,
        )
    )

    assert len(bot.copilot.acted) == 1


async def test_an_unknown_approval_gets_a_plain_refusal(bot: RunningBot) -> None:
    await bot.post(
        bot.activity("", value={"action": "approve", "approval": "forged-id"})
    )

    assert _texts(bot) == ["I can't use that card."]
    assert bot.updates() == []


async def test_walking_away_from_a_card_expires_it_and_the_thread_keeps_working(
    bot: RunningBot,
) -> None:
    await bot.post(bot.activity(TAP))
    [card] = bot.cards()

    await bot.post(bot.activity("what's the Wi-Fi password policy?"))
    assert _texts(bot)[-1].startswith("Answer #1 in this thread: what's the Wi-Fi")

    await bot.post(bot.click(card))
    assert _texts(bot)[-1] == "That request expired. Ask me again if you still need it."
    assert bot.copilot.acted == []
    [update] = bot.updates()
    assert card_body(update.activity)["body"][-1]["text"] == (
        "Expired. Nothing was changed."
    )

    await bot.post(bot.activity("and the VPN?"))
    assert _texts(bot)[-1].startswith("Answer #2 in this thread: and the VPN?")


async def test_a_card_past_its_expiry_says_it_expired(bot: RunningBot) -> None:
    await bot.post(bot.activity("already stale"))

    await bot.post(bot.click(bot.cards()[0]))

    assert _texts(bot)[-1] == "That request expired. Ask me again if you still need it."
    assert bot.copilot.acted == []


async def test_no_secret_is_shown_in_a_group_chat_even_if_a_tool_made_one(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.post(bot.activity(TAP, conversation_type="groupChat"))

    await bot.post(bot.click(bot.cards()[0], conversation_type="groupChat"))

    assert len(bot.copilot.acted) == 1
    assert PASS not in _everything_sent(bot)
    assert "only show that in a private chat" in _texts(bot)[-1]
    warnings = [r for r in caplog.records if "dropped a one-time" in r.getMessage()]
    assert warnings and warnings[0].levelno == logging.WARNING
    assert PASS not in caplog.text


async def test_no_secret_is_shown_to_someone_other_than_its_owner(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.post(bot.activity("pass for my colleague"))

    await bot.post(bot.click(bot.cards()[0]))

    assert PASS not in _everything_sent(bot)
    assert "only show that in a private chat" in _texts(bot)[-1]
    assert PASS not in caplog.text


async def test_a_secret_never_reaches_the_logs_at_any_level(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.post(bot.activity(TAP))

    await bot.post(bot.click(bot.cards()[0]))

    assert _everything_sent(bot).count(PASS) == 1
    assert PASS not in caplog.text
