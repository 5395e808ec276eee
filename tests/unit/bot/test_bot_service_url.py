"""The serviceUrl rules: plain loopback hosts only locally, the token's URL when signed."""

from __future__ import annotations

import pytest

from bot.service_url import (
    check_local_service_url,
    check_service_url_claim,
    is_loopback_host,
    service_url_host,
)
from tools.errors import InvalidInput


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("169.254.169.254", False),
        ("10.0.0.1", False),
        ("127.1", False),
        ("2130706433", False),
        ("0x7f.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_only_plain_loopback_spellings_count(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://smba.trafficmanager.net/teams/", "smba.trafficmanager.net"),
        ("HTTP://LocalHost:3978/", "localhost"),
        ("http://[::1]:3978/", "::1"),
    ],
)
def test_the_host_is_read_lower_cased_without_brackets(url: str, host: str) -> None:
    assert service_url_host(url) == host


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/",
        "http://[::1/",
        "http://127.0.0.1/\x00",
        "http:// 127.0.0.1/",
        "http:///path-only",
        "javascript:alert(1)",
    ],
    ids=["port-out-of-range", "open-bracket", "control-char", "space", "no-host", "js"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="absolute http or https URL"):
        service_url_host(url)


def test_the_local_refusal_names_the_host_and_the_way_out() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_local_service_url("http://169.254.169.254/latest/")

    assert "not 169.254.169.254" in str(caught.value)
    assert "MICROSOFT_APP_ID" in str(caught.value)


def test_a_token_vouching_for_the_same_url_passes() -> None:
    url = "https://smba.trafficmanager.net/teams/"

    check_service_url_claim({"serviceurl": url}, url)


@pytest.mark.parametrize(
    "claims",
    [{}, {"serviceurl": ""}, {"serviceurl": "https://smba.trafficmanager.net/emea/"}],
    ids=["no-claim", "empty-claim", "other-url"],
)
def test_a_token_not_vouching_for_the_url_is_refused(claims: dict) -> None:
    # Emulator tokens reach the bot without botbuilder comparing this claim.
    with pytest.raises(PermissionError, match="'serviceurl' claim"):
        check_service_url_claim(claims, "https://smba.trafficmanager.net/teams/")
