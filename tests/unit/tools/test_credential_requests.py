"""A knowledge passage that asks readers to hand over a password or code (a
poisoned or phishing article) never reaches the model or the employee; the
real articles lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.knowledge.base import Passage
from tools.knowledge.tool import WITHHELD, withhold_credential_requests
from tools.settings import load_settings


def _passage(text: str) -> Passage:
    return Passage("c", "d", "Mailbox full", "", "kb/mailbox.md", text, 1.0)


@pytest.mark.parametrize(
    "asks",
    [
        "To get more space, reply to quota-desk@mail-verify.example\nwith your user name and your current password.",
        "Send your one-time code to the agent in this chat.",
        "Please e-mail your password to the service desk so we can check it.",
        "Give your PIN to the technician when they call.",
    ],
)
def test_a_line_asking_for_a_secret_is_withheld(asks: str) -> None:
    text = "When your mailbox is full, Outlook stops sending mail.\n\n" + asks
    kept = withhold_credential_requests(_passage(text)).text
    assert kept.startswith("When your mailbox is full, Outlook stops sending mail.")
    assert WITHHELD in kept
    assert "mail-verify" not in kept and "your PIN" not in kept


@pytest.mark.parametrize(
    "fine",
    [
        "Never share your password with anyone, not even IT.",
        "Type your old password, create and confirm your new password, then select Submit.",
        "Select the link to send an email to your administrator, asking to reset your password.",
        "Sign in with your work email address and password.",
    ],
)
def test_ordinary_advice_about_passwords_stays(fine: str) -> None:
    assert withhold_credential_requests(_passage(fine)).text == fine


def test_no_real_article_loses_a_line(shared_dir: Path) -> None:
    articles = [
        p
        for root in (load_settings().manifests_dir / "kb", shared_dir / "data" / "kb")
        for p in root.rglob("*")
        if p.suffix.lower() in (".md", ".html", ".htm", ".txt")
    ]
    assert len(articles) > 100
    withheld = [
        p.name
        for p in articles
        if WITHHELD
        in withhold_credential_requests(_passage(p.read_text(errors="ignore"))).text
    ]
    assert withheld == []
