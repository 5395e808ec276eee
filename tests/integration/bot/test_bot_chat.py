"""The terminal chat: questions in, answers with numbered sources and choices out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.bot_services import FakeDirectory, services_factory
from fakes.copilot import FakeCopilot, Plan, copilot_factory

from bot.chat import ChatSession, ChatUser, render, run_chat
from tools.settings import load_settings


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


def _session(
    copilot: FakeCopilot, directory: FakeDirectory | None = None, **options: object
) -> ChatSession:
    return ChatSession(
        load_settings(),
        app_options={
            "services_factory": services_factory(directory=directory),
            "copilot_factory": copilot_factory(copilot),
        },
        **options,  # type: ignore[arg-type]
    )


async def test_a_piped_script_prints_each_question_and_answer() -> None:
    copilot = FakeCopilot()
    out: list[str] = []

    async with _session(copilot, user=ChatUser(id="dana", name="Dana")) as chat:
        await run_chat(
            chat,
            _lines("vpn is down\n", "\n", "and wifi?\n", "/quit\n", "never sent\n"),
            out.append,
            echo=True,
        )

    assert out == [
        "you> vpn is down",
        "helpdesk> Answer #1 in this thread: vpn is down [1]\nSources:\n"
        "  [1] Fix VPN connection problems <https://kb.example.com/vpn>",
        'helpdesk> Did this fix it?\n  (you can reply "Yes, that fixed it" or '
        '"No, I\'m still stuck")',
        "you> and wifi?",
        "helpdesk> Answer #2 in this thread: and wifi? [1]\nSources:\n"
        "  [1] Fix VPN connection problems <https://kb.example.com/vpn>",
    ]
    assert {c.requester.object_id for c in copilot.calls} == {"dana"}


async def test_a_numbered_answer_clicks_the_last_card_like_teams_does() -> None:
    copilot = FakeCopilot(plans={"give me a pass": Plan(secret="PASS-123")})

    async with _session(copilot) as chat:
        [_, card] = await chat.say("give me a pass")
        [card_call] = [c for c in chat.connector.calls if c.activity is card]
        replies = await chat.say("1")

    [resume] = copilot.resumes
    assert resume["approve"] is True
    assert resume["approval_id"] == chat.choices[0]["approval"]
    [call] = copilot.calls
    assert call.text == "give me a pass", "the click never reached the model"
    [update] = chat.updated
    assert update is not card
    [put] = [c for c in chat.connector.calls if c.method == "PUT"]
    assert put.reply_to_id == card_call.activity_id
    done, secret = (render(r)[0] for r in replies)
    assert done == "Done: the pass is ready."
    assert secret.startswith("+----")
    assert "| PASS-123" in secret


async def test_a_piped_script_answers_the_card_by_number_and_boxes_the_secret() -> None:
    copilot = FakeCopilot(plans={"give me a pass": Plan(secret="PASS-123")})
    out: list[str] = []

    async with _session(copilot) as chat:
        await run_chat(
            chat, _lines("give me a pass\n", "1\n", "1\n"), out.append, echo=True
        )

    transcript = "\n".join(out)
    assert "  1. Approve  2. Cancel" in transcript
    assert "(the card now reads: Approved by Local User, " in transcript
    assert transcript.count("PASS-123") == 1
    assert "| PASS-123" in transcript
    assert out[-1] == "helpdesk> That request was already handled."
    assert len(copilot.acted) == 1


async def test_a_comment_after_the_number_fills_the_cards_comment_box() -> None:
    copilot = FakeCopilot(plans={"ask the boss": Plan(approver_id="boss")})

    async with _session(copilot) as chat:
        [_, card] = await chat.say("ask the boss")
        assert "(to add a comment, type it after the number)" in render(card)[0]
        chat.user = ChatUser(id="boss", name="The Boss")
        await chat.say("2   not today  ")

    [resume] = copilot.resumes
    assert resume["requester"].object_id == "boss"
    assert resume["approve"] is False
    assert resume["comment"] == "not today"


async def test_a_comment_is_not_invented_for_a_card_without_a_comment_box() -> None:
    copilot = FakeCopilot(plans={"give me a pass": Plan()})

    async with _session(copilot) as chat:
        await chat.say("give me a pass")
        await chat.say("1 sure")

    [resume] = copilot.resumes
    assert resume["comment"] == ""


def test_cards_render_as_text_with_numbered_choices() -> None:
    card = {
        "type": "AdaptiveCard",
        "body": [
            {"type": "TextBlock", "text": "Reset the password of dana@contoso.com?"},
            {"type": "FactSet", "facts": [{"title": "Account", "value": "dana"}]},
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Approve", "data": {"a": "approve"}},
            {"type": "Action.Submit", "title": "Cancel", "data": {"a": "cancel"}},
            {"type": "Action.OpenUrl", "title": "Policy", "url": "https://x"},
        ],
    }
    activity = {
        "type": "message",
        "text": "",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }

    text, choices = render(activity)

    assert text == (
        "Reset the password of dana@contoso.com?\n  Account: dana\n"
        "  1. Approve  2. Cancel"
    )
    assert choices == [{"a": "approve"}, {"a": "cancel"}]


async def test_two_cards_in_one_answer_are_numbered_on() -> None:
    copilot = FakeCopilot(plans={"two things": Plan(count=2)})
    out: list[str] = []

    async with _session(copilot) as chat:
        await run_chat(chat, _lines("two things", "3"), out.append)
        second_card = chat.choices[2]["approval"]

    assert "  1. Approve  2. Cancel" in out[1]
    assert "  3. Approve  4. Cancel" in out[2]
    [resume] = copilot.resumes
    assert resume["approval_id"] == second_card
    assert resume["approve"] is True


def _demo_org() -> FakeDirectory:
    directory = FakeDirectory()
    directory.add("local-user", "Alex Employee")
    directory.add("sam-rivera", "Sam Rivera", "helpdesk")
    directory.add("sam-ortiz", "Sam Ortiz")
    return directory


@pytest.mark.parametrize(
    ("as_user", "expected"),
    [
        (None, ChatUser(id="local-user", name="Alex Employee")),
        ("sam-rivera", ChatUser(id="sam-rivera", name="Sam Rivera")),
        ("sam-rivera@contoso.example", ChatUser(id="sam-rivera", name="Sam Rivera")),
        ("Sam Rivera", ChatUser(id="sam-rivera", name="Sam Rivera")),
        ("Sam", ChatUser(id="sam", name="Sam")),
        ("Jo New-Hire", ChatUser(id="jo-new-hire", name="Jo New-Hire")),
    ],
    ids=["default", "object-id", "upn", "name", "ambiguous", "unknown"],
)
async def test_the_chat_user_is_the_directorys_person(
    as_user: str | None, expected: ChatUser
) -> None:
    copilot = FakeCopilot()

    async with _session(copilot, _demo_org(), as_user=as_user) as chat:
        await chat.say("hello")

    assert chat.user == expected
    [call] = copilot.calls
    assert call.requester.object_id == expected.id
    known = expected.id in ("local-user", "sam-rivera")
    assert call.requester.upn == (f"{expected.id}@contoso.example" if known else None)
    assert ("helpdesk" in call.requester.roles) is (expected.id == "sam-rivera")
