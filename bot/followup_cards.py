"""What the bot asks after its help: "Did this fix it?" and the 1-5 card.

"Did this fix it?" follows the answer, with two Teams suggested actions
(``imBack``: a tap sends the words as the employee's message, and the buttons
go away): "Yes, that fixed it" and "No, I'm still stuck". The employee may also type the answer; :func:`read_fix_answer`
knows the two suggested replies and short, plain ways of saying the same,
and nothing longer: "yes that worked but now Excel crashes" is a new
question, not a yes.

The satisfaction card has five buttons, 1 to 5; its clicks are read with
:func:`read_rating` and kept once by :mod:`tools.analytics.followups`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.cards import card_activity, text_block
from tools.analytics.followups import FixAnswer

FIXED_REPLY = "Yes, that fixed it"
STUCK_REPLY = "No, I'm still stuck"
FIX_QUESTION = "Did this fix it?"
RATE_ACTION = "rate_help"
_ASK_ID = re.compile(r"^[0-9a-f]{32}$")
_RATINGS = {1: "1 Poor", 2: "2", 3: "3", 4: "4", 5: "5 Great"}

_YES = r"(?:yes|yep|yeah|yup)"
_GLAD = r"(?:yes|yep|yeah|yup|ok|okay|great|perfect|awesome|brilliant|nice|cool)"
_GLAD_ALONE = r"(?:perfect|great|awesome|brilliant|excellent|fantastic|wonderful)"
"""Said alone after "Did this fix it?", a yes; "ok" or "cool" may mean
"I'll try it", so they are not."""
_THANKS = r"(?:thanks|thank you|thx|ty|cheers)"
_FIXED_CORE = (
    r"(?:(?:that|it|this)(?: has| s)? )?"
    r"(?:worked|works(?: now)?|fixed it|fixed|did it|did the trick|solved it|"
    r"sorted it|helped|is fixed|s fixed|is working(?: now)?|s working(?: now)?|"
    r"is sorted|s sorted|is solved|s solved)"
    r"|all (?:good|sorted|fixed|working)(?: now)?|problem solved|working now"
    r"|fixed now|sorted now"
)
_FIXED = re.compile(
    rf"^(?:{_GLAD} )*(?:{_THANKS} )?(?:{_FIXED_CORE})(?: {_THANKS})?"
    rf"(?: (?:a lot|so much|very much|now|again))*$"
    rf"|^{_YES}(?: {_THANKS})?$"
    rf"|^{_GLAD_ALONE}(?: {_THANKS})?$"
)
_STUCK = re.compile(
    r"^(?:no|nope|nah)(?: (?:i m |i am )?still stuck)?$"
    r"|^(?:no )?(?:it |that |this )?(?:didn t|did not|doesn t|does not) "
    r"(?:work|help|fix it)$"
    r"|^(?:no )?(?:it s |it is |i m |i am )?still (?:stuck|broken|not working|"
    r"the same|happening)$"
    r"|^(?:no )?not (?:fixed|working)$|^no luck$"
    r"|^(?:no |nope )?not (?:really|quite|yet|at all)$"
)
_FIXED_EMOJI = frozenset("👍👌✅🙏🎉")
_STUCK_EMOJI = frozenset("👎❌😞😢")
_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400)) | {"\ufe0f"}
_WORDS = re.compile(r"[a-z]+")
_BARE_NO = frozenset(
    {"no", "nope", "nah", "not", "really", "quite", "yet", "at", "all"}
)
_BARE_YES = re.compile(rf"^(?:{_YES}|{_GLAD_ALONE})(?: {_THANKS})?$")


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


def read_fix_answer(text: str) -> FixAnswer | None:
    """``fixed`` or ``not_fixed`` when ``text`` is only an answer to "Did this
    fix it?"; None for anything else (which then goes to the model)."""
    marks = {c for c in text if not c.isspace()} - _SKIN_TONES
    if marks and marks <= _FIXED_EMOJI:
        return "fixed"
    if marks and marks <= _STUCK_EMOJI:
        return "not_fixed"
    words = " ".join(_WORDS.findall(text.lower().replace("’", "'")))
    if not words or len(words.split()) > 8:
        return None
    if _FIXED.match(words):
        return "fixed"
    if _STUCK.match(words):
        return "not_fixed"
    return None


def says_it_works(text: str) -> bool:
    """True when ``text`` says outright that it works now ("that worked,
    thanks"), not a bare "yes", "great" or 👍, which may answer some other
    question."""
    words = " ".join(_WORDS.findall(text.lower().replace("’", "'")))
    return (
        read_fix_answer(text) == "fixed" and bool(words) and not _BARE_YES.match(words)
    )


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
