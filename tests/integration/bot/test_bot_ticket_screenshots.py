"""Screenshots onto tickets, through ``/api/messages`` on the embedded service desk.

The real agent (offline model), the real ticket tools and the embedded ticket
system; the employee's files are served by a local file host, as the Bot
Connector and OneDrive serve them in Teams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.file_server import HUGE_BYTES, PNG, FileServer, serve_files
from fakes.servicenow_server import PASSWORD, USER, serve_fake_servicenow

from bot.chat import ChatSession, message_activity, render
from tools.settings import load_settings
from tools.tickets.pending import pending_files


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    async with serve_files() as server:
        yield server


@pytest.fixture
async def chat() -> AsyncIterator[ChatSession]:
    async with ChatSession(load_settings()) as session:
        yield session


def _pasted(files: FileServer, path: str = "/screenshot.png") -> dict[str, Any]:
    """A pasted image as Teams sends it: ``image/*`` on the connector, and
    the HTML copy of the message."""
    return {"contentType": "image/*", "contentUrl": files.url(path)}


_HTML_COPY = {"contentType": "text/html", "content": "<p><img src='x'></p>"}


async def _send(
    chat: ChatSession,
    attachments: list[dict[str, Any]],
    *,
    text: str | None = None,
    activity_id: str | None = None,
) -> list[dict[str, Any]]:
    """Post a message with files; returns what the bot answered."""
    activity = message_activity(
        service_url=chat.connector.url,
        conversation_id=chat.conversation_id,
        user=chat.user,
        text=text,
        activity_id=activity_id,
    )
    activity["attachments"] = attachments
    assert await chat.post(activity) == 200
    return await chat.news()


def _text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(render(m)[0] for m in messages)


def _cards(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if render(m)[1]]


async def _waiting(chat: ChatSession) -> list[str]:
    found = await pending_files(
        chat.services.db,
        thread_id=f"{chat.user.tenant_id}:{chat.conversation_id}",
        user_id=chat.user.id,
    )
    return [f.name for f in found]


async def _open_ticket(chat: ChatSession) -> str:
    await chat.say("my vpn keeps dropping every hour")
    await chat.say("open a ticket")
    await chat.say("1")
    [ticket] = await chat.services.tickets.alist(open_only=False)
    return str(ticket.number)


async def test_a_screenshot_sent_alone_goes_on_my_ticket_when_i_ask(
    chat: ChatSession, files: FileServer
) -> None:
    number = await _open_ticket(chat)

    got = _text(await _send(chat, [_pasted(files), _HTML_COPY]))
    assert "Got your screenshot (screenshot.png)" in got
    assert '"add it to my ticket"' in got
    assert "describe the problem in words" in got

    asked = await chat.say("add it to my ticket")
    [card] = _cards(asked)
    shown = render(card)[0]
    assert f"Add to {number}" in shown
    assert "Attach: screenshot.png (" in shown
    assert await chat.services.tickets.adetails(number) is not None
    assert (await chat.services.tickets.adetails(number)).attachments == []

    done = _text(await chat.say("1"))
    assert f"Added 1 file (screenshot.png) to {number}" in done

    details = await chat.services.tickets.adetails(number)
    assert [(a.name, a.content_type, a.size) for a in details.attachments] == [
        ("screenshot.png", "image/png", len(PNG))
    ]
    assert [c.body for c in details.ticket.comments] == []  # no words, no comment
    assert await _waiting(chat) == []


async def test_a_screenshot_with_words_opens_a_ticket_that_carries_it(
    chat: ChatSession, files: FileServer
) -> None:
    asked = await _send(
        chat,
        [_pasted(files), _HTML_COPY],
        text="here is the error, open a ticket",
    )
    [card] = _cards(asked)
    assert "Attach: screenshot.png (" in render(card)[0]

    done = _text(await chat.say("1"))

    [ticket] = await chat.services.tickets.alist(open_only=False)
    assert f"Your ticket {ticket.number} is open" in done
    assert "I attached 1 file (screenshot.png)" in done
    details = await chat.services.tickets.adetails(ticket.number)
    assert [a.name for a in details.attachments] == ["screenshot.png"]
    assert await _waiting(chat) == []


async def test_the_same_message_posted_twice_keeps_the_screenshot_once(
    chat: ChatSession, files: FileServer
) -> None:
    first = await _send(chat, [_pasted(files)], activity_id="1700000000123")
    again = await _send(chat, [_pasted(files)], activity_id="1700000000123")

    assert len(first) == 1
    assert again == []
    assert await _waiting(chat) == ["screenshot.png"]
    assert files.paths() == ["/screenshot.png"]


async def test_only_the_files_the_card_named_are_attached(
    chat: ChatSession, files: FileServer
) -> None:
    number = await _open_ticket(chat)
    await _send(chat, [_pasted(files)])
    asked = await chat.say("attach it to " + number)
    assert "Attach: screenshot.png" in _text(_cards(asked))

    # Another file arrives while the card waits; the card did not name it.
    later = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "report.pdf",
        "content": {"downloadUrl": files.url("/report.pdf"), "fileType": "pdf"},
    }
    await _send(chat, [later])
    await chat.say("1")

    details = await chat.services.tickets.adetails(number)
    assert [a.name for a in details.attachments] == ["screenshot.png"]
    assert await _waiting(chat) == ["report.pdf"]


async def test_a_comment_and_a_screenshot_go_on_together(
    chat: ChatSession, files: FileServer
) -> None:
    number = await _open_ticket(chat)
    await _send(chat, [_pasted(files)])

    await chat.say(f"add to {number} that it also drops in the office")
    done = _text(await chat.say("1"))

    assert f"Added your comment and 1 file (screenshot.png) to {number}" in done
    details = await chat.services.tickets.adetails(number)
    assert [c.body for c in details.ticket.comments] == ["it also drops in the office"]
    assert [a.name for a in details.attachments] == ["screenshot.png"]


async def test_files_that_cannot_be_kept_are_told_plainly_and_the_rest_goes_on(
    chat: ChatSession, files: FileServer
) -> None:
    too_big = {"contentType": "image/png", "contentUrl": files.url("/huge.png")}
    page = {"contentType": "image/png", "contentUrl": files.url("/page.png")}
    outside = {"contentType": "image/png", "contentUrl": "http://203.0.113.9/a.png"}

    answer = _text(await _send(chat, [too_big, page, outside, _pasted(files)]))

    assert "larger than 5 MB" in answer
    assert "I can't add" in answer
    assert "couldn't download" in answer
    assert "Got your screenshot (screenshot-4.png)" in answer
    assert await _waiting(chat) == ["screenshot-4.png"]
    assert HUGE_BYTES > 5 * 1024 * 1024  # announced as such


async def test_a_failed_download_with_words_still_runs_the_turn(
    chat: ChatSession, files: FileServer
) -> None:
    answer = await _send(
        chat,
        [{"contentType": "image/png", "contentUrl": files.url("/huge.png")}],
        text="how do I connect to the vpn",
    )

    assert "larger than 5 MB" in render(answer[0])[0]
    assert len(answer) >= 2  # and the answer to the question
    assert await _waiting(chat) == []


def _servicenow_settings(url: str) -> Any:
    return load_settings(
        ticket_backend="servicenow",
        servicenow_url=url,
        servicenow_user=USER,
        servicenow_password=PASSWORD,
        servicenow_timeout_s=0.5,
    )


async def test_servicenow_gets_the_screenshot_through_its_attachment_api(
    files: FileServer,
) -> None:
    async with serve_fake_servicenow() as fake:
        fake.add_user("alex@contoso.example", "Alex Employee")
        async with ChatSession(_servicenow_settings(fake.url)) as chat:
            await _send(chat, [_pasted(files)], text="here is the error, open a ticket")
            done = _text(await chat.say("1"))
            waiting = await _waiting(chat)

    [incident] = fake.incidents
    [upload] = fake.attachments
    assert "I attached 1 file (screenshot.png)" in done
    assert upload["meta"]["table_sys_id"] == incident["sys_id"]
    assert (upload["meta"]["file_name"], upload["data"]) == ("screenshot.png", PNG)
    assert waiting == []


async def test_a_ticket_still_on_its_way_keeps_the_screenshot_waiting(
    files: FileServer,
) -> None:
    async with serve_fake_servicenow() as fake:
        fake.add_user("alex@contoso.example", "Alex Employee")
        fake.fail_next(503, path_contains="/api/now/table/incident")
        async with ChatSession(_servicenow_settings(fake.url)) as chat:
            await _send(chat, [_pasted(files)], text="here is the error, open a ticket")
            done = _text(await chat.say("1"))
            waiting = await _waiting(chat)

    assert "isn't answering right now" in done
    assert "I'm keeping your files" in done
    assert fake.attachments == []
    assert waiting == ["screenshot.png"]


async def test_asking_to_attach_with_nothing_sent_says_so(chat: ChatSession) -> None:
    number = await _open_ticket(chat)

    said = await chat.say("add this screenshot to my ticket")

    assert _cards(said) == []
    assert "I don't have a screenshot or file from you" in _text(said)
    assert (await chat.services.tickets.aget(number)).comments == []
