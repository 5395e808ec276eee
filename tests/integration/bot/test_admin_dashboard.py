"""The admin dashboard through the real app on a loopback port: who may see it,
signing in and out with the session cookie, the window, the JSON for scripts,
and employees' words escaped on the page.

The bot runs with the fake copilot and the real app database, into which the
tests write analytics events the way the hooks do.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
from fakes.bot_harness import RunningBot, run_bot
from fakes.openid_server import OpenIdServer

from bot.admin_dashboard import EMPTY_WINDOW, OUTCOME_LABELS, SESSIONS_KEY
from bot.admin_session import SESSION_COOKIE, SESSION_TTL_S
from bot.app import SERVICES_KEY
from bot.connector import LocalConnector
from tools.analytics.events import EventKind, new_event, record
from tools.settings import Settings, load_settings

KEY = "dashboard-key-for-tests"
GAP = 'vpn drops every hour <script>alert("x")</script>'
COMMENT = "too long <img src=x onerror=alert(1)>"
ARTICLE = "kb/vpn-windows.md"


@pytest.fixture
def settings() -> Settings:
    return load_settings(admin_key=KEY)


async def _seed(bot: RunningBot) -> None:
    """Four conversations: one resolved, one escalated (printer), one open with
    an unanswered question, one abandoned; a rating and a failed tool."""
    services = bot.app[SERVICES_KEY]
    settings = services.settings
    now = datetime.now(UTC)

    async def event(
        conversation: str, kind: EventKind, hours_ago: float, **fields: Any
    ) -> None:
        at = now - timedelta(hours=hours_ago)
        made = new_event(
            settings,
            kind,
            tenant_id="tenant-1",
            conversation_id=conversation,
            user_id="alex",
            at=at,
            **fields,
        )
        assert await record(services.db, made)

    await event("resolved", "turn", 72)
    await event("resolved", "resolved_by_user", 71.5)
    await event("escalated", "turn", 50)
    await event("escalated", "tool_failed", 50, tool="create_ticket")
    await event("escalated", "ticket_opened", 50, detail="printer")
    await event("open", "turn", 1)
    await event("open", "knowledge_gap", 1, tool="search_knowledge", detail=GAP)
    await event("open", "satisfaction", 0.5, value=4)
    await event("abandoned", "turn", 30)
    await event("resolved", "feedback", 71.4, value=-1, detail=COMMENT)
    await event("resolved", "article_feedback", 71.4, value=-1, detail=ARTICLE)
    await event("open", "not_fixed", 0.8)
    await event("open", "article_fixed", 0.8, value=-1, detail=ARTICLE)


@pytest.fixture
async def bot(
    settings: Settings, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    async with run_bot(settings, connector) as running:
        yield running


class Browser:
    """Requests as a browser on the dashboard makes them, cookie kept by hand
    (aiohttp's jar ignores cookies from an IP address)."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot
        self.cookie: str | None = None

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Sec-Fetch-Site": "same-origin"}
        if self.cookie is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={self.cookie}"
        return {**headers, **(extra or {})}

    async def get(
        self, path: str = "/admin", headers: dict[str, str] | None = None
    ) -> tuple[int, str, Any]:
        async with self.bot.http.get(
            self.bot.url + path,
            headers=self.headers(headers),
            allow_redirects=False,
        ) as response:
            return response.status, await response.text(), response.headers

    async def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        async with self.bot.http.post(
            self.bot.url + path,
            data=form,
            headers=self.headers(headers),
            allow_redirects=False,
        ) as response:
            await response.read()
            for value in response.headers.getall("Set-Cookie", []):
                jar: SimpleCookie = SimpleCookie(value)
                if SESSION_COOKIE in jar:
                    morsel = jar[SESSION_COOKIE]
                    self.cookie = morsel.value if morsel["max-age"] != "0" else None
            return response

    async def sign_in(
        self,
        credential: str = KEY,
        *,
        headers: dict[str, str] | None = None,
        **form: str,
    ) -> aiohttp.ClientResponse:
        return await self.post(
            "/admin/signin", {"credential": credential, **form}, headers
        )


def _set_cookie(response: aiohttp.ClientResponse) -> str:
    [value] = [
        v for v in response.headers.getall("Set-Cookie", []) if SESSION_COOKIE in v
    ]
    return value


async def test_without_signing_in_the_page_is_a_form_with_no_figures(
    bot: RunningBot,
) -> None:
    await _seed(bot)

    status, page, headers = await Browser(bot).get("/admin?since=7d")

    assert status == 200
    assert 'action="/admin/signin"' in page and 'type="password"' in page
    assert 'name="since" value="7d"' in page
    for figure in ("Conversations", "printer", "vpn", "<svg"):
        assert figure not in page
    assert headers["Cache-Control"] == "no-store"


async def test_a_wrong_key_gets_the_form_again_with_401(bot: RunningBot) -> None:
    browser = Browser(bot)

    response = await browser.sign_in("not-the-key")

    assert response.status == 401
    assert "Set-Cookie" not in response.headers
    status, page, _ = await browser.get()
    assert status == 200 and "Sign in" in page


async def test_a_wrong_key_page_says_what_to_paste(bot: RunningBot) -> None:
    async with bot.http.post(
        bot.url + "/admin/signin", data={"credential": "nope"}
    ) as response:
        page = await response.text()
    assert response.status == 401
    assert "That admin key was not accepted" in page
    assert "HELPDESK_ADMIN_KEY" in page
    assert "nope" not in page, "what was pasted is not echoed"


async def test_signing_in_sets_a_short_strict_http_only_cookie(bot: RunningBot) -> None:
    browser = Browser(bot)

    response = await browser.sign_in(since="7d")

    assert response.status == 303
    assert response.headers["Location"] == "/admin?since=7d"
    cookie = _set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    assert f"Max-Age={SESSION_TTL_S}" in cookie and SESSION_TTL_S == 8 * 3600
    assert "Secure" not in cookie, "plain http on loopback"
    assert KEY not in cookie


async def test_behind_an_https_proxy_the_cookie_is_secure(bot: RunningBot) -> None:
    response = await Browser(bot).sign_in(headers={"X-Forwarded-Proto": "https"})

    assert response.status == 303
    assert "Secure" in _set_cookie(response)


async def test_signed_in_the_page_shows_the_figures(bot: RunningBot) -> None:
    await _seed(bot)
    browser = Browser(bot)
    await browser.sign_in()

    status, page, headers = await browser.get("/admin?since=7d")

    assert status == 200
    assert "Signed in as" in page and "local admin key" in page
    # 1 of 4 conversations each: resolved, escalated, abandoned, open.
    for label in OUTCOME_LABELS.values():
        assert f"<dt>{label}</dt><dd>25%</dd>" in page
    assert "<dt>Conversations</dt><dd>4</dd>" in page
    assert "<dt>Median time to resolution</dt><dd>30 min</dd>" in page
    assert "printer" in page and "create_ticket" in page
    assert "4.00 of 5" in page
    assert page.count("<svg") == 3
    assert "Sign out" in page

    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in page
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


async def test_a_knowledge_gap_question_is_escaped(bot: RunningBot) -> None:
    await _seed(bot)
    browser = Browser(bot)
    await browser.sign_in()

    _, page, _ = await browser.get("/admin?since=7d")

    assert "vpn drops every hour" in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


async def test_what_employees_said_is_shown_with_their_words_escaped(
    bot: RunningBot,
) -> None:
    await _seed(bot)
    browser = Browser(bot)
    await browser.sign_in()

    _, page, _ = await browser.get("/admin?since=7d")

    assert '"Did this fix it?": 1 yes, 1 no.' in html.unescape(page)
    # The article: 2 complaints (a thumbs down and a "still stuck").
    assert f'<td>{ARTICLE}</td><td class="n">2</td>' in page
    assert "<img" not in page
    assert "too long &lt;img src=x onerror=alert(1)&gt;" in page
    assert "Other figures" not in page, "every report field has its section"


async def test_an_empty_window_says_so(bot: RunningBot) -> None:
    browser = Browser(bot)
    await browser.sign_in()

    status, page, _ = await browser.get("/admin?since=7d")

    assert status == 200
    assert EMPTY_WINDOW in page and "<svg" not in page


@pytest.mark.parametrize(
    "since",
    [
        pytest.param("7x", id="unit"),
        pytest.param("seven", id="words"),
        pytest.param("0d", id="zero"),
        pytest.param("99999999999d", id="huge"),
        pytest.param("", id="empty"),
    ],
)
async def test_a_bad_window_is_a_400_with_a_plain_message(
    bot: RunningBot, since: str
) -> None:
    browser = Browser(bot)
    await browser.sign_in()

    status, page, _ = await browser.get(f"/admin?since={since}")
    assert status == 400
    assert "since:" in page

    async with bot.http.get(
        bot.url + f"/admin/api/report?since={since}", headers={"X-Admin-Key": KEY}
    ) as response:
        assert response.status == 400
        assert "since:" in (await response.json())["error"]


async def test_a_tampered_cookie_is_refused_and_cleared(bot: RunningBot) -> None:
    await _seed(bot)
    browser = Browser(bot)
    await browser.sign_in()
    assert browser.cookie is not None
    version, body, signature = browser.cookie.split(".")
    browser.cookie = f"{version}.{body}x.{signature}"

    status, page, headers = await browser.get()

    assert status == 401
    assert "Sign in again" in page and "printer" not in page
    assert f"{SESSION_COOKIE}=" in headers["Set-Cookie"]
    assert "Max-Age=0" in headers["Set-Cookie"]


async def test_an_expired_cookie_is_refused(bot: RunningBot) -> None:
    await _seed(bot)
    browser = Browser(bot)
    sessions = bot.app[SESSIONS_KEY]
    browser.cookie = sessions.issue(
        "local admin key", now=time.time() - SESSION_TTL_S - 60
    )

    status, page, _ = await browser.get()

    assert status == 401
    assert "Sign in again" in page and "printer" not in page


async def test_signing_out_clears_the_cookie(bot: RunningBot) -> None:
    await _seed(bot)
    browser = Browser(bot)
    await browser.sign_in()
    _, page, _ = await browser.get()
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]

    response = await browser.post("/admin/signout", {"token": token})

    assert response.status == 303 and response.headers["Location"] == "/admin"
    assert "Max-Age=0" in _set_cookie(response)
    assert browser.cookie is None
    status, page, _ = await browser.get()
    assert status == 200 and "printer" not in page and "Sign in" in page


async def test_signing_out_without_the_page_token_is_refused(bot: RunningBot) -> None:
    browser = Browser(bot)
    await browser.sign_in()
    signed_in = browser.cookie

    response = await browser.post("/admin/signout", {"token": "guess"})

    assert response.status == 403
    assert "Set-Cookie" not in response.headers
    assert browser.cookie == signed_in


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-metadata"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="sibling-site"),
        pytest.param(
            {"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, id="origin"
        ),
    ],
)
async def test_a_sign_in_posted_from_another_site_is_refused(
    bot: RunningBot, headers: dict[str, str]
) -> None:
    response = await Browser(bot).sign_in(headers=headers)

    assert response.status == 403
    assert "Set-Cookie" not in response.headers


async def test_the_json_report_answers_to_the_key_or_the_cookie(
    bot: RunningBot,
) -> None:
    await _seed(bot)
    url = bot.url + "/admin/api/report?since=7d"

    async with bot.http.get(url, headers={"X-Admin-Key": KEY}) as response:
        assert response.status == 200
        by_key = await response.json()
    figures = by_key["report"]
    assert figures["conversations"] == 4
    assert figures["outcomes"] == {
        "resolved": 1,
        "escalated": 1,
        "abandoned": 1,
        "open": 1,
    }
    assert figures["rates"]["resolved"] == 0.25
    assert figures["escalation_reasons"] == {"printer": 1}
    assert figures["satisfaction_mean"] == 4.0
    assert figures["gaps"][0]["examples"] == [GAP]
    [tool] = figures["tools"]
    assert (tool["tool"], tool["failure_rate"]) == ("create_ticket", 1.0)
    assert by_key["series"]["step"] == "day"
    assert sum(b["conversations"] for b in by_key["series"]["buckets"]) == 4

    browser = Browser(bot)
    await browser.sign_in()
    async with bot.http.get(url, headers=browser.headers()) as response:
        assert response.status == 200
        assert (await response.json())["report"]["outcomes"] == figures["outcomes"]

    for headers in ({}, {"X-Admin-Key": "wrong"}):
        async with bot.http.get(url, headers=headers) as response:
            assert response.status == 401
            assert "error" in await response.json()


async def test_the_tools_api_does_not_take_the_cookie(bot: RunningBot) -> None:
    browser = Browser(bot)
    await browser.sign_in()

    status, _, _ = await browser.get("/admin/api/tools")

    assert status == 401


async def test_a_header_key_shows_the_page_without_a_session(bot: RunningBot) -> None:
    await _seed(bot)

    status, page, _ = await Browser(bot).get(
        "/admin?since=7d", headers={"X-Admin-Key": KEY}
    )

    assert status == 200 and "printer" in page
    assert "Sign out" not in page


async def test_without_an_admin_key_the_dashboard_is_off(
    connector: LocalConnector,
) -> None:
    async with run_bot(load_settings(), connector) as keyless:
        browser = Browser(keyless)
        status, page, _ = await browser.get()
        assert status == 200 and "off until HELPDESK_ADMIN_KEY is set" in page

        response = await browser.sign_in("anything")
        assert response.status == 403
        assert "Set-Cookie" not in response.headers


async def test_signed_mode_signs_in_with_an_entra_token_that_has_the_role(
    connector: LocalConnector,
) -> None:
    app_id = str(uuid.uuid4())
    with OpenIdServer() as keys:
        settings = load_settings(
            app_id=app_id,
            app_password="not-used-here",
            allowed_tenants="*",
            admin_openid_metadata_url=keys.metadata_url,
        )
        async with run_bot(settings, connector) as signed:
            await _seed(signed)
            admin = keys.sign(
                audience=app_id,
                claims={
                    "roles": ["Helpdesk.Admin"],
                    "preferred_username": "ada@contoso.example",
                },
            )
            reader = keys.sign(audience=app_id, claims={"roles": ["Reader"]})

            browser = Browser(signed)
            status, page, _ = await browser.get()
            assert status == 200 and "Entra access token" in page

            response = await browser.sign_in(reader)
            assert response.status == 403
            assert "Helpdesk.Admin" in await response.text()
            assert browser.cookie is None

            response = await browser.sign_in("not-a-token")
            assert response.status == 401
            assert "That token was not accepted" in await response.text()

            response = await browser.sign_in("Bearer " + admin)
            assert response.status == 303
            assert admin not in _set_cookie(response)
            status, page, _ = await browser.get("/admin?since=7d")
            assert status == 200
            assert "ada@contoso.example" in page and "printer" in page

            # The local key means nothing in signed mode.
            status, _, _ = await Browser(signed).get(
                "/admin", headers={"X-Admin-Key": KEY}
            )
            assert status == 401
