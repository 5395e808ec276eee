"""Asset request cards: the approver's card (approve or reject, with a
comment) and the employee's news of a request.

Both are sent by the notifier (:mod:`bot.notify`) from events that
:mod:`tools.assets.workflow` records. A click is read with
:func:`read_asset_click` and decided by the workflow, which lets only the
approver asked decide, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.cards import card_activity, text_block
from tools.tickets.base import TicketEvent

APPROVE = "asset_approve"
REJECT = "asset_reject"
COMMENT_INPUT = "comment"
"""The comment box's id, as on the other approval cards (the terminal chat's
"1 my comment" fills it)."""
COMMENT_MAX = 500
_SEQ_MAX_DIGITS = 12


@dataclass(frozen=True, slots=True)
class AssetClick:
    """Approve or Reject on an approver's card."""

    approval_seq: int
    approved: bool
    comment: str
    event_id: str


def read_asset_click(value: Any) -> AssetClick | None:
    """Read an asset approval click from a submit's ``value``; None when it is not one."""
    if not isinstance(value, dict) or value.get("action") not in (APPROVE, REJECT):
        return None
    raw = value.get("approval")
    if not isinstance(raw, str) or not raw.isdecimal() or len(raw) > _SEQ_MAX_DIGITS:
        return None
    comment = value.get(COMMENT_INPUT)
    event_id = value.get("event")
    return AssetClick(
        approval_seq=int(raw),
        approved=value["action"] == APPROVE,
        comment=comment.strip()[:COMMENT_MAX] if isinstance(comment, str) else "",
        event_id=event_id if isinstance(event_id, str) else "",
    )


def approval_activity(event: TicketEvent) -> dict[str, Any]:
    """The approver's card: who wants what, why, what it costs; a comment box;
    Approve and Reject."""
    facts = []
    for line in event.text.splitlines():
        title, sep, value = line.partition(": ")
        if sep:
            facts.append({"title": title, "value": value})
    what = next((f["value"] for f in facts if f["title"] == "What"), "an item")
    who = next((f["value"] for f in facts if f["title"] == "Who"), "Someone")
    heading = f"Approve {what} for {who}?"
    if event.author == "reminder":
        heading = f"Reminder: {heading}"
    elif event.author == "escalated":
        heading = f"{heading} (their approver has not decided)"
    elif event.author == "fallback":
        heading = (
            f"{heading} (you are the fallback approver: their approver has "
            "not used the help desk in Teams yet)"
        )
    body: list[dict[str, Any]] = [
        text_block(heading, weight="Bolder", size="Medium"),
        text_block(f"Request {event.number}"),
        {"type": "FactSet", "facts": facts},
        {
            "type": "Input.Text",
            "id": COMMENT_INPUT,
            "label": "Comment (the requester sees it)",
            "isMultiline": True,
            "maxLength": COMMENT_MAX,
        },
    ]
    data = {"approval": event.reference, "event": event.event_id}
    actions = [
        {
            "type": "Action.Submit",
            "title": "Approve",
            "style": "positive",
            "data": {"action": APPROVE, **data},
        },
        {
            "type": "Action.Submit",
            "title": "Reject",
            "style": "destructive",
            "data": {"action": REJECT, **data},
        },
    ]
    return card_activity(body, actions, summary=f"{who} asks for {what}")


def decided_activity(event: TicketEvent | None, line: str) -> dict[str, Any]:
    """The approver's card after the decision, without buttons."""
    body = [text_block(line, weight="Bolder")]
    if event is not None:
        body.insert(0, text_block(f"Request {event.number}"))
    return card_activity(body, [], summary=line)


def news_activity(event: TicketEvent) -> dict[str, Any]:
    """The employee's news of their request."""
    body = [
        text_block(f"Your request {event.number}", weight="Bolder"),
        text_block(event.text),
    ]
    return card_activity(body, [], summary=event.text[:150])
