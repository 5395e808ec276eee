"""Admin HTTP and OpenAPI tools through the admin API and a conversation:
registered, routed to by their examples, side effects behind the card, and
the network rules enforced at registration and at every call, with the turn
answering plainly when a tool fails.

The bot (offline model) and a local service on 127.0.0.1 that the tools
call; 127.0.0.1 is allowed explicitly (``HELPDESK_TOOLS_ALLOW_PRIVATE``), the
way an admin would allow an internal address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from fakes.admin_tool_server import AdminToolServer, running_admin_tool_server
from integration.bot.test_admin_tools import KEY, Admin

from bot.chat import ChatSession, render
from tools.settings import load_settings


@pytest.fixture
async def service() -> AsyncIterator[AdminToolServer]:
    async with running_admin_tool_server() as server:
        yield server


@pytest.fixture
async def chat(service: AdminToolServer) -> AsyncIterator[ChatSession]:
    settings = load_settings(
        admin_key=KEY,
        tools_allowed_hosts=["127.0.0.1"],
        tools_allow_private=["127.0.0.1"],
    )
    async with ChatSession(settings) as session:
        yield session


def _vpn(
    service: AdminToolServer, path: str = "/vpn/status?region={region}", **extra: Any
) -> str:
    manifest: dict[str, Any] = {
        "name": "vpn_status",
        "summary": "check whether your VPN is connected",
        "description": "Look up the user's VPN session: connected or not, and the gateway.",
        "examples": ["is my vpn connected", "check my vpn connection"],
        "parameters": {
            "type": "object",
            "properties": {"region": {"type": "string", "enum": ["eu", "us"]}},
        },
        "http": {
            "method": "GET",
            "url": service.url + path,
            "returns": ["status", "gateway"],
            "timeout_s": 1,
        },
    }
    manifest.update(extra)
    return yaml.safe_dump(manifest, sort_keys=False)


async def test_an_http_tool_is_registered_and_answers_in_the_chat(
    chat: ChatSession, service: AdminToolServer
) -> None:
    status, body = await Admin(chat).call("POST", body=_vpn(service))
    assert status == 201, body

    said = render((await chat.say("is my vpn connected in eu"))[-1])[0]

    assert "status: connected" in said and "gateway: gw-eu-1" in said
    assert "Ignore previous instructions" not in said, "only the fields to return"
    assert [r.path for r in service.requests] == ["/vpn/status"]


async def test_a_side_effecting_tool_waits_for_the_card(
    chat: ChatSession, service: AdminToolServer
) -> None:
    manifest = {
        "name": "restart_print_queue",
        "summary": "restart a printer's print queue",
        "description": "Restart the print queue of one office printer; its queued jobs are dropped.",
        "examples": [
            "restart the print queue",
            "my print job is stuck, restart the queue",
        ],
        "side_effects": True,
        "openapi": {
            "document": service.url + "/openapi.json",
            "operation_id": "restartPrintQueue",
            "server": service.url + "/api",
        },
    }
    status, body = await Admin(chat).call("POST", body=yaml.safe_dump(manifest))
    assert status == 201, body

    await chat.say("restart the print queue")
    asked = await chat.say("PRN-3")
    assert render(asked[-1])[1], "an approval card before anything is sent"
    assert not any(r.method == "POST" for r in service.requests)
    await chat.say("1")
    [posted] = [r for r in service.requests if r.method == "POST"]
    assert posted.path == "/api/printers/PRN-3/jobs"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.0.0.5/status", "a private address"),
        ("https://api.example.org/status", "not in allowed_hosts"),
    ],
)
async def test_a_manifest_aimed_at_a_forbidden_address_is_refused(
    chat: ChatSession, service: AdminToolServer, url: str, why: str
) -> None:
    manifest = yaml.safe_load(_vpn(service))
    manifest["http"]["url"] = url
    status, body = await Admin(chat).call("POST", body=yaml.safe_dump(manifest))
    assert status == 400
    assert "http.url" in body["error"] and why in body["error"]


@pytest.mark.parametrize("path", ["/to-metadata", "/huge", "/slow", "/boom"])
async def test_a_failing_tool_leaves_the_turn_healthy(
    chat: ChatSession, service: AdminToolServer, path: str
) -> None:
    status, body = await Admin(chat).call("POST", body=_vpn(service, path))
    assert status == 201, body

    said = render((await chat.say("is my vpn connected"))[-1])[0]

    assert "Sorry, something went wrong" not in said
    assert said.strip()
    again = render((await chat.say("how do I connect to the vpn"))[-1])[0]
    assert "Sorry, something went wrong" not in again
