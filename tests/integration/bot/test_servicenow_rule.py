"""The ServiceNow business rule, run under Node with its Glide APIs, signs and
posts what the bot's webhook accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakes.bot_harness import RunningBot, run_bot
from fakes.servicenow_server import (
    PASSWORD,
    USER,
    FakeServiceNow,
    serve_fake_servicenow,
)
from fakes.ticket_feed import add_outbox_row

from bot.app import JOBS_KEY, SERVICES_KEY
from bot.connector import LocalConnector
from bot.itsm_webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_event, sign
from bot.ticket_news import NOT_FIXED_COMMENT
from tools.settings import load_settings
from tools.tickets.base import Caller, TicketDraft
from tools.tickets.servicenow import ServiceNowTickets

_ROOT = Path(__file__).resolve().parents[3]
_RULE = _ROOT / "infra" / "servicenow" / "business_rule.js"
_HARNESS = _ROOT / "tests" / "fakes" / "servicenow_rule.js"
SECRET = "rule-secret-for-tests"
SYS_ID = "46d44a5dc0a8010e0000e8d7a0b5d4f1"
NUMBER = "INC0010042"
INTEGRATION_USER = "helpdesk.integration"


def _run_rule(**changes: Any) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js on PATH to run the ServiceNow business rule")
    scenario: dict[str, Any] = {
        "current": {
            "sys_id": SYS_ID,
            "number": NUMBER,
            "state": "2",
            "hold_reason": "",
            "sys_mod_count": "7",
            "correlation_id": "approval-3f9c",
            "close_notes": "",
            "sys_updated_on": "2026-03-02 14:30:00",
        },
        "previous": {"state": "1"},
        "changed": [],
        "journal": "",
        "state_label": "In Progress",
        "properties": {
            "x_helpdesk.webhook_url": "http://127.0.0.1:9/api/itsm/events",
            "x_helpdesk.webhook_secret": SECRET,
            "x_helpdesk.integration_user": INTEGRATION_USER,
        },
        "user_name": "alex.tech",
        "user_display_name": "Alex Tech",
        "now_ms": int(time.time() * 1000),
    }
    for key, value in changes.items():
        if key in ("current", "previous"):
            scenario[key] = {**scenario[key], **value}
        else:
            scenario[key] = value
    done = subprocess.run(
        [node, str(_HARNESS), str(_RULE), json.dumps(scenario)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def _events(result: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    for request in result["sent"]:
        body = request["body"].encode("utf-8")
        headers = request["headers"]
        assert request["method"] == "post"
        assert headers["Content-Type"] == "application/json"
        assert headers[SIGNATURE_HEADER] == sign(
            SECRET, headers[TIMESTAMP_HEADER], body
        )
        parse_event(body)  # the webhook reads it
        events.append(json.loads(body))
    return events


def test_a_resolution_posts_a_signed_resolved_event() -> None:
    result = _run_rule(
        current={"state": "6", "close_notes": "Replaced the VPN profile."},
        previous={"state": "2"},
        changed=["state"],
    )

    assert _events(result) == [
        {
            "event_id": f"{SYS_ID}:7:s",
            "type": "resolved",
            "number": NUMBER,
            "sys_id": SYS_ID,
            "correlation_id": "approval-3f9c",
            "comment": "Replaced the VPN profile.",
            "author": "Alex Tech",
            "at": "2026-03-02 14:30:00",
        }
    ]


def test_a_comment_while_waiting_for_the_caller_is_a_question() -> None:
    result = _run_rule(
        current={"state": "3", "hold_reason": "1"},
        previous={"state": "2"},
        changed=["comments", "state"],
        journal="2026-03-02 14:30:00 - Alex Tech (Additional comments)\n"
        "Which building are you in?\n\n",
    )

    [question] = _events(result)
    assert (question["type"], question["comment"]) == (
        "question",
        "Which building are you in?",
    )
    assert question["event_id"] == f"{SYS_ID}:7:c"


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [("6", "2", "reopened"), ("2", "7", "closed"), ("1", "2", "state_changed")],
    ids=["reopened", "closed", "in-progress"],
)
def test_state_changes_map_to_event_types(before: str, after: str, kind: str) -> None:
    result = _run_rule(
        current={"state": after}, previous={"state": before}, changed=["state"]
    )

    assert [e["type"] for e in _events(result)] == [kind]


def test_the_bots_own_changes_are_not_echoed() -> None:
    result = _run_rule(
        user_name=INTEGRATION_USER,
        current={"state": "7"},
        previous={"state": "6"},
        changed=["state"],
    )

    assert result["sent"] == []


def test_without_its_properties_the_rule_warns_and_posts_nothing() -> None:
    result = _run_rule(properties={}, changed=["state"])

    assert result["sent"] == []
    assert any("x_helpdesk.webhook_url" in line for line in result["logs"])


@pytest.fixture
async def bot(
    app_database_url: str | None, connector: LocalConnector
) -> AsyncIterator[RunningBot]:
    settings = load_settings(
        database_url=app_database_url, itsm_webhook_secret=SECRET, notify_poll_s=0.1
    )
    async with run_bot(settings, connector) as running:
        yield running


async def test_the_rules_post_reaches_the_employee_with_non_ascii_text_intact(
    bot: RunningBot, connector: LocalConnector
) -> None:
    await bot.post(bot.activity("my VPN drops"))
    key = await add_outbox_row(
        bot.app[SERVICES_KEY].db,
        number=NUMBER,
        caller_id=bot.user.id,
        conversation_id=bot.conversation_id,
    )
    result = _run_rule(
        current={"correlation_id": key},
        changed=["comments"],
        journal="2026-03-02 14:30:00 - Zoë Müller (Additional comments)\n"
        "Grüße — bitte neu starten.\n\n",
    )
    [request] = result["sent"]

    async with bot.http.post(
        bot.url + "/api/itsm/events",
        data=request["body"].encode("utf-8"),
        headers=request["headers"],
    ) as response:
        status = response.status
    [_, _, card] = await connector.wait_for_messages(3)

    assert request["body"].isascii()
    assert status == 202
    assert "Grüße — bitte neu starten." in json.dumps(card, ensure_ascii=False)


# -- changes made through the help desk, reported back by the rule ---------------


@pytest.fixture
async def instance() -> AsyncIterator[FakeServiceNow]:
    async with serve_fake_servicenow() as fake:
        yield fake


@pytest.fixture
async def servicenow(
    bot: RunningBot, instance: FakeServiceNow
) -> AsyncIterator[ServiceNowTickets]:
    """The help desk's ServiceNow tickets, on the bot's database."""
    settings = load_settings(
        ticket_backend="servicenow",
        servicenow_url=instance.url,
        servicenow_user=USER,
        servicenow_password=PASSWORD,
        servicenow_timeout_s=2,
    )
    tickets = ServiceNowTickets(settings, bot.app[SERVICES_KEY].db)
    yield tickets
    await tickets.aclose()


def _report(
    fake: FakeServiceNow,
    number: str,
    *,
    before: str,
    changed: list[str],
    journal: str = "",
) -> list[dict[str, Any]]:
    """What the rule posts for the incident's last update, made by the bot's
    integration user, on an instance where ``x_helpdesk.integration_user`` was
    never set."""
    result = _run_rule(
        current=dict(fake.incident(number)),
        previous={"state": before},
        changed=changed,
        journal=journal,
        user_name=USER,
        user_display_name="Helpdesk Integration",
        properties={
            "x_helpdesk.webhook_url": "http://127.0.0.1:9/api/itsm/events",
            "x_helpdesk.webhook_secret": SECRET,
        },
    )
    return list(result["sent"])


async def _deliver(bot: RunningBot, requests: list[dict[str, Any]]) -> list[int]:
    statuses = []
    for request in requests:
        async with bot.http.post(
            bot.url + "/api/itsm/events",
            data=request["body"].encode("utf-8"),
            headers=request["headers"],
        ) as response:
            statuses.append(response.status)
    jobs = bot.app[JOBS_KEY]
    await jobs.wait_for_passes(jobs.passes + 2)  # a second card would come now
    return statuses


async def test_changes_made_through_the_help_desk_and_reported_back_are_news_once(
    bot: RunningBot,
    connector: LocalConnector,
    instance: FakeServiceNow,
    servicenow: ServiceNowTickets,
) -> None:
    fake = instance
    await bot.post(bot.activity("my VPN drops"))
    caller = Caller(bot.user.id, bot.user.tenant_id, "local.user@contoso.example")
    ticket = await servicenow.acreate(
        TicketDraft(
            idempotency_key="approval-vpn-1",
            caller=caller,
            short_description="VPN drops every few minutes",
            description="The VPN drops every few minutes.",
            conversation_id=bot.conversation_id,
        )
    )
    number = ticket.label

    # A technician resolves it through the help desk: the employee is told.
    await servicenow.aset_state(
        number, "resolved", by="Beth Tech", note="Replaced the VPN profile."
    )
    [_, _, card] = await connector.wait_for_messages(3)
    resolved = await _deliver(bot, _report(fake, number, before="1", changed=["state"]))

    # The employee clicks "No, reopen it": one update for the state, one for
    # their comment, neither of them news for the employee.
    await servicenow.aset_state(number, "in_progress", by=bot.user.id)
    reopened = await _deliver(bot, _report(fake, number, before="6", changed=["state"]))
    await servicenow.acomment(
        number, NOT_FIXED_COMMENT, author="Local User", from_caller=True
    )
    commented = await _deliver(
        bot,
        _report(
            fake,
            number,
            before="2",
            changed=["comments"],
            journal="2026-03-02 14:30:00 - Helpdesk Integration (Additional "
            f"comments)\n[From Local User via Microsoft Teams]\n{NOT_FIXED_COMMENT}",
        ),
    )

    assert card["summary"] == f"{number} was resolved. Did this fix it?"
    assert (resolved, reopened, commented) == ([409], [409], [409])
    assert len(connector.messages()) == 3
