"""Redaction of secrets from text that leaves the conversation (tickets, logs).

Employees paste passwords, one-time codes and keys into chats. Nothing that
looks like one may reach a ticket: a transcript, a description or a comment is
passed through :func:`redact` first. It errs on the side of hiding too much.
"""

from __future__ import annotations

import re

MASK = "[redacted]"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "password: hunter2", "my pwd is hunter2", "passcode = 1234", "PIN 9911"
    re.compile(
        r"(?i)\b(pass(?:word|wd|code|phrase)?|pwd|pin|secret|otp|"
        r"temporary access pass|tap|token|api[ _-]?key|key)\b"
        r"(\s*(?:is|was|:|=|->)?\s*)"
        r"(?P<secret>[^\s,;]{4,})"
    ),
    # JSON Web Tokens and bearer tokens
    re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),
    re.compile(r"(?i)\bbearer\s+(?P<secret>[\w\-.~+/]{12,}=*)"),
    # connection strings and URLs with credentials
    re.compile(r"(?i)\b(?:accountkey|sharedaccesskey|sig)=(?P<secret>[^;&\s]{8,})"),
    re.compile(r"(?i)(?<=://)(?P<secret>[^/\s:@]+:[^/\s@]+)(?=@)"),
    # long high-entropy strings: keys, client secrets
    re.compile(
        r"\b(?=[A-Za-z0-9+/_~.-]*\d)(?=[A-Za-z0-9+/_~.-]*[A-Za-z])"
        r"[A-Za-z0-9+/_~.-]{32,}={0,2}"
    ),
    # payment card numbers (13-19 digits, spaces or dashes allowed)
    re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
)


_PLAIN_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "not",
        "no",
        "now",
        "still",
        "too",
        "very",
        "is",
        "was",
        "be",
        "being",
        "been",
        "expired",
        "expires",
        "expiring",
        "reset",
        "changed",
        "change",
        "wrong",
        "incorrect",
        "correct",
        "invalid",
        "locked",
        "weak",
        "required",
        "needed",
        "different",
        "working",
        "broken",
        "again",
        "for",
        "to",
        "on",
        "in",
        "of",
        "and",
        "or",
        "but",
        "it",
        "my",
        "me",
        "with",
        "from",
        "field",
        "box",
        "prompt",
        "prompts",
        "policy",
        "manager",
        "rules",
        "please",
        "keeps",
        "asking",
        "does",
        "doesn't",
        "isn't",
        "wasn't",
        "won't",
        "will",
        "would",
        "should",
        "can't",
    ]
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``[redacted]``."""
    first, *rest = _PATTERNS
    text = first.sub(_mask_named, text)
    for pattern in rest:
        text = pattern.sub(_mask, text)
    return text


def _mask_named(match: re.Match[str]) -> str:
    """A value after a word such as "password": hidden unless it is plainly a
    word of the sentence ("my password expired", "password is wrong")."""
    value = match.group("secret").rstrip(".!?")
    separated = bool(match.group(2).strip())
    plain = value.isalpha() and value.islower()
    if value.lower() in _PLAIN_WORDS or (plain and not separated):
        return match.group(0)
    return _mask(match)


def _mask(match: re.Match[str]) -> str:
    if "secret" in match.groupdict() and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        whole = match.group(0)
        return whole[: start - whole_start] + MASK + whole[end - whole_start :]
    return MASK
