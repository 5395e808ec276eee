"""End to end in a browser: an admin signs in to ``/admin`` and reads the figures.

``helpdesk serve`` runs on a free loopback port with its own data folder and
admin key, after the test wrote analytics events over several days into its
app database. Headless Chromium (Debian's, through Playwright, with the same
flags and loopback-only request filter as the Playground test) opens the
dashboard, signs in through the form, and the test reads what a person sees,
then checks a full-page screenshot with Pillow. Every wait is bounded and the
bot is stopped, pass or fail. Locally a missing Chromium skips; with
``CI=true`` it fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e.test_playground import (
    CHROMIUM,
    _free_port,
    _launch_chromium,
    _missing,
    _Process,
    _ready,
    _wait_until,
)
from PIL import Image

from bot.admin_dashboard import FAILURE_COLOUR, OUTCOME_COLOURS, SATISFACTION_COLOUR
from tools.analytics.events import EventKind, new_event, record
from tools.db import create_engine, upgrade
from tools.settings import load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ADMIN_KEY = "e2e-dashboard-key"
BOT_START_S = 90.0
PAGE_MS = 15_000
HOSTILE_GAP = "cannot reach the vpn from the hotel <b>wifi</b>"
CHARTS = ("chart-outcomes", "chart-satisfaction", "chart-tools")


def _seed_analytics() -> None:
    """Ten conversations over five days: 4 resolved, 3 escalated, 2 abandoned,
    1 open; three unanswered VPN questions, three ratings, two failed tools."""
    settings = load_settings()  # the test's data folder (HELPDESK_DATA_DIR)
    now = datetime.now(UTC)
    plan: list[tuple[str, EventKind, float, dict[str, Any]]] = []
    for n, days in enumerate((1, 2, 3, 4)):
        plan.append((f"resolved-{n}", "turn", days * 24 + 2, {}))
        plan.append((f"resolved-{n}", "resolved_by_user", days * 24 + 1.5, {}))
    for n, reason in enumerate(("printer", "printer", "asked for a person")):
        hours = (n + 1) * 24 + 5
        plan.append((f"escalated-{n}", "turn", hours, {}))
        kind: EventKind = (
            "ticket_opened" if reason == "printer" else "handoff_requested"
        )
        plan.append((f"escalated-{n}", kind, hours, {"detail": reason}))
        plan.append(
            (f"escalated-{n}", "tool_call", hours, {"tool": "search_knowledge"})
        )
    plan.append(("escalated-0", "tool_failed", 29, {"tool": "create_ticket"}))
    plan.append(("escalated-1", "tool_failed", 53, {"tool": "create_ticket"}))
    for n, hours in enumerate((50, 75)):
        plan.append((f"abandoned-{n}", "turn", hours, {}))
    plan.append(("open-0", "turn", 1, {}))
    for n, question in enumerate(
        ("vpn keeps dropping at home", HOSTILE_GAP, "vpn certificate expired")
    ):
        plan.append(
            (
                f"resolved-{n}",
                "knowledge_gap",
                (n + 1) * 24 + 2,
                {"tool": "search_knowledge", "detail": question},
            )
        )
    for n, rating in enumerate((5, 4, 5)):
        plan.append(
            (f"resolved-{n}", "satisfaction", (n + 1) * 24 + 1, {"value": rating})
        )

    async def write() -> None:
        settings.prepare_data_dir()
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            for conversation, kind, hours_ago, fields in plan:
                event = new_event(
                    settings,
                    kind,
                    tenant_id="tenant-e2e",
                    conversation_id=conversation,
                    user_id="employee-1",
                    at=now - timedelta(hours=hours_ago),
                    **fields,
                )
                assert await record(engine, event)
        finally:
            await engine.dispose()

    asyncio.run(write())


@pytest.fixture
def dashboard_bot(tmp_path: Path) -> Iterator[str]:
    """``helpdesk serve`` on a free port with the seeded data; its base URL."""
    _seed_analytics()
    port = _free_port()
    env = dict(os.environ)  # HELPDESK_DATA_DIR is the test's own folder
    env["HELPDESK_ADMIN_KEY"] = ADMIN_KEY
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    bot = _Process("bot", popen, log)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until(
            lambda: _ready(base + "/readyz"),
            bot,
            timeout_s=BOT_START_S,
            what="the bot answering /readyz",
        )
        yield base
    finally:
        bot.stop()


def _rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _has_colour(counts: list[tuple[int, Any]], colour: str, *, at_least: int) -> bool:
    wanted = _rgb(colour)
    seen = sum(
        n
        for n, rgb in counts
        if all(abs(a - b) <= 3 for a, b in zip(rgb, wanted, strict=True))
    )
    return seen >= at_least


def test_an_admin_signs_in_and_sees_the_figures_and_charts(
    dashboard_bot: str, tmp_path: Path
) -> None:
    if not CHROMIUM.is_file():
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")

    screenshot = tmp_path / "dashboard.png"
    requested: list[str] = []
    with sync_playwright() as playwright:
        context = _launch_chromium(playwright, tmp_path / "chromium-profile")
        try:
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()

            page.goto(dashboard_bot + "/admin?since=7d", timeout=PAGE_MS)
            expect(
                page.get_by_role("heading", name=re.compile("sign in"))
            ).to_be_visible(timeout=PAGE_MS)
            assert page.locator("svg").count() == 0, "no figures before signing in"

            page.get_by_label("Admin key").fill("not the key")
            page.get_by_role("button", name="Sign in").click(timeout=PAGE_MS)
            expect(page.get_by_role("alert")).to_contain_text(
                "was not accepted", timeout=PAGE_MS
            )

            page.get_by_label("Admin key").fill(ADMIN_KEY)
            page.get_by_role("button", name="Sign in").click(timeout=PAGE_MS)
            expect(page.get_by_role("heading", name="Headline figures")).to_be_visible(
                timeout=PAGE_MS
            )
            assert page.url.endswith("/admin?since=7d")

            def tile(label: str) -> str:
                term = page.locator("dl.tiles dt", has_text=re.compile(f"^{label}$"))
                return str(term.locator("xpath=following-sibling::dd").inner_text())

            assert tile("Conversations") == "10"
            assert tile("Resolved by the copilot") == "40%"
            assert tile("Escalated to a person") == "30%"
            assert tile("Abandoned") == "20%"
            assert tile("Still open") == "10%"
            assert tile("Satisfaction").startswith("4.67 of 5")

            gaps = page.locator("section", has=page.locator("#gaps"))
            expect(gaps.get_by_role("cell", name="vpn", exact=True)).to_be_visible()
            expect(gaps.get_by_text(HOSTILE_GAP, exact=True)).to_be_visible()
            expect(page.get_by_role("cell", name="printer", exact=True)).to_be_visible()

            for ident in CHARTS:
                box = page.locator(f"#{ident}").bounding_box(timeout=PAGE_MS)
                assert box is not None and box["width"] > 100 and box["height"] > 100
                assert page.locator(f"#{ident} rect").count() > 3

            page.screenshot(path=str(screenshot), full_page=True, timeout=PAGE_MS)
            viewport = page.viewport_size
            assert viewport is not None

            page.get_by_role("button", name="Sign out").click(timeout=PAGE_MS)
            expect(page.get_by_label("Admin key")).to_be_visible(timeout=PAGE_MS)
        finally:
            context.close()

    outside = [u for u in requested if not u.startswith((dashboard_bot, "data:"))]
    assert outside == [], "the page asked for something outside the bot"

    with Image.open(screenshot) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width == viewport["width"]
        assert height > viewport["height"], "the full page is taller than the window"
        counts = image.convert("RGB").getcolors(maxcolors=width * height)
    assert counts is not None and len(counts) > 50, "not a blank or flat picture"
    for colour in (*OUTCOME_COLOURS.values(), SATISFACTION_COLOUR, FAILURE_COLOUR):
        assert _has_colour(counts, colour, at_least=200), f"{colour} not drawn"
