"""The draft of a new ticket: from what the agent filled in, else from the chat.

A language model drafts the summary itself; the offline model leaves the
fields empty and this module writes them from the employee's own lines. Either
way the employee sees the draft on the card and may change every field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.conversation import Conversation
from tools.fix_answers import says_it_works
from tools.redact import clean_for_ticket as redact
from tools.tickets.base import CATEGORIES, LEVELS, TICKET_LABEL, Level

SHORT_MAX = 160
RECENT_LINES = 6
"""How far back a draft looks: an earlier problem is another ticket."""
DESCRIPTION_MAX = 4000

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE = re.compile(r"\s*[,;:\u2013\u2014]\s*|\s+-\s+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_META = _wordset(
    """open raise create log file submit make start new a an the my me i it this
    that ticket tickets incident case call request help desk helpdesk service it
    please pls can could you would like want need to for with of on and or but
    just now still again not didn't doesn't did does isn't wasn't don't work
    works working worked help helped helpful useless fix fixed solve solved
    person human someone somebody agent technician talk speak contact escalate
    thanks thank ok okay yes no hi hello hey is was be so that's thats all
    nothing anything one status close closed reopen cancel comment add show list
    queue update news any didnt doesnt dont anymore done"""
)
"""Words of a line that only asks for a ticket or says the answer did not help."""

_CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "security": (
        "phishing",
        "phish",
        "hacked",
        "stolen",
        "suspicious",
        "malware",
        "virus",
        "scam",
        "compromised",
        "breach",
        "ransomware",
        "spam",
    ),
    "access": (
        "access",
        "permission",
        "permissions",
        "locked",
        "lockout",
        "password",
        "sign",
        "signin",
        "login",
        "log",
        "mfa",
        "authenticator",
        "account",
        "rights",
        "admin",
        "share",
        "sharepoint",
    ),
    "email": ("email", "e-mail", "mail", "mailbox", "outlook", "calendar", "inbox"),
    "network": (
        "vpn",
        "wifi",
        "wi-fi",
        "network",
        "internet",
        "connection",
        "connect",
        "ethernet",
        "proxy",
        "dns",
        "offline",
    ),
    "hardware": (
        "monitor",
        "screen",
        "display",
        "laptop",
        "keyboard",
        "mouse",
        "printer",
        "dock",
        "docking",
        "headset",
        "battery",
        "charger",
        "webcam",
        "camera",
        "phone",
        "desktop",
        "flickers",
        "flickering",
        "hardware",
        "usb",
    ),
    "software": (
        "install",
        "installed",
        "app",
        "application",
        "software",
        "excel",
        "word",
        "teams",
        "visio",
        "licence",
        "license",
        "update",
        "crash",
        "crashes",
        "error",
        "program",
        "adobe",
        "browser",
    ),
}
_SERVICES = (
    ("vpn", "VPN"),
    ("wi-fi", "Wi-Fi"),
    ("wifi", "Wi-Fi"),
    ("outlook", "Outlook"),
    ("teams", "Microsoft Teams"),
    ("sharepoint", "SharePoint"),
    ("onedrive", "OneDrive"),
    ("excel", "Excel"),
    ("printer", "Printer"),
    ("monitor", "Monitor"),
    ("laptop", "Laptop"),
    ("visio", "Visio"),
    ("mfa", "MFA"),
    ("authenticator", "Microsoft Authenticator"),
    ("email", "E-mail"),
)
_URGENT = re.compile(
    r"\b(urgent|asap|immediately|right now|can'?t work|cannot work|down for|"
    r"blocked|deadline|emergency|critical)\b",
    re.IGNORECASE,
)
_WIDE = re.compile(
    r"\b(everyone|everybody|whole (team|office|department|floor)|all of us|"
    r"all users|the team|my team|colleagues too|nobody can)\b",
    re.IGNORECASE,
)
_COMPANY_WIDE = re.compile(
    r"\b(whole company|entire company|all offices|everyone in the company)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Draft:
    """The fields of a new ticket, before the employee edits them."""

    short_description: str
    description: str
    category: str
    urgency: Level
    impact: Level
    service: str


def draft(args: dict[str, Any], conversation: Conversation, *, who: str) -> Draft:
    """Fill each field from ``args`` when the agent gave it, else from the chat.

    Args:
        args: the create tool's arguments (any may be missing or empty).
        conversation: the redacted transcript.
        who: the employee's name, for the description.
    """
    problem = problem_lines(conversation)
    said = " ".join(problem)

    short = _clean(args.get("short_description")) or _first_sentence(problem)
    short = short or f"IT help request from {who}"
    description = _clean(args.get("description"))
    if not description:
        description = (
            f"{who} reports: " + " / ".join(problem)
            if problem
            else f"{who} asked the copilot for help; see the conversation below."
        )
    category = str(args.get("category") or "").lower()
    if category not in CATEGORIES:
        category = categorise(f"{short} {said}")
    urgency = _level(args.get("urgency")) or (
        "high" if _URGENT.search(said) else "medium"
    )
    impact = _level(args.get("impact")) or _impact(said)
    service = _clean(args.get("service")) or _service(f"{short} {said}")
    return Draft(
        short_description=_cut(short, SHORT_MAX),
        description=_cut(description, DESCRIPTION_MAX),
        category=category,
        urgency=urgency,
        impact=impact,
        service=_cut(service, 200),
    )


def problem_lines(conversation: Conversation) -> list[str]:
    """What the employee said about the problem lately: their last
    :data:`RECENT_LINES` lines that say more than "open a ticket" or "that
    didn't help" and name no existing ticket, oldest first, and none from
    before they said an earlier problem was fixed ("that worked, thanks")."""
    lines: list[str] = []
    for line in conversation.employee_lines[-RECENT_LINES:]:
        if says_it_works(line):
            lines = []  # that problem is solved; a ticket is about a later one
            continue
        if TICKET_LABEL.search(line):
            continue  # about an existing ticket ("status of INC0001001")
        # "The printer jams, open a ticket": keep the clause about the problem.
        kept = [c.strip() for c in _CLAUSE.split(line) if _about_problem(c)]
        if kept:
            lines.append(", ".join(kept))
    return lines


def _about_problem(clause: str) -> bool:
    words = set(_WORD.findall(clause.lower()))
    return any(len(w) >= 3 and w.isalpha() for w in words - _META)


def categorise(text: str) -> str:
    """The category whose words the text uses most; ``other`` when none."""
    words = _WORD.findall(
        text.lower().replace("wi-fi", "wifi").replace("e-mail", "email")
    )
    best, best_hits = "other", 0
    for category, vocabulary in _CATEGORY_WORDS.items():
        hits = sum(1 for w in words if w in vocabulary)
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def _impact(text: str) -> Level:
    if _COMPANY_WIDE.search(text):
        return "high"
    if _WIDE.search(text):
        return "medium"
    return "low"


def _service(text: str) -> str:
    lowered = text.lower()
    for word, name in _SERVICES:
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            return name
    return ""


def _level(value: Any) -> Level | None:
    text = str(value or "").strip().lower()
    return next((level for level in LEVELS if level == text), None)


def _first_sentence(lines: list[str]) -> str:
    if not lines:
        return ""
    first = _SENTENCE.split(lines[0].strip(), maxsplit=1)[0]
    return first[:1].upper() + first[1:]


def _clean(value: Any) -> str:
    return redact(" ".join(str(value).split())) if value else ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
