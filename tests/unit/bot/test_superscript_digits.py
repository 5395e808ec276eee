"""Digits that ``str.isdigit`` accepts but ``int`` refuses ("²", "³") are not
numbers anywhere a click, a label or a typed choice is read: they are
refused as unreadable instead of failing the turn."""

from __future__ import annotations

import pytest

from bot.asset_cards import APPROVE, read_asset_click
from bot.followup_cards import RATE_ACTION, read_rating
from tools.assets.requests import seq_of
from tools.tickets.servicenow import _change_id

SUPERSCRIPTS = ["²", "1²", "³³"]


@pytest.mark.parametrize("raw", SUPERSCRIPTS)
def test_a_forged_asset_approval_number_is_not_a_click(raw: str) -> None:
    assert read_asset_click({"action": APPROVE, "approval": raw}) is None


@pytest.mark.parametrize("raw", SUPERSCRIPTS)
def test_a_rating_of_superscripts_is_not_a_rating(raw: str) -> None:
    assert read_rating({"action": RATE_ACTION, "ask": "a" * 32, "rating": raw}) is None


@pytest.mark.parametrize("raw", SUPERSCRIPTS)
def test_a_request_label_with_superscripts_is_not_a_label(raw: str) -> None:
    assert seq_of(f"REQ{raw}") is None


def test_a_change_count_with_superscripts_gives_no_change_id() -> None:
    assert _change_id("abc", "²", "state") is None
    assert _change_id("abc", "7", "state") == "itsm:abc:7:state"
