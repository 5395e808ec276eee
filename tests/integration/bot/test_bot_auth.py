"""Inbound tokens: only the channel's signed calls reach the handler."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from fakes.bot_credentials import FIXED_OUTBOUND_TOKEN, FixedTokenCredentialsFactory
from fakes.bot_harness import RunningBot, run_bot
from fakes.openid_server import OpenIdServer, new_key
from fakes.outbound import OutboundAttempts

from bot.connector import LocalConnector
from tools.settings import load_settings

APP_ID = "00000000-0000-0000-0000-00000000b07"


@pytest.fixture
def openid() -> Iterator[OpenIdServer]:
    with OpenIdServer() as server:
        yield server


@pytest.fixture
async def signed_bot(
    openid: OpenIdServer, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    settings = load_settings(
        app_id=APP_ID,
        app_password="not-a-real-secret",
        allowed_tenants="*",
        openid_metadata_url=openid.metadata_url,
        token_issuer="https://api.botframework.com",
    )
    factory = FixedTokenCredentialsFactory(APP_ID)
    async with run_bot(settings, connector, credentials_factory=factory) as bot:
        yield bot


async def test_a_token_signed_like_the_channels_is_accepted(
    signed_bot: RunningBot, openid: OpenIdServer
) -> None:
    token = openid.sign(audience=APP_ID, service_url=signed_bot.connector.url)

    status, _ = await signed_bot.post(
        signed_bot.activity("hello"), headers={"Authorization": f"Bearer {token}"}
    )

    assert status == 200
    [call] = signed_bot.copilot.calls
    assert call.text == "hello"
    replies = [c for c in signed_bot.connector.calls if c.activity["type"] == "message"]
    assert replies, "the answer (and its fix question) went out"
    assert {r.authorization for r in replies} == {f"Bearer {FIXED_OUTBOUND_TOKEN}"}


def _bad_headers(openid: OpenIdServer, service_url: str) -> dict[str, dict[str, str]]:
    def bearer(**options: object) -> dict[str, str]:
        options.setdefault("audience", APP_ID)
        options.setdefault("service_url", service_url)
        return {"Authorization": "Bearer " + openid.sign(**options)}  # type: ignore[arg-type]

    return {
        "no-header": {},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "expired": bearer(expires_in=-3600),
        "wrong-audience": bearer(audience="someone-elses-bot"),
        "other-key": bearer(key=new_key()),
        "wrong-issuer": bearer(issuer="https://evil.example"),
        "wrong-service-url": bearer(service_url="https://evil.example/"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "no-header",
        "garbage",
        "not-bearer",
        "expired",
        "wrong-audience",
        "other-key",
        "wrong-issuer",
        "wrong-service-url",
    ],
)
async def test_unsigned_or_forged_calls_get_401_before_any_handler(
    signed_bot: RunningBot, openid: OpenIdServer, case: str
) -> None:
    headers = _bad_headers(openid, signed_bot.connector.url)[case]

    status, _ = await signed_bot.post(
        signed_bot.activity("reset my password"), headers=headers
    )

    assert status == 401
    assert signed_bot.copilot.calls == []
    assert signed_bot.connector.calls == []


@pytest.mark.parametrize(
    "service_url",
    ["http://169.254.169.254/", "https://smba.trafficmanager.net/teams/"],
    ids=["metadata", "another-connector"],
)
async def test_a_token_for_one_service_url_cannot_send_replies_to_another(
    signed_bot: RunningBot,
    openid: OpenIdServer,
    outbound: OutboundAttempts,
    service_url: str,
) -> None:
    # A genuine channel token, replayed on an activity that names another URL.
    token = openid.sign(audience=APP_ID, service_url=signed_bot.connector.url)
    activity = signed_bot.activity("reset my password")
    activity["serviceUrl"] = service_url

    status, text = await signed_bot.post(
        activity, headers={"Authorization": f"Bearer {token}"}
    )
    await signed_bot.settle()

    assert (status, json.loads(text)) == (401, {"error": "unauthorised"})
    assert signed_bot.copilot.calls == []
    assert signed_bot.connector.calls == []
    assert outbound.outside() == []


@pytest.mark.parametrize("service_url", [None, "not a url"], ids=["missing", "words"])
async def test_a_signed_activity_without_a_usable_service_url_gets_400(
    signed_bot: RunningBot,
    openid: OpenIdServer,
    outbound: OutboundAttempts,
    service_url: str | None,
) -> None:
    token = openid.sign(audience=APP_ID, service_url=str(service_url))
    activity = signed_bot.activity("reset my password")
    activity["serviceUrl"] = service_url

    status, text = await signed_bot.post(
        activity, headers={"Authorization": f"Bearer {token}"}
    )

    assert status == 400
    assert "'serviceUrl'" in json.loads(text)["error"]
    assert signed_bot.copilot.calls == []
    assert signed_bot.connector.calls == []
    assert outbound.outside() == []


async def test_local_mode_ignores_a_token_instead_of_fetching_cloud_keys(
    bot: RunningBot, openid: OpenIdServer, outbound: OutboundAttempts
) -> None:
    token = openid.sign(audience="any-bot", service_url=bot.connector.url)

    status, _ = await bot.post(
        bot.activity("hello"), headers={"Authorization": f"Bearer {token}"}
    )

    assert status == 200
    assert [c.text for c in bot.copilot.calls] == ["hello"]
    assert outbound.outside() == []


@web.middleware
async def _from_another_machine(request: web.Request, handler):
    return await handler(request.clone(remote="203.0.113.7"))


async def test_local_mode_refuses_calls_from_other_machines(
    connector: LocalConnector,
) -> None:
    settings = load_settings()
    async with run_bot(
        settings, connector, middlewares=(_from_another_machine,)
    ) as bot:
        status, _ = await bot.post(bot.activity("hello"))

    assert status == 401
    assert bot.copilot.calls == []
