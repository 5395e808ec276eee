"""Redaction of secrets from text that leaves the conversation (tickets, logs).

Employees paste passwords, one-time codes and keys into chats. Nothing that
looks like one may reach a ticket: a transcript, a description or a comment is
passed through :func:`clean_for_ticket` (control characters out, then
:func:`redact`) first. It errs on the side of hiding too much.

What is recognised:

* a value after a secret's name, with or without "is", "is now", "was",
  "will be", ":", "=", "->" or a spaced dash: ``password: hunter2``,
  ``my pw is Summer2024!``, ``my new password will be Summer2024``,
  ``password - Summer2024!``, ``api key = abc123…``, ``Passwort ist x``;
* a pass phrase after a colon, to the end of the clause: ``password:
  correct horse battery staple``; a pair ``login alex / Hunter2!``;
* a value after "set it to", "changed my password to" or "the new one is"
  that has a letter and a digit or sign: ``I set it to Purple-Monkey-77``;
* a value named after it: ``I typed Summer2024! as my password``,
  ``483920 is the code``;
* one-time codes of 4 to 8 digits (or ``483 920``) after "code", "otp",
  "pin", "passcode" or "verification": ``the code is 483920``,
  ``MFA code 483920``; not error, exit or status codes (``error code 1603``);
* JSON web tokens, bearer tokens, connection-string keys and signatures,
  credentials in URLs, long random-looking strings, payment card numbers.

A plain sentence keeps its words: ``my password expired``, ``password is
wrong``, ``reset my password please``, ``I need a new key card``. A match
never runs past the end of a line, so a transcript line that ends in
"password" does not take the next line's speaker with it.

Warning:
    Redaction recognises a secret by the words around it, so it cannot
    catch one that nothing names: ``the old one was hunter``, a password
    on the line after the word "password", a password that is one plain
    lowercase word (``my password is sunshine`` is caught, ``sunshine is my
    password`` is not), or one with spaces in it. Tools that hand out
    secrets must keep them out of the conversation in the first place.
"""

from __future__ import annotations

import re

from tools.text import strip_controls

MASK = "[redacted]"

_BLANK = r"[ \t]"
"""Space within a line: no pattern may cross a line break."""
_SEPARATOR = (
    rf"{_BLANK}*(?:(?:\bis(?:{_BLANK}+now)?\b|\bwas\b|\bist\b|"
    rf"\b(?:will|would|should){_BLANK}+be\b|[:=#]|->|[-\u2013\u2014](?={_BLANK}))"
    rf"{_BLANK}*)+|{_BLANK}+"
)
"""Between a secret's name and its value: "is", "was", ":", "=", "#", "->" or
a dash with a space after it ("password - x", never "password-protected"),
or just spaces."""

_NAMED = re.compile(
    r"(?i)\b(?P<word>pass(?:word|wd|code|phrase)?|passwort|kennwort|pwd|pw|pin|secret|otp|"
    r"temporary access pass|tap|token|api[ _-]?key|key)\b"
    rf"(?P<sep>{_SEPARATOR})"
    r"(?P<secret>[^\s,;]{4,})"
)
"""A value after a secret's name: "password: hunter2", "my pw is x1!"."""

_CODE = re.compile(
    r"(?i)\b(?P<word>codes?|otp|pin|passcode|verification)\b"
    rf"(?P<sep>(?:{_SEPARATOR})?)"
    r"(?P<secret>\d{3}[ -]\d{3}|\d{4,8})(?!\d)"
)
"""A one-time code: "the code is 483920", "MFA code 483 920", "PIN: 1234"."""

_NAMED_AFTER = re.compile(
    r"(?i)(?<![^\s(\"'])(?P<secret>[^\s,;]{4,})"
    rf"{_BLANK}+(?:as|is|was){_BLANK}+"
    rf"(?:(?:my|the|our|your|a){_BLANK}+)?"
    rf"(?:(?:new|old|current|temporary|temp|one-time|wi-?fi){_BLANK}+)?"
    r"(?:password|passwd|passphrase|pw|pwd|passcode|pin|code|otp)\b"
)
"""A value named after it: "I typed Summer2024! as my password"."""

_SPELLED_OUT = re.compile(
    r"(?i)\b(?:pass(?:word|phrase)|passwort|kennwort)"
    rf"{_BLANK}*[:=]{_BLANK}*(?P<secret>[^\n,;]{{4,80}})"
)
"""A pass phrase of several words after a colon: "password: correct horse
battery staple" (to the end of the clause)."""
_LOGIN_PAIR = re.compile(
    r"(?i)\b(?:login|log-?in|user(?:name)?|account|credentials?)\b"
    rf"{_BLANK}*[:=]?{_BLANK}*[^\s/]+{_BLANK}*/{_BLANK}*(?P<secret>[^\s,;]{{4,}})"
)
"""A user name and password written as a pair: "login alex / Hunter2!"."""
_SET_TO = re.compile(
    r"(?i)\b(?:(?:set|changed|reset|switched|updated)"
    rf"{_BLANK}+(?:it|mine|that|my{_BLANK}+(?:pw|pwd|pass(?:word)?)){_BLANK}+to"
    rf"|(?:new|old|current|temporary|temp){_BLANK}+one{_BLANK}+(?:is|was))"
    rf"{_BLANK}+(?P<secret>(?=[^\s,;]*[A-Za-z])(?=[^\s,;]*[\d!@#$%^&*_+=?~])"
    r"[^\s,;]{6,})"
)
"""A password nothing names but the verb: "I set it to Purple-Monkey-77",
"the new one is Hunter2!" (only a value with a letter and a digit or sign:
"set it to Automatic" keeps its word)."""

_OTHER_PATTERNS: tuple[re.Pattern[str], ...] = (
    # JSON Web Tokens and bearer tokens
    re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),
    re.compile(rf"(?i)\bbearer{_BLANK}+(?P<secret>[\w\-.~+/]{{12,}}=*)"),
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

_NOT_ONE_TIME = frozenset(
    [
        "error",
        "exit",
        "status",
        "return",
        "reason",
        "response",
        "result",
        "event",
        "http",
        "fault",
        "stop",
        "bug",
        "zip",
        "postal",
        "area",
        "country",
        "region",
        "product",
        "promo",
        "discount",
        "cost",
        "project",
        "department",
        "tax",
        "sort",
    ]
)
"""Words before "code" that make the number a code to keep (error code 1603)."""

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
        "valid",
        "locked",
        "unlocked",
        "weak",
        "strong",
        "short",
        "long",
        "required",
        "needed",
        "different",
        "same",
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
        "blocked",
        "disabled",
        "rejected",
        "accepted",
        "saved",
        "stored",
        "forgotten",
        "lost",
        "compromised",
        "leaked",
        "shared",
        "sent",
        "unknown",
        "missing",
        "empty",
        "fine",
        "okay",
        "failing",
        "failed",
        "updated",
        "synced",
        "simple",
        "complex",
        "case",
        "sensitive",
        "there",
        "here",
    ]
)
"""Words that, after a secret's name, are part of the sentence, not a secret."""


def clean_for_ticket(text: str) -> str:
    """``text`` fit to store on a ticket: no control characters, no secrets.

    Every free text a ticket system stores (title, description, transcript,
    what was tried, links, comments, notes, text files) goes through this.
    Terminal escapes and bidi overrides go first (see
    :func:`tools.text.strip_controls`), so that a secret split by one is
    still seen whole by :func:`redact`.
    """
    return redact(strip_controls(text))


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``[redacted]``.

    See the module docstring for what is recognised and what cannot be.
    """
    text = _SPELLED_OUT.sub(_mask, text)
    text = _LOGIN_PAIR.sub(_mask, text)
    text = _SET_TO.sub(_mask, text)
    text = _NAMED.sub(_mask_named, text)
    text = _CODE.sub(_mask_code, text)
    text = _NAMED_AFTER.sub(_mask_named_after, text)
    for pattern in _OTHER_PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask_named(match: re.Match[str]) -> str:
    """A value after a word such as "password": hidden unless it is plainly a
    word of the sentence ("my password expired", "password is wrong")."""
    value = match.group("secret").rstrip(".!?")
    separator = match.group("sep").strip().lower()
    if value.lower() in _PLAIN_WORDS:
        return match.group(0)
    if value.isalpha() and value.islower():
        if not separator:
            return match.group(0)  # "reset my password please"
        if separator in ("is", "was") and value.endswith(("ed", "ing")):
            return match.group(0)  # "my password is blocked", "… was failing"
    return _mask(match)


def _mask_code(match: re.Match[str]) -> str:
    """A number after "code": hidden unless the code is an error or a status."""
    if match.group("word").lower().startswith("code"):
        before = re.search(r"(\w+)\W*$", match.string[: match.start()])
        if before is not None and before.group(1).lower() in _NOT_ONE_TIME:
            return match.group(0)
    return _mask(match)


def _mask_named_after(match: re.Match[str]) -> str:
    """A value before "as my password": hidden unless it is a plain word
    ("that is my password", "Here is the code")."""
    value = match.group("secret").strip("\"'()!?.")
    if value.isalpha() or value.lower() in _PLAIN_WORDS:
        return match.group(0)
    return _mask(match)


def _mask(match: re.Match[str]) -> str:
    if "secret" in match.groupdict() and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        whole = match.group(0)
        return whole[: start - whole_start] + MASK + whole[end - whole_start :]
    return MASK
