"""The bot's own token for pasted images: from the turn's credentials, signed mode only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.bot_credentials import FIXED_OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from fakes.openid_server import OpenIdServer

from bot.adapter import BotHost
from bot.chat import ChatUser, message_activity
from bot.inbound import Inbound, parse_activity
from tools.settings import load_settings

APP_ID = "00000000-0000-0000-0000-0000000f11e5"
SERVICE_URL = "http://127.0.0.1:9/"
"""Never called: the handler below sends nothing."""


class _TokenReader:
    """A handler that only asks the outbox for the connector token."""

    def __init__(self) -> None:
        self.tokens: list[str | None] = []

    async def handle(self, inbound: Inbound, outbox: Any) -> None:
        self.tokens.append(await outbox.connector_token())


@pytest.fixture
def openid() -> Iterator[OpenIdServer]:
    with OpenIdServer() as server:
        yield server


def _activity() -> dict[str, Any]:
    return message_activity(
        service_url=SERVICE_URL,
        conversation_id="a:1",
        user=ChatUser(tenant_id="contoso"),
        text=None,
    )


async def test_a_signed_turn_gets_the_bots_token(openid: OpenIdServer) -> None:
    settings = load_settings(
        app_id=APP_ID,
        app_password="not-a-real-secret",
        allowed_tenants="*",
        openid_metadata_url=openid.metadata_url,
        token_issuer="https://api.botframework.com",
    )
    reader = _TokenReader()
    host = BotHost(
        settings,
        reader,  # type: ignore[arg-type]
        credentials_factory=FixedTokenCredentialsFactory(APP_ID),
    )
    body = _activity()
    bearer = openid.sign(audience=APP_ID, service_url=SERVICE_URL)

    checked = await host.authenticate(body, f"Bearer {bearer}")
    await host.run(checked, parse_activity(body))

    assert reader.tokens == [FIXED_OUTBOUND_TOKEN]


async def test_a_local_turn_has_no_token() -> None:
    reader = _TokenReader()
    host = BotHost(load_settings(), reader)  # type: ignore[arg-type]
    body = _activity()

    checked = await host.authenticate(body, None)
    await host.run(checked, parse_activity(body))

    assert reader.tokens == [None]
