"""Admins register tools without a deploy: through ``/admin/api/tools``, an MCP
server's tools are offered on the next turn, a side-effecting one asks for
approval, a disabled tool is gone in a second bot process too, and bad input
is a 4xx naming the field.

Real bot processes (offline model) on one app database, and a real MCP server
(the printers server in ``tests/fakes``, built with the MCP SDK) over stdio.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request
from fakes.mcp_process import PrinterHttpServer, free_port
from fakes.openid_server import OpenIdServer

from bot.admin_api import AdminAuth, Refused
from bot.chat import ChatSession, render
from tools.custom.health import HealthWatch
from tools.settings import load_settings

KEY = "admin-key-for-tests"
PRINTERS = Path(__file__).resolve().parents[2] / "fakes" / "mcp_printers.py"


def _printers(name: str = "printers") -> str:
    return yaml.safe_dump(
        {
            "name": name,
            "description": "Office printers on floor 3",
            "mcp": {
                "transport": {
                    "kind": "stdio",
                    "command": sys.executable,
                    "args": [str(PRINTERS)],
                },
                "tools": ["printer_status", "restart_spooler"],
            },
            "examples": {
                "printer_status": ["is the printer on floor 3 working"],
                "restart_spooler": ["restart the print spooler on the printer"],
            },
        },
        sort_keys=False,
    )


class Admin:
    """Calls the admin API of one running bot."""

    def __init__(self, chat: ChatSession, key: str | None = KEY) -> None:
        self.chat = chat
        self.base = chat.url.rsplit("/api/messages", 1)[0] + "/admin/api/tools"
        self.headers = {"X-Admin-Key": key} if key else {}

    async def call(
        self,
        method: str,
        path: str = "",
        *,
        body: str | bytes | None = None,
        content_type: str = "application/yaml",
        json_body: Any = None,
    ) -> tuple[int, Any]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        http = self.chat._http
        assert http is not None
        async with http.request(
            method, self.base + path, data=body, json=json_body, headers=headers
        ) as response:
            text = await response.text()
            return response.status, (await response.json() if text else None)


@pytest.fixture
async def bots(
    app_database_url: str | None,
) -> AsyncIterator[tuple[ChatSession, ChatSession]]:
    settings = load_settings(
        database_url=app_database_url,
        admin_key=KEY,
        tools_allowed_hosts=["127.0.0.1"],
        tools_allow_private=["127.0.0.1"],
    )
    async with ChatSession(settings) as one, ChatSession(settings) as two:
        yield one, two


async def test_an_mcp_server_is_registered_and_two_of_its_tools_used_in_a_chat(
    bots: tuple[ChatSession, ChatSession],
) -> None:
    one, _ = bots
    admin = Admin(one)
    status, added = await admin.call("POST", body=_printers())
    assert status == 201, added
    assert (added["name"], added["kind"], added["version"]) == ("printers", "mcp", 1)

    asked = await one.say("is the printer on floor 3 working")
    assert "printer" in render(asked[-1])[0].lower()
    answer = await one.say("P3")
    assert "Printer P3: ready" in render(answer[-1])[0]

    # The spooler restart changes something: it waits for the employee's card.
    await one.say("restart the print spooler on the printer")
    card = await one.say("P3")
    assert "restart_spooler" in render(card[-1])[0]
    assert render(card[-1])[1], "an approval card with choices"
    done = await one.say("1")
    assert "Print spooler on P3 restarted" in render(done[-1])[0]

    status, listed = await admin.call("GET")
    assert status == 200
    names = {t["name"]: t for t in listed["tools"]}
    assert names["printers"]["kind"] == "mcp"
    assert names["search_knowledge"]["kind"] == "builtin"


async def test_a_disabled_tool_is_gone_on_the_next_turn_in_another_process(
    bots: tuple[ChatSession, ChatSession],
) -> None:
    one, two = bots
    await Admin(one).call("POST", body=_printers())
    first = await two.say("is the printer on floor 3 working")
    assert "printer" in render(first[-1])[0].lower()

    status, row = await Admin(one).call("POST", "/printers/disable")
    assert (status, row["enabled"]) == (200, False)

    await two.say("is the printer on floor 3 working")
    registry = two.services.registry
    assert not any(n.startswith("printers_") for n in registry.enabled_names())

    status, detail = await Admin(two).call("GET", "/printers")
    assert status == 200
    assert [h["action"] for h in detail["history"]] == ["add", "disable"]
    assert detail["history"][1]["by"] == "local admin key"


async def test_a_built_in_tool_can_be_switched_off_and_on_but_not_removed(
    bots: tuple[ChatSession, ChatSession],
) -> None:
    one, two = bots
    admin = Admin(one)
    assert (await admin.call("POST", "/revoke_sessions/disable"))[0] == 200
    await two.say("hello")
    assert "revoke_sessions" not in two.services.registry.enabled_names()
    status, body = await admin.call("DELETE", "/revoke_sessions")
    assert status == 400 and "disable it instead" in body["error"]
    assert (await admin.call("POST", "/revoke_sessions/enable"))[0] == 200
    await two.say("hello again")
    assert "revoke_sessions" in two.services.registry.enabled_names()


async def test_bad_requests_are_4xx_that_say_what_is_wrong(
    bots: tuple[ChatSession, ChatSession],
) -> None:
    one, _ = bots
    admin = Admin(one)
    no_description = "name: vpn_status\nhttp: {method: GET, url: 'https://vpn.contoso.example/status'}\n"
    status, body = await admin.call("POST", body=no_description)
    assert status == 400 and "description" in body["error"]

    pasted = yaml.safe_dump(
        {
            "name": "vpn_status",
            "description": "Tells whether the VPN gateway is up for the user's region.",
            "http": {
                "method": "GET",
                "url": "https://vpn.contoso.example/status",
                "headers": {"Authorization": "Bearer " + "A1b2C3d4E5f6G7h8" * 3},
            },
        }
    )
    status, body = await admin.call("POST", body=pasted)
    assert status == 400 and "secret" in body["error"].lower()
    assert "A1b2C3d4" not in body["error"], "the pasted value is not echoed"

    far = yaml.safe_load(_printers("far_printers"))
    far["mcp"]["transport"] = {
        "kind": "streamable_http",
        "url": "http://169.254.169.254/mcp",
    }
    status, body = await admin.call("POST", body=yaml.safe_dump(far))
    assert status == 400 and "mcp.transport.url" in body["error"]

    assert (await admin.call("POST", body="{}", content_type="text/html"))[0] == 415
    huge = "description: " + "x" * 300_000
    assert (await admin.call("POST", body=huge))[0] == 413
    assert (await admin.call("GET", "/no_such_tool"))[0] == 404
    status, body = await admin.call("POST", "/printers/test", json_body={"args": [1]})
    assert status in (400, 404)
    clash = _printers("search_knowledge")
    status, body = await admin.call("POST", body=clash)
    assert status == 400 and "built-in" in body["error"]


async def test_without_the_local_key_the_api_refuses(
    app_database_url: str | None,
) -> None:
    keyless = load_settings(database_url=app_database_url)
    async with ChatSession(keyless) as chat:
        status, body = await Admin(chat, key=KEY).call("GET")
        assert status == 403 and "HELPDESK_ADMIN_KEY" in body["error"]
    keyed = load_settings(database_url=app_database_url, admin_key=KEY)
    async with ChatSession(keyed) as chat:
        assert (await Admin(chat, key="wrong").call("GET"))[0] == 401
        assert (await Admin(chat, key=None).call("GET"))[0] == 401
        assert (await Admin(chat).call("GET"))[0] == 200


def _request(token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return make_mocked_request("GET", "/admin/api/tools", headers=headers)


async def test_signed_mode_wants_an_entra_token_with_the_admin_role() -> None:
    app_id = str(uuid.uuid4())
    with OpenIdServer() as keys:
        settings = load_settings(
            app_id=app_id,
            app_password="not-used-here",
            admin_openid_metadata_url=keys.metadata_url,
        )
        auth = AdminAuth(settings)

        admin = keys.sign(
            audience=app_id,
            claims={
                "roles": ["Helpdesk.Admin"],
                "preferred_username": "ada@contoso.example",
            },
        )
        who = await auth.check(_request(admin))
        assert who.who == "ada@contoso.example"

        for token, status in (
            (None, 401),
            ("not-a-jwt", 401),
            (keys.sign(audience=app_id, claims={"roles": ["Reader"]}), 403),
            (
                keys.sign(
                    audience="someone-else", claims={"roles": ["Helpdesk.Admin"]}
                ),
                401,
            ),
        ):
            with pytest.raises(Refused) as refused:
                await auth.check(_request(token))
            assert refused.value.status == status
        local_key = make_mocked_request(
            "GET", "/admin/api/tools", headers={"X-Admin-Key": KEY}
        )
        with pytest.raises(Refused) as refused:
            await auth.check(local_key)
        assert refused.value.status == 401, "no local key in signed mode"


async def test_a_server_that_goes_away_loses_its_tools_until_it_returns(
    bots: tuple[ChatSession, ChatSession], tmp_path: Path
) -> None:
    one, two = bots
    server = PrinterHttpServer(free_port(), tmp_path / "mcp.log")
    server.start()
    try:
        registration = yaml.safe_load(_printers())
        registration["mcp"]["transport"] = {
            "kind": "streamable_http",
            "url": server.url,
        }
        assert (await Admin(one).call("POST", body=yaml.safe_dump(registration)))[
            0
        ] == 201
        watch = HealthWatch(one.services, every_s=0)
        assert await watch.run_once() == 1  # first look: healthy
        await two.say("hello")
        assert "printers_printer_status" in two.services.registry.enabled_names()

        server.stop()
        assert await watch.run_once() == 1
        await two.say("hello again")
        assert "printers_printer_status" not in two.services.registry.enabled_names()
        _, listed = await Admin(two).call("GET")
        [row] = [t for t in listed["tools"] if t["name"] == "printers"]
        assert row["health"] == "unhealthy"

        server.start()
        assert await watch.run_once() == 1
        await two.say("and again")
        assert "printers_printer_status" in two.services.registry.enabled_names()
    finally:
        server.stop()


async def test_one_tool_of_a_server_is_switched_on_its_own(
    bots: tuple[ChatSession, ChatSession],
) -> None:
    one, two = bots
    admin = Admin(one)
    assert (await admin.call("POST", body=_printers()))[0] == 201
    status, row = await admin.call("POST", "/printers_restart_spooler/disable")
    assert status == 200 and (row["kind"], row["enabled"]) == ("mcp tool", False)

    await two.say("hello")
    names = two.services.registry.enabled_names()
    assert "printers_printer_status" in names
    assert "printers_restart_spooler" not in names

    assert (await admin.call("POST", "/printers_restart_spooler/enable"))[0] == 200
    await two.say("hello again")
    assert "printers_restart_spooler" in two.services.registry.enabled_names()
