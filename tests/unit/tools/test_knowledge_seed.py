"""First start: the embedded backend opens in the data folder and seeds the demo KB.

The demo articles are the collection ``demo``; their ids are ``demo/<file>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tools.knowledge import open_backend, seed_if_empty
from tools.settings import load_settings


@pytest.mark.parametrize(
    ("question", "article"),
    [
        pytest.param("how do I set up the VPN on my Mac?", "vpn-mac.md", id="vpn-mac"),
        pytest.param("Outlook keeps asking for my password", "outlook-password-prompts.md", id="outlook"),
        pytest.param("I got a new phone, how do I move my 2FA?", "mfa-new-phone.md", id="2fa-phone"),
        pytest.param("what is the guest wifi code", "wifi-guest.md", id="guest-wifi"),
        pytest.param("I need Visio", "software-request.md", id="visio"),
        pytest.param("I lost my laptop", "lost-device.md", id="lost"),
        pytest.param("how do I report a phishing email", "phishing.md", id="phishing"),
    ],
)  # fmt: skip
async def test_the_demo_kb_answers_common_questions_first_time(
    question: str, article: str
) -> None:
    settings = load_settings()
    kb = await open_backend(settings)
    try:
        await seed_if_empty(kb, settings)
        passages = await kb.asearch(question, top=3)
    finally:
        await kb.aclose()

    assert passages[0].doc_id == "demo/" + article
    assert passages[0].source == (
        "https://intranet.contoso.example/it/" + article.removesuffix(".md")
    )


async def test_seeding_happens_only_when_the_index_is_empty() -> None:
    settings = load_settings()
    kb = await open_backend(settings)
    try:
        await seed_if_empty(kb, settings)
        count = await kb.acount()
        await kb.adelete_documents(["demo/vpn-mac.md"])
        await seed_if_empty(kb, settings)  # not empty: leaves the deletion alone

        assert count > 25
        assert await kb.acount() < count
    finally:
        await kb.aclose()


async def test_a_missing_seed_folder_is_one_warning_and_an_empty_kb(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(kb_seed_dir=tmp_path / "nowhere")
    kb = await open_backend(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="tools.knowledge"):
            await seed_if_empty(kb, settings)
        count = await kb.acount()
    finally:
        await kb.aclose()

    assert count == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("HELPDESK_KB_SEED_DIR: ")
