"""What the bot asks after its help: "Did this fix it?" and the 1-5 card.

"Did this fix it?" follows the answer, with two Teams suggested actions
(``imBack``: a tap sends the words as the employee's message, and the buttons
go away): "Yes, that fixed it" and "No, I'm still stuck". The employee may
also type the answer; :func:`tools.fix_answers.read_fix_answer` knows the two
suggested replies and short, plain ways of saying the same, and nothing
longer: "yes that worked but now Excel crashes" is a new question, not a yes.

The satisfaction card has five buttons, 1 to 5; its clicks are read with
:func:`read_rating` and kept once by :mod:`tools.analytics.followups`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.cards import card_activity, text_block

FIXED_REPLY = "Yes, that fixed it"
STUCK_REPLY = "No, I'm still stuck"
FIX_QUESTION = "Did this fix it?"
RATE_ACTION = "rate_help"
_ASK_ID = re.compile(r"^[0-9a-f]{32}$")
_RATINGS = {1: "1 Poor", 2: "2", 3: "3", 4: "4", 5: "5 Great"}

_WORDS = re.compile(r"[a-z]+")
_BARE_NO = frozenset(
    {"no", "nope", "nah", "not", "really", "quite", "yet", "at", "all"}
)


def fix_question() -> dict[str, Any]:
    """ "Did this fix it?" with two suggested replies, sent just after the
    answer. A message of its own: a client that shows suggested actions may
    stop rendering the answer's citations and markdown when the answer
    itself carries them (the Agents Playground does)."""
    return {
        "type": "message",
        "text": FIX_QUESTION,
        "suggestedActions": {
            "actions": [
                {"type": "imBack", "title": FIXED_REPLY, "value": FIXED_REPLY},
                {"type": "imBack", "title": STUCK_REPLY, "value": STUCK_REPLY},
            ]
        },
    }


def for_the_model(text: str) -> str:
    """What goes on to the model after "not fixed": the employee's words, or
    the suggested reply's when they said only "no" (or 👎), which a model
    could not tell from an answer to some other question."""
    words = set(_WORDS.findall(text.lower()))
    return STUCK_REPLY if words <= _BARE_NO else text


def glad_it_worked() -> str:
    """The answer to "yes, that fixed it"."""
    return "Great, glad that's sorted. If anything else comes up, just tell me here."


# -- the satisfaction card -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rating:
    """A click on the 1-5 card."""

    ask_id: str
    rating: int


def satisfaction_activity(ask_id: str) -> dict[str, Any]:
    """The 1-5 card: one question, five buttons, no typing needed."""
    actions = [
        {
            "type": "Action.Submit",
            "title": title,
            "data": {"action": RATE_ACTION, "ask": ask_id, "rating": rating},
        }
        for rating, title in _RATINGS.items()
    ]
    body = [
        text_block("How did I do?", weight="Bolder", size="Medium"),
        text_block(
            "Rate the help you got, from 1 (poor) to 5 (great). One click, "
            "and I won't ask again for a while."
        ),
    ]
    return card_activity(body, actions, summary="How did I do? Rate the help, 1 to 5")


def read_rating(value: Any) -> Rating | None:
    """Read a 1-5 click from a submit's ``value``; None when it is not one."""
    if not isinstance(value, dict) or value.get("action") != RATE_ACTION:
        return None
    ask_id, rating = value.get("ask"), value.get("rating")
    if not isinstance(ask_id, str) or not _ASK_ID.match(ask_id):
        return None
    if isinstance(rating, str) and rating.isdecimal():
        rating = int(rating)
    if not isinstance(rating, int) or isinstance(rating, bool):
        return None
    if not 1 <= rating <= 5:
        return None
    return Rating(ask_id, rating)


def rated_activity(rating: int) -> dict[str, Any]:
    """The card once rated: the rating, no buttons."""
    return card_activity(
        [
            text_block("How did I do?", weight="Bolder", size="Medium"),
            text_block(f"You rated this {rating} out of 5. Thank you."),
        ],
        [],
        summary=f"Rated {rating} out of 5",
    )


def rating_reply(outcome: str, rating: int) -> str:
    """One sentence for the clicker, by what :func:`arate` did."""
    if outcome == "rated":
        if rating <= 2:
            return (
                f"Thanks for rating {rating} out of 5. Sorry it wasn't better: "
                "IT support reads these. If something is still wrong, tell me "
                "here or ask for a person."
            )
        return f"Thanks for rating {rating} out of 5."
    if outcome == "already_rated":
        return "You already rated this one. Thank you."
    if outcome == "not_yours":
        return "This card is for the person it was sent to."
    return "I can't use that card."
