"""The hand-off card in the agents' channel, its redrawn forms, and its clicks.

One card per hand-off opens a thread in the channel: who is waiting, the
copilot's summary, what was tried, the category, since when, the transcript
behind a ``ShowCard``, and a Take button. After a click it is redrawn without
the button (taken, handed back, closed, withdrawn), so that it no longer looks
clickable; the store decides who won the click, never the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.cards import card_activity, reader_time, text_block
from tools.handoff.base import Handoff

TAKE = "handoff_take"
HAND_BACK = "handoff_back"
CLOSE = "handoff_close"
HandoffAction = Literal["handoff_take", "handoff_back", "handoff_close"]
_ACTIONS: frozenset[str] = frozenset({TAKE, HAND_BACK, CLOSE})
_ID_MAX = 64
_TRANSCRIPT_MAX = 6000
"""Characters of transcript on the card; Teams refuses cards past about 28 KB."""


@dataclass(frozen=True, slots=True)
class HandoffClick:
    """A click on a hand-off card: what to do, to which hand-off."""

    action: HandoffAction
    handoff_id: str


def read_click(value: Any) -> HandoffClick | None:
    """Read a hand-off card click from a submit's ``value``.

    Returns:
        The click, or None when ``value`` is not one of the hand-off card's.
    """
    if not isinstance(value, dict):
        return None
    action = value.get("action")
    handoff_id = value.get("handoff")
    if action not in _ACTIONS:
        return None
    if not isinstance(handoff_id, str) or not 0 < len(handoff_id) <= _ID_MAX:
        return None
    return HandoffClick(action, handoff_id)


def _facts(handoff: Handoff) -> list[dict[str, Any]]:
    facts = [
        {"title": "Who", "value": handoff.employee_name},
        {"title": "Category", "value": handoff.category},
    ]
    if handoff.created_at is not None:
        facts.append(
            {"title": "Waiting since", "value": reader_time(handoff.created_at)}
        )
    if handoff.ticket:
        facts.append({"title": "Ticket", "value": handoff.ticket})
    return [{"type": "FactSet", "facts": facts}]


def _body(handoff: Handoff, headline: str) -> list[dict[str, Any]]:
    body = [
        text_block(headline, weight="Bolder", size="Medium"),
        *_facts(handoff),
        text_block(handoff.summary or handoff.reason or "(no summary)"),
    ]
    if handoff.tried:
        body.append(text_block("Tried:", weight="Bolder", spacing="Small"))
        body.append(text_block("\n".join(f"- {step}" for step in handoff.tried)))
    return body


def _transcript_action(handoff: Handoff) -> dict[str, Any]:
    transcript = handoff.transcript.strip() or "(no transcript)"
    if len(transcript) > _TRANSCRIPT_MAX:
        transcript = "…" + transcript[-_TRANSCRIPT_MAX:]
    return {
        "type": "Action.ShowCard",
        "title": "Transcript",
        "card": {
            "type": "AdaptiveCard",
            "body": [text_block(transcript, fontType="Monospace", size="Small")],
        },
    }


def _submit(title: str, action: str, handoff_id: str) -> dict[str, Any]:
    return {
        "type": "Action.Submit",
        "title": title,
        "data": {"action": action, "handoff": handoff_id},
    }


def waiting_card(handoff: Handoff) -> dict[str, Any]:
    """The new card in the agents' channel: take it, or read the transcript."""
    return card_activity(
        _body(handoff, f"{handoff.employee_name} asks for a person"),
        [_submit("Take", TAKE, handoff.handoff_id), _transcript_action(handoff)],
        summary=f"Hand-off: {handoff.employee_name} is waiting",
    )


def taken_card(handoff: Handoff, agent_name: str) -> dict[str, Any]:
    """The card once taken: who has it, and how to end it (or type it)."""
    return card_activity(
        [
            *_body(handoff, f"Taken by {agent_name}"),
            text_block(
                "Write in this thread to reach the employee. Type **hand back** "
                "or **close** here to end.",
                isSubtle=True,
            ),
        ],
        [
            _submit("Hand back to the copilot", HAND_BACK, handoff.handoff_id),
            _submit("Close", CLOSE, handoff.handoff_id),
            _transcript_action(handoff),
        ],
        summary=f"Taken by {agent_name}",
    )


def ended_card(handoff: Handoff, headline: str) -> dict[str, Any]:
    """The card once the hand-off ended (handed back, closed, withdrawn)."""
    return card_activity(
        _body(handoff, headline), [_transcript_action(handoff)], summary=headline
    )
