"""Editable card fields: what the card shows, what a submit may change, what is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import cards
from tools.approvals import (
    ApprovalRequest,
    CardField,
    claim_decision,
    clean_values,
    get_approval,
    record_pending,
)
from tools.db import create_engine, upgrade
from tools.settings import load_settings

FIELDS = [
    CardField("short_description", "Summary", "Monitor flickers", max_length=20),
    CardField(
        "urgency",
        "Urgency",
        "medium",
        choices=[("high", "High"), ("medium", "Medium"), ("low", "Low")],
    ),
    CardField("details", "Details", "", multiline=True, required=False),
]


def _request(approval_id: str = "apr_1") -> ApprovalRequest:
    return ApprovalRequest(
        approval_id=approval_id,
        tool="create_ticket",
        title="Open a ticket",
        action="Send this to the service desk.",
        requester_id="u-1",
        subject_id="u-1",
        approver_id="u-1",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        fields=FIELDS,
    )


def test_clean_values_keeps_only_declared_fields_within_their_limits() -> None:
    raw = {
        "short_description": "  Second monitor flickers all day long  ",
        "urgency": "critical!!",  # not a choice: the draft stays
        "details": "",  # optional: may be emptied
        "caller": "someone-else",  # not a field: dropped
    }
    assert clean_values(FIELDS, raw) == {
        "short_description": "Second monitor flick",
        "urgency": "medium",
        "details": "",
    }


def test_an_emptied_required_field_keeps_the_draft() -> None:
    assert clean_values(FIELDS, {"short_description": "   "})["short_description"] == (
        "Monitor flickers"
    )


def test_the_card_shows_each_field_prefilled_and_cancel_ignores_the_inputs() -> None:
    card = cards.approval_activity(_request())["attachments"][0]["content"]
    inputs = {e["id"]: e for e in card["body"] if e["type"].startswith("Input.")}
    assert inputs["field.short_description"]["value"] == "Monitor flickers"
    assert inputs["field.urgency"]["type"] == "Input.ChoiceSet"
    assert inputs["field.details"]["isMultiline"] is True
    cancel = next(a for a in card["actions"] if a["title"] == "Cancel")
    assert cancel["associatedInputs"] == "none"


def test_a_submit_carries_the_edited_fields() -> None:
    choice = cards.read_choice(
        {
            "action": "approve",
            "approval": "apr_1",
            "field.short_description": "Screen flickers",
            "field.urgency": "high",
            "other": "ignored",
        }
    )
    assert choice is not None
    assert choice.values == {"short_description": "Screen flickers", "urgency": "high"}


@pytest.fixture
async def db(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def test_an_approval_stores_the_cleaned_values_and_a_rejection_none(db) -> None:
    await record_pending(db, thread_id="t:c", request=_request("apr_yes"))
    await record_pending(db, thread_id="t:c", request=_request("apr_no"))
    stored = await get_approval(db, "apr_yes")
    assert stored is not None and stored.request.fields == FIELDS

    assert await claim_decision(
        db, "apr_yes", approved=True, decided_by="u-1", values={"urgency": "high"}
    )
    assert await claim_decision(
        db, "apr_no", approved=False, decided_by="u-1", values={"urgency": "high"}
    )
    yes = await get_approval(db, "apr_yes")
    no = await get_approval(db, "apr_no")
    assert yes is not None and yes.values["urgency"] == "high"
    assert yes.values["short_description"] == "Monitor flickers"
    assert no is not None and no.values == {}
