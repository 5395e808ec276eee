"""Adaptive Cards: the approval card, its decided form, and the one-time secret.

Cards use schema 1.5 as Teams renders it. Every ``Action.Submit`` carries an
object as ``data``: Teams delivers an object as the message's ``value`` (with
the card's inputs merged in) but drops a bare string, which would leave the
bot unable to tell which request was meant (field case T3).

Times are written with the Adaptive Card ``{{DATE()}}`` and ``{{TIME()}}``
functions, so each reader sees their own time zone; the terminal chat renders
them in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tools.approvals import ApprovalRequest, CardField
from tools.secrets import OneTimeSecret

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"

APPROVE = "approve"
REJECT = "reject"
COMMENT_INPUT = "comment"
SECRET_CONTAINER = "one-time-secret"
"""The id of the container that holds a secret (the terminal boxes it)."""

COMMENT_MAX = 500
FIELD_PREFIX = "field."
"""Card inputs of editable fields are named ``field.<id>``, apart from ours."""
_APPROVAL_ID_MAX = 64
_FIELDS_MAX = 20
_FIELD_VALUE_MAX = 4000

DecidedStatus = Literal["approved", "rejected", "expired"]


@dataclass(frozen=True, slots=True)
class CardChoice:
    """A decision read from a card submit's ``value``."""

    approval_id: str
    approve: bool
    comment: str = ""
    values: dict[str, str] = field(default_factory=dict)
    """Editable fields as submitted, by field id (cleaned later by the store)."""


def read_choice(value: Any) -> CardChoice | None:
    """Read an approval decision from a submit's ``value``.

    Args:
        value: the activity's ``value``: the card's ``data`` object merged
            with its inputs.

    Returns:
        The choice, or None when ``value`` is missing or is not one of ours.
        ``request`` is read as another name for ``approval``.
    """
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    approval_id = value.get("approval", value.get("request"))
    if action not in (APPROVE, REJECT):
        return None
    if not isinstance(approval_id, str) or not approval_id.strip():
        return None
    if len(approval_id) > _APPROVAL_ID_MAX:
        return None
    comment = value.get(COMMENT_INPUT)
    comment = comment.strip()[:COMMENT_MAX] if isinstance(comment, str) else ""
    values = {
        key[len(FIELD_PREFIX) :]: text[:_FIELD_VALUE_MAX]
        for key, text in list(value.items())[: _FIELDS_MAX + 8]
        if isinstance(key, str)
        and key.startswith(FIELD_PREFIX)
        and isinstance(text, str)
    }
    return CardChoice(approval_id.strip(), action == APPROVE, comment, values)


def approval_activity(
    request: ApprovalRequest, *, approver_name: str | None = None
) -> dict[str, Any]:
    """The card that asks for a decision on ``request``.

    Args:
        request: what will happen, to whom, and who decides.
        approver_name: the decider's display name, when known.

    Returns:
        A message activity with one Adaptive Card: the title, the exact
        action, the facts, who decides and until when, and Approve / Cancel.
        A comment box is added when someone other than the requester decides.
    """
    body: list[dict[str, Any]] = [*_summary(request)]
    body.extend(_input(f) for f in request.fields)
    who = approver_name or "the person who asked"
    body.append(
        text_block(
            f"For {who} to confirm. Expires {reader_time(request.expires_at)}.",
            isSubtle=True,
            size="Small",
        )
    )
    if request.approver_id != request.requester_id:
        body.append(
            {
                "type": "Input.Text",
                "id": COMMENT_INPUT,
                "label": "Comment (optional)",
                "isMultiline": True,
                "maxLength": COMMENT_MAX,
            }
        )
    actions = [
        _submit("Approve", APPROVE, request.approval_id, style="positive"),
        # Cancelling must work whatever the fields hold, even emptied ones.
        {**_submit("Cancel", REJECT, request.approval_id), "associatedInputs": "none"},
    ]
    return card_activity(body, actions, summary=request.title)


def decided_activity(
    request: ApprovalRequest | None,
    status: DecidedStatus,
    *,
    by: str | None = None,
    at: datetime | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The approval card after the decision: the same summary, no buttons.

    Args:
        request: the request, when it can still be read (else a bare status).
        status: what became of it.
        by: who decided (approved or rejected).
        at: when; defaults to now.
        values: the editable fields as confirmed, shown as facts.
    """
    when = reader_time(at or datetime.now(UTC))
    name = by or "someone"
    line = {
        "approved": f"Approved by {name}, {when}.",
        "rejected": f"Cancelled by {name}, {when}. Nothing was changed.",
        "expired": "Expired. Nothing was changed.",
    }[status]
    body = [*(_summary(request) if request else [])]
    if request is not None and request.fields and status == "approved":
        confirmed = values or {}
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": f.label, "value": _shown(f, confirmed.get(f.id, f.value))}
                    for f in request.fields
                    if confirmed.get(f.id, f.value)
                ],
            }
        )
    body.append(text_block(line, weight="Bolder"))
    summary = request.title if request else "Approval"
    return card_activity(body, [], summary=summary)


def secret_activity(secret: OneTimeSecret) -> dict[str, Any]:
    """The message that shows a one-time secret to its owner.

    The value sits only in the card body, never in ``text`` or ``summary``,
    so that a notification preview on a locked phone does not show it.
    """
    items = [
        text_block(secret.label, weight="Bolder", size="Medium"),
        text_block(secret.value.reveal(), fontType="Monospace", size="Large"),
    ]
    if secret.expires_at is not None:
        items.append(text_block(f"Valid until {reader_time(secret.expires_at)}."))
    if secret.instructions:
        items.append(text_block(secret.instructions))
    items.append(
        text_block(
            "I show this once and keep no copy. Use it now or note it somewhere safe.",
            isSubtle=True,
            size="Small",
        )
    )
    container = {
        "type": "Container",
        "id": SECRET_CONTAINER,
        "style": "emphasis",
        "items": items,
    }
    return card_activity([container], [], summary=f"Your {secret.label}")


def _summary(request: ApprovalRequest) -> list[dict[str, Any]]:
    elements = [
        text_block(request.title, weight="Bolder", size="Medium"),
        text_block(request.action),
    ]
    if request.facts:
        elements.append(
            {
                "type": "FactSet",
                "facts": [{"title": k, "value": v} for k, v in request.facts],
            }
        )
    return elements


def _shown(card_field: CardField, value: str) -> str:
    titles = dict(card_field.choices)
    return titles.get(value, value)


def _input(card_field: CardField) -> dict[str, Any]:
    """An editable field, prefilled with the tool's draft."""
    element: dict[str, Any]
    if card_field.choices:
        element = {
            "type": "Input.ChoiceSet",
            "style": "compact",
            "choices": [{"title": t, "value": v} for v, t in card_field.choices],
        }
    else:
        element = {
            "type": "Input.Text",
            "isMultiline": card_field.multiline,
            "maxLength": card_field.max_length,
        }
    element.update(
        id=FIELD_PREFIX + card_field.id,
        label=card_field.label,
        value=card_field.value,
        isRequired=card_field.required,
    )
    if card_field.required:
        element["errorMessage"] = f"{card_field.label} cannot be empty."
    return element


def text_block(text: str, **style: Any) -> dict[str, Any]:
    """A wrapping ``TextBlock`` (every card of the bot builds from these)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _submit(
    title: str, action: str, approval_id: str, *, style: str | None = None
) -> dict[str, Any]:
    submit: dict[str, Any] = {
        "type": "Action.Submit",
        "title": title,
        "data": {"action": action, "approval": approval_id},
    }
    if style:
        submit["style"] = style
    return submit


def reader_time(moment: datetime) -> str:
    """``{{DATE()}} at {{TIME()}}``: Teams shows it in the reader's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} at {{{{TIME({stamp})}}}}"


def card_activity(
    body: list[dict[str, Any]], actions: list[dict[str, Any]], *, summary: str
) -> dict[str, Any]:
    """A message activity with one Adaptive Card; ``summary`` is the
    notification preview and the fallback text."""
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": body,
        "fallbackText": summary,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}],
    }
