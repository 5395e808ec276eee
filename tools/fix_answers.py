"""Reading an employee's answer to "Did this fix it?" from their own words.

The bot asks after an answer (:mod:`bot.followup_cards`) and the ticket
draft leaves out a problem the employee already said was fixed
(:mod:`tools.tickets.drafting`); both read the words here. Only short, plain
answers count: "yes that worked but now Excel crashes" is a new question,
not a yes.
"""

from __future__ import annotations

import re
from typing import Literal

FixAnswer = Literal["fixed", "not_fixed"]

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
_BARE_YES = re.compile(rf"^(?:{_YES}|{_GLAD_ALONE})(?: {_THANKS})?$")


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
