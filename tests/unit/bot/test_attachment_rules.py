"""Where the bot may fetch files from, in signed and local mode (no network)."""

from __future__ import annotations

import pytest

from bot.attachments import (
    DownloadFailed,
    DownloadRules,
    check_address,
    check_download_url,
    sniff_type,
    token_allowed,
)

SIGNED = DownloadRules(
    local_mode=False, service_url="https://smba.trafficmanager.net/amer/"
)
LOCAL = DownloadRules(local_mode=True, service_url="http://127.0.0.1:3978/")
CONNECTOR_FILE = (
    "https://smba.trafficmanager.net/amer/v3/attachments/0-a1/views/original"
)
ONEDRIVE_FILE = (
    "https://contoso-my.sharepoint.com/personal/alex_contoso_com/_layouts/15/"
    "download.aspx?UniqueId=1f2e&Translate=false&tempauth=eyJ0eXAi"
)


@pytest.mark.parametrize(
    ("url", "token"),
    [
        pytest.param(CONNECTOR_FILE, True, id="bot-connector"),
        pytest.param(ONEDRIVE_FILE, False, id="onedrive-download-link"),
        pytest.param(
            "https://contoso.sharepoint.com/sites/it/file.png", False, id="sharepoint"
        ),
        pytest.param(
            "https://smba.trafficmanager.net:443/amer/v3/attachments/1",
            True,
            id="explicit-default-port",
        ),
    ],
)
def test_signed_mode_fetches_from_the_connector_and_sharepoint(
    url: str, token: bool
) -> None:
    check_download_url(url, SIGNED)

    assert token_allowed(url, SIGNED) is token


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(CONNECTOR_FILE.replace("https", "http", 1), id="plain-http"),
        pytest.param("https://files.contoso.example/a.png", id="other-host"),
        pytest.param(
            "https://smba.trafficmanager.net.evil.example/a", id="suffix-trick"
        ),
        pytest.param(
            "https://sharepoint.com.evil.example/a.png", id="sharepoint-trick"
        ),
        pytest.param("https://evilsharepoint.com/a.png", id="no-dot-before-suffix"),
        pytest.param("https://.sharepoint.com/a.png", id="bare-suffix"),
        pytest.param("https://user@smba.trafficmanager.net/amer/a", id="user-info"),
        pytest.param("https://169.254.169.254/latest/meta-data", id="metadata-ip"),
        pytest.param("https://10.0.0.5/a.png", id="private-ip"),
        pytest.param("https://127.0.0.1/a.png", id="loopback-in-signed-mode"),
        pytest.param("https://[::1]/a.png", id="loopback-v6"),
        pytest.param("file:///etc/passwd", id="file-scheme"),
        pytest.param("https://smba.trafficmanager.net\\@evil.example/", id="backslash"),
        pytest.param("https://smba.trafficmanager.net /a", id="space"),
        pytest.param("https://smba.trafficmanager.net:99999/a", id="bad-port"),
        pytest.param("", id="empty"),
    ],
)
def test_signed_mode_refuses_every_other_target(url: str) -> None:
    with pytest.raises(DownloadFailed) as refused:
        check_download_url(url, SIGNED)

    assert refused.value.reason == "refused"
    assert token_allowed(url, SIGNED) is False


def test_the_token_needs_the_service_urls_exact_origin() -> None:
    assert not token_allowed(
        "https://smba.trafficmanager.net:8443/amer/v3/attachments/1", SIGNED
    )
    assert not token_allowed(CONNECTOR_FILE, DownloadRules(False, None))
    assert token_allowed("http://127.0.0.1:3978/v3/attachments/1", LOCAL)
    assert not token_allowed("http://127.0.0.1:4000/v3/attachments/1", LOCAL)
    assert not token_allowed("http://localhost:3978/v3/attachments/1", LOCAL)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("169.254.169.254", id="metadata"),
        pytest.param("168.63.129.16", id="azure-wire-server"),
        pytest.param("10.1.2.3", id="private-10"),
        pytest.param("172.16.0.1", id="private-172"),
        pytest.param("192.168.1.1", id="private-192"),
        pytest.param("100.64.0.1", id="shared-cgnat"),
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("0.0.0.0", id="unspecified"),
        pytest.param("224.0.0.1", id="multicast"),
        pytest.param("::1", id="loopback-v6"),
        pytest.param("fe80::1%eth0", id="link-local-v6"),
        pytest.param("fd00::1", id="unique-local-v6"),
        pytest.param("::ffff:10.0.0.1", id="mapped-private"),
        pytest.param("::ffff:169.254.169.254", id="mapped-metadata"),
        pytest.param("not-an-address", id="not-an-address"),
    ],
)
def test_signed_mode_connects_to_public_addresses_only(address: str) -> None:
    with pytest.raises(DownloadFailed):
        check_address(address, SIGNED)


@pytest.mark.parametrize("address", ["52.112.0.10", "2603:1063::1"])
def test_public_addresses_are_allowed_in_signed_mode(address: str) -> None:
    check_address(address, SIGNED)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [("127.0.0.1", True), ("::1", True), ("10.0.0.1", False), ("52.112.0.10", False)],
)
def test_local_mode_connects_to_loopback_only(address: str, allowed: bool) -> None:
    if allowed:
        check_address(address, LOCAL)
    else:
        with pytest.raises(DownloadFailed):
            check_address(address, LOCAL)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:9000/a.png", True),
        ("https://localhost/a.png", True),
        ("http://[::1]:9000/a.png", True),
        ("http://127.1/a.png", False),
        ("http://2130706433/a.png", False),
        (CONNECTOR_FILE, False),
    ],
)
def test_local_mode_fetches_from_loopback_hosts_only(url: str, allowed: bool) -> None:
    if allowed:
        check_download_url(url, LOCAL)
    else:
        with pytest.raises(DownloadFailed):
            check_download_url(url, LOCAL)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"GIF89a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7", "application/pdf"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"MZ\x90\x00", None),
    ],
)
def test_types_are_judged_by_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_type(data) == expected
