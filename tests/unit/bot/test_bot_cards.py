"""Approval and secret cards, reading a click back, and their terminal rendering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.cards import (
    CardChoice,
    approval_activity,
    decided_activity,
    read_choice,
    secret_activity,
)
from bot.chat import render
from tools.approvals import ApprovalRequest
from tools.secrets import OneTimeSecret, SecretValue

EXPIRES = datetime(2026, 12, 4, 16, 45, tzinfo=UTC)


def _request(**changes: object) -> ApprovalRequest:
    fields: dict = {
        "approval_id": "ap-1",
        "tool": "set_temporary_password",
        "title": "Set a temporary password",
        "action": "Set a temporary password for Dana Park (dana@contoso.com).",
        "requester_id": "agent-7",
        "subject_id": "dana",
        "approver_id": "agent-7",
        "expires_at": EXPIRES,
        "facts": [("Account", "dana@contoso.com"), ("Reason", "locked out")],
    }
    fields.update(changes)
    return ApprovalRequest(**fields)


def _card(activity: dict) -> dict:
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"action": "approve", "approval": "ap-1"}, CardChoice("ap-1", True)),
        ({"action": "reject", "approval": " ap-1 "}, CardChoice("ap-1", False)),
        ({"action": "approve", "request": "ap-1"}, CardChoice("ap-1", True)),
        (
            {"action": "approve", "approval": "ap-1", "comment": "  ok \n"},
            CardChoice("ap-1", True, "ok"),
        ),
        (
            {"action": "approve", "approval": "ap-1", "comment": 7},
            CardChoice("ap-1", True),
        ),
        (None, None),
        ("approve", None),
        ({"action": "approve"}, None),
        ({"action": "approve", "approval": ""}, None),
        ({"action": "approve", "approval": "x" * 65}, None),
        ({"action": "APPROVE", "approval": "ap-1"}, None),
        ({"actionName": "feedback", "actionValue": {}}, None),
    ],
    ids=[
        "approve",
        "reject-trimmed",
        "request-key",
        "comment",
        "comment-not-text",
        "missing",
        "bare-string",
        "no-id",
        "empty-id",
        "id-too-long",
        "unknown-action",
        "feedback-invoke",
    ],
)
def test_reading_a_choice_from_a_submit(value: object, expected: object) -> None:
    assert read_choice(value) == expected


def test_a_long_comment_is_cut() -> None:
    choice = read_choice({"action": "approve", "approval": "a", "comment": "x" * 900})

    assert choice is not None and len(choice.comment) == 500


def test_the_approval_card_names_the_action_the_facts_the_decider_and_the_expiry() -> (
    None
):
    card = _card(approval_activity(_request(), approver_name="Alex Agent"))

    assert card["version"] == "1.5"
    title, action, facts, who = card["body"]
    assert title["text"] == "Set a temporary password"
    assert action["text"].startswith("Set a temporary password for Dana Park")
    assert facts["facts"] == [
        {"title": "Account", "value": "dana@contoso.com"},
        {"title": "Reason", "value": "locked out"},
    ]
    assert who["text"] == (
        "For Alex Agent to confirm. Expires {{DATE(2026-12-04T16:45:00Z, SHORT)}} "
        "at {{TIME(2026-12-04T16:45:00Z)}}."
    )
    assert [a["data"] for a in card["actions"]] == [
        {"action": "approve", "approval": "ap-1"},
        {"action": "reject", "approval": "ap-1"},
    ]
    assert all(isinstance(a["data"], dict) for a in card["actions"])
    json.dumps(card)  # plain JSON, nothing the SDK must convert


def test_a_card_decided_by_someone_else_has_an_optional_comment_box() -> None:
    card = _card(approval_activity(_request(approver_id="manager-1")))

    [comment] = [e for e in card["body"] if e["type"] == "Input.Text"]
    assert comment["id"] == "comment"
    assert "isRequired" not in comment
    assert card["body"][3]["text"].startswith("For the person who asked to confirm.")


def test_a_naive_expiry_is_read_as_utc() -> None:
    naive = _request(expires_at=datetime(2026, 12, 4, 16, 45))  # noqa: DTZ001

    card = _card(approval_activity(naive))

    assert "{{TIME(2026-12-04T16:45:00Z)}}" in card["body"][3]["text"]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("approved", "Approved by Alex Agent, "),
        ("rejected", "Cancelled by Alex Agent, "),
        ("expired", "Expired. Nothing was changed."),
    ],
)
def test_a_decided_card_keeps_the_summary_and_loses_its_buttons(
    status: str, line: str
) -> None:
    card = _card(decided_activity(_request(), status, by="Alex Agent", at=EXPIRES))  # type: ignore[arg-type]

    assert "actions" not in card
    assert card["body"][0]["text"] == "Set a temporary password"
    assert card["body"][-1]["text"].startswith(line)


def test_a_decided_card_without_its_request_still_says_what_happened() -> None:
    card = _card(decided_activity(None, "expired"))

    assert [e["text"] for e in card["body"]] == ["Expired. Nothing was changed."]


def test_a_secret_is_in_the_card_body_only_never_in_the_preview() -> None:
    secret = OneTimeSecret(
        label="Temporary Access Pass",
        value=SecretValue("TAP-0000-SECRET"),
        subject_id="dana",
        expires_at=EXPIRES,
        instructions="Sign in at https://aka.ms/mysecurityinfo and add a method.",
    )

    activity = secret_activity(secret)

    assert "text" not in activity
    assert activity["summary"] == "Your Temporary Access Pass"
    assert json.dumps(activity).count("TAP-0000-SECRET") == 1


def test_the_terminal_shows_card_times_in_utc_and_boxes_a_secret() -> None:
    secret = OneTimeSecret(
        label="Temporary Access Pass",
        value=SecretValue("TAP-0000-SECRET"),
        subject_id="dana",
        expires_at=EXPIRES,
    )

    text, choices = render(secret_activity(secret))

    assert choices == []
    lines = text.splitlines()
    assert lines[0] == lines[-1]
    assert lines[0].startswith("+--") and lines[0].endswith("-+")
    assert "| TAP-0000-SECRET" in text
    assert "| Valid until 2026-12-04 at 16:45 UTC." in text
    assert {len(line) for line in lines} == {len(lines[0])}


def test_the_terminal_numbers_an_approval_cards_choices() -> None:
    text, choices = render(approval_activity(_request()), first=3)

    assert text.splitlines()[-1] == "  3. Approve  4. Cancel"
    assert "Expires 2026-12-04 at 16:45 UTC." in text
    assert choices == [
        {"action": "approve", "approval": "ap-1"},
        {"action": "reject", "approval": "ap-1"},
    ]
