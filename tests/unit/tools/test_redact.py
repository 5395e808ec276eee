"""What redaction hides and what it leaves alone, one sentence per row."""

from __future__ import annotations

import pytest

from tools.redact import MASK, clean_for_ticket, redact

MUST_REDACT = [
    ("my new password will be Summer2024 by the way", "Summer2024"),
    ("password: correct horse battery staple", "horse battery staple"),
    ("login alex / Hunter2!", "Hunter2!"),
    ("I set it to Purple-Monkey-Dishwasher-77 and Outlook rejects it", "Purple"),
    ("changed my password to Winter#2025 yesterday", "Winter#2025"),
    ("the new one is Hunter2!", "Hunter2!"),
    ("mein Passwort ist Hunter2!", "Hunter2!"),
    # (text, the secret that must disappear)
    ("password: hunter2", "hunter2"),
    ("my pwd is Hunter22", "Hunter22"),
    ("my pw is Summer2024!", "Summer2024!"),
    ("PW: Summer2024!", "Summer2024!"),
    ("password - Summer2024!", "Summer2024!"),
    ("password \u2013 Summer2024!", "Summer2024!"),
    ("my password is: Summer2024!", "Summer2024!"),
    ("passwd=Summer2024!", "Summer2024!"),
    ("password\tSummer2024!", "Summer2024!"),
    ("my password is summer", "summer"),
    ("I typed Summer2024! as my password", "Summer2024!"),
    ("I used 'Winter2025#' as the new password", "Winter2025#"),
    ("Summer2024! is my password", "Summer2024!"),
    ("I entered 483920 as the code", "483920"),
    ("the code is 483920", "483920"),
    ("MFA code 483920", "483920"),
    ("MFA code 483 920", "483 920"),
    ("verification code: 48392012", "48392012"),
    ("the code - 4839", "4839"),
    ("otp 483920", "483920"),
    ("OTP is 483920.", "483920"),
    ("PIN 1234", "1234"),
    ("my pin is 9911", "9911"),
    ("the pin code is 4321", "4321"),
    ("passcode = 123456", "123456"),
    ("api key = 3f9a8b7c6d5e", "3f9a8b7c6d5e"),
    ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),
    ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ("https://admin:Sup3rSecret@intranet.example.com/", "admin:Sup3rSecret"),
    ("Employee: my password is Summer2024!\nCopilot: ok", "Summer2024!"),
]

MUST_KEEP = [
    "I set it to Automatic",
    "I set it to dark-mode",
    "I reset it to factory settings",
    "I updated it to version 2.3.1",
    "changed it to 24 hours",
    "my password will be changed tomorrow",
    "the password will be reset by IT",
    "user / group permissions are broken",
    "my password expired",
    "My Password Expired",
    "password is wrong",
    "reset my password please",
    "I need a new key card",
    "my password is blocked",
    "my password was changed yesterday",
    "password was reset on 2024-05-01",
    "password is at least 12 characters",
    "the file is password-protected",
    "the code is wrong",
    "I entered the code but it failed",
    "error code 1603",
    "exit code: 1603",
    "HTTP status code 5030 from the proxy",
    "Here is the code",
    "that is my password",
    "call me at 555-1234 about my password",
    "Employee: I forgot my password\nCopilot: I can only reset it after you confirm.",
    "Employee: what is the password\nCopilot: I never show passwords.",
    "Employee: my pin\nCopilot: Which PIN do you mean?",
]


@pytest.mark.parametrize(
    ("text", "secret"), MUST_REDACT, ids=[t for t, _ in MUST_REDACT]
)
def test_a_secret_is_redacted(text: str, secret: str) -> None:
    redacted = redact(text)

    assert secret not in redacted
    assert MASK in redacted


@pytest.mark.parametrize("text", MUST_KEEP)
def test_a_plain_sentence_is_kept_as_it_is(text: str) -> None:
    assert redact(text) == text


def test_only_the_secret_goes_and_the_sentence_stays() -> None:
    assert redact("my pw is Summer2024! since monday") == (
        f"my pw is {MASK} since monday"
    )
    assert redact("I typed Summer2024! as my password") == (
        f"I typed {MASK} as my password"
    )
    assert redact("MFA code 483920") == f"MFA code {MASK}"


def test_a_match_never_takes_the_next_line() -> None:
    transcript = (
        "Employee: I keep typing the wrong password\n"
        "Copilot: I can only reset it after you confirm.\n"
        "Employee: the code is 483920\n"
        "Copilot: Thanks."
    )

    redacted = redact(transcript)

    assert redacted.splitlines() == [
        "Employee: I keep typing the wrong password",
        "Copilot: I can only reset it after you confirm.",
        f"Employee: the code is {MASK}",
        "Copilot: Thanks.",
    ]


def test_redaction_is_stable_when_applied_again() -> None:
    for text, _ in MUST_REDACT:
        once = redact(text)
        assert redact(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "the old one was hunter",
        "sunshine is my password",
        "my password is\nhunter22",
        "my password is 'correct horse battery staple'",
    ],
)
def test_the_documented_limits_hold(text: str) -> None:
    # Nothing around these says which word is the password (see the module
    # docstring): they pass through, and the docstring says so.
    redacted = redact(text)

    assert "hunter" in redacted or "sunshine" in redacted or "horse" in redacted


def test_cleaning_for_a_ticket_strips_controls_before_redacting() -> None:
    cleaned = clean_for_ticket("pass\x1b[8mword: Summer2024!\x1b[0m\u202e")

    assert cleaned == f"password: {MASK}"
