"""The terminal chat: questions in, answers with numbered sources and choices out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fakes.bot_services import services_factory
from fakes.copilot import FakeCopilot, copilot_factory

from bot.chat import ChatSession, ChatUser, render, run_chat
from tools.settings import load_settings


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


def _session(copilot: FakeCopilot, **options: object) -> ChatSession:
    return ChatSession(
        load_settings(),
        app_options={
            "services_factory": services_factory(),
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
        "you> and wifi?",
        "helpdesk> Answer #2 in this thread: and wifi? [1]\nSources:\n"
        "  [1] Fix VPN connection problems <https://kb.example.com/vpn>",
    ]
    assert {c.requester.object_id for c in copilot.calls} == {"dana"}


async def test_a_numbered_answer_posts_the_card_choice_as_value() -> None:
    copilot = FakeCopilot()

    async with _session(copilot) as chat:
        chat.choices = [{"action": "approve", "request": "REQ-1"}]
        [reply] = await chat.say("1")
        [posted] = [c for c in chat.connector.calls if c.activity["type"] == "message"]

    assert copilot.calls == []
    assert "couldn't use that choice" in reply["text"]
    assert posted.reply_to_id  # answered the submit, not a new message


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
        "  1. Approve\n  2. Cancel"
    )
    assert choices == [{"a": "approve"}, {"a": "cancel"}]
