"""Fetch the files an employee sends in Teams, so that they can go on a ticket.

A file's URL comes from the activity, so it is an outbound target the sender
chose. The download therefore never fetches from just anywhere:

* only ``http`` and ``https``; in local mode only a loopback host
  (``localhost``, 127.0.0.0/8, ``::1``);
* in signed mode only ``https``, and only the activity's own ``serviceUrl``
  host (the Bot Connector, where pasted images live) or one of
  :data:`DOWNLOAD_HOST_SUFFIXES` (where files sent to the bot live);
* every name is resolved and every address checked before connecting, by the
  HTTP client's own resolver, so the address checked is the address used: no
  private, loopback (signed mode), link-local, cloud metadata or reserved
  address, and only loopback in local mode;
* redirects are followed by hand, at most :data:`MAX_REDIRECTS`, and each
  hop is judged by the same rules before it is fetched;
* the bot's Bot Framework token goes only to the ``serviceUrl``'s own origin,
  never to a download host or a redirect elsewhere;
* at most :data:`MAX_FILE_BYTES`, refused early on ``Content-Length`` and cut
  off while streaming; only pictures (PNG, JPEG, GIF, WebP), PDF and plain
  text, judged by the bytes, not by the name or what the server says.

Failures are :class:`DownloadFailed`, whose ``user_message`` is one sentence
for the employee and whose ``reason`` says which rule refused it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.inbound import InboundFile
from bot.service_url import is_loopback_host
from tools.errors import HelpdeskError

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 5 * 1024 * 1024
"""The ticket systems take files up to 5 MB."""
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
"""Longest wait for the next bytes of an answer."""
DOWNLOAD_TIMEOUT_S = 30.0
"""One file, first connection to last byte, redirects included."""
_CHUNK_BYTES = 64 * 1024

DOWNLOAD_HOST_SUFFIXES: tuple[str, ...] = (".sharepoint.com",)
"""Hosts of pre-authenticated download links, besides the activity's own
``serviceUrl``: a file sent to a bot in a 1:1 chat is uploaded to the sender's
OneDrive for Business (``contoso-my.sharepoint.com``) and arrives as a
``file.download.info`` attachment whose ``downloadUrl`` needs no token."""

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
    }
)
"""What a ticket takes: screenshots, PDFs and plain text (logs)."""
_GENERIC_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "image/*"}
)
"""Types that say nothing (Teams declares a pasted image as ``image/*``);
the bytes decide."""
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
}
_SAME_EXTENSIONS = {"image/jpeg": {"jpg", "jpeg"}, "text/plain": {"txt", "log"}}
_KNOWN_EXTENSIONS = frozenset({*_EXTENSIONS.values(), "jpeg", "log", "bin"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REFUSED_ADDRESSES = (
    ipaddress.ip_network("168.63.129.16/32"),  # Azure's host wire server
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, shared space
)
"""Addresses that look public to :mod:`ipaddress` but must never be fetched."""

FailureReason = Literal["too_big", "type", "refused", "fetch", "empty"]
TokenSource = Callable[[], Awaitable[str | None]]
"""Gets the bot's Bot Framework token (None when it runs unsigned)."""


class DownloadFailed(HelpdeskError):
    """A file the employee sent could not be taken.

    Attributes:
        reason: which rule refused it: ``too_big``, ``type`` (not a picture,
            PDF or text), ``refused`` (a host or address it may not fetch
            from), ``fetch`` (the server failed, timed out or redirected too
            often), ``empty``.
        name: the file's name.
    """

    def __init__(self, message: str, *, reason: FailureReason, name: str) -> None:
        super().__init__(message, user_message=_sentence(reason, name))
        self.reason = reason
        self.name = name


def _sentence(reason: FailureReason, name: str) -> str:
    if reason == "too_big":
        return (
            f"{name} is larger than 5 MB, so I couldn't keep it. Please crop "
            "the screenshot or send a smaller file."
        )
    if reason == "type":
        return (
            f"I can't add {name} to a ticket: I take pictures (PNG, JPEG, GIF or "
            "WebP), PDFs and text files."
        )
    if reason == "empty":
        return f"{name} is empty, so I didn't keep it."
    return (
        f"I couldn't download {name} from Teams. Please try sending it again in "
        "a moment."
    )


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A file that passed every check.

    Attributes:
        name: its name, with an extension that matches its bytes.
        content_type: its type, judged by the bytes.
        data: the bytes.
    """

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class DownloadRules:
    """Where files may come from for one activity.

    Attributes:
        local_mode: the bot runs unsigned on loopback.
        service_url: the activity's ``serviceUrl`` (the Bot Connector).
    """

    local_mode: bool
    service_url: str | None


# -- the rules, as pure functions --------------------------------------------------


def check_download_url(url: str, rules: DownloadRules) -> str:
    """Refuse a URL the bot may not fetch; return its host.

    Args:
        url: the file's URL, or a redirect's target.
        rules: the mode and the activity's ``serviceUrl``.

    Raises:
        DownloadFailed: (reason ``refused``) a scheme other than http(s)
            (https only in signed mode), user info, an odd spelling, or a
            host outside the rules; the message names the host.
    """
    parts = _split(url)
    if parts is None:
        raise _refused(url, "it is not a plain http(s) URL")
    scheme, host, _port = parts
    if rules.local_mode:
        if not is_loopback_host(host):
            raise _refused(url, f"local mode fetches from loopback only, not {host}")
        return host
    if scheme != "https":
        raise _refused(url, "signed mode fetches over https only")
    if _is_ip_literal(host):
        check_address(host, rules)
    if host == _service_host(rules) or _is_download_host(host):
        return host
    raise _refused(url, f"{host} is neither the Bot Connector nor a download host")


def token_allowed(url: str, rules: DownloadRules) -> bool:
    """True when the bot's token may go to ``url``: the ``serviceUrl``'s own origin.

    The token proves the bot's identity to the Bot Connector; anything else
    that received it could act as the bot, so a download host or a redirect
    elsewhere never gets it.
    """
    parts = _split(url)
    service = _split(rules.service_url or "")
    if parts is None or service is None:
        return False
    if not rules.local_mode and parts[0] != "https":
        return False
    return parts == service


def check_address(address: str, rules: DownloadRules) -> None:
    """Refuse an address to connect to (what a host name resolved to).

    Local mode connects to loopback only; signed mode to public addresses only:
    never private, loopback, link-local (cloud metadata at 169.254.169.254),
    shared, multicast, reserved or unspecified ones, however they are spelled
    (an IPv4 address inside IPv6 is judged as IPv4).

    Raises:
        DownloadFailed: (reason ``refused``) the address is not allowed.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise _refused(address, "it is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if rules.local_mode:
        if not ip.is_loopback:
            raise _refused(address, "local mode connects to loopback only")
        return
    if not ip.is_global or ip.is_multicast or any(ip in n for n in _REFUSED_ADDRESSES):
        raise _refused(address, "it is not a public address")


def _split(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a plain absolute http(s) URL, else None."""
    if not url or any(ch.isspace() or not ch.isprintable() or ch == "\\" for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return (
        scheme,
        parts.hostname.rstrip("."),
        port or (443 if scheme == "https" else 80),
    )


def _service_host(rules: DownloadRules) -> str | None:
    parts = _split(rules.service_url or "")
    return parts[1] if parts else None


def _is_download_host(host: str) -> bool:
    return not _is_ip_literal(host) and any(
        host.endswith(suffix) and len(host) > len(suffix)
        for suffix in DOWNLOAD_HOST_SUFFIXES
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refused(target: str, why: str) -> DownloadFailed:
    # The file's name is not known here; download_files puts it in.
    shown = urlsplit(target).hostname if "://" in target else target
    return DownloadFailed(
        f"refused to fetch from {shown or target[:80]}: {why}",
        reason="refused",
        name="the file",
    )


# -- the resolver that checks what it resolves --------------------------------------


class _AddressRefused(OSError):
    """Raised inside the HTTP client when a name resolves to a refused address."""

    def __init__(self, refusal: DownloadFailed) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


class _CheckedResolver(AbstractResolver):
    """Resolves as usual, then refuses the whole answer if any address is refused.

    The HTTP client connects only to addresses this returned, so a name that
    resolves one way for a check and another way for the connection cannot
    slip through.
    """

    def __init__(self, rules: DownloadRules) -> None:
        self._rules = rules
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for item in found:
            try:
                check_address(item["host"], self._rules)
            except DownloadFailed as refusal:
                raise _AddressRefused(refusal) from None
        return found

    async def close(self) -> None:
        await self._inner.close()


# -- downloading -------------------------------------------------------------------


async def download_files(
    files: Sequence[InboundFile],
    rules: DownloadRules,
    *,
    token: TokenSource | None = None,
) -> list[Downloaded | DownloadFailed]:
    """Download each file under the rules; one result per file, in order.

    Args:
        files: the message's files (see :func:`bot.inbound.read_files`).
        rules: the mode and the activity's ``serviceUrl``.
        token: gets the bot's token for Bot Connector URLs; asked at most once.

    Returns:
        A :class:`Downloaded` or a :class:`DownloadFailed` per file: one
        file's failure never stops the others, and nothing here raises.
    """
    if not files:
        return []
    tokens = _OnceToken(token)
    results: list[Downloaded | DownloadFailed] = []
    async with _session(rules) as session:
        for file in files:
            try:
                async with asyncio.timeout(DOWNLOAD_TIMEOUT_S):
                    results.append(await _download(session, file, rules, tokens))
            except DownloadFailed as exc:
                results.append(_named(exc, file.name))
            except TimeoutError:
                results.append(_failed(file, "fetch", "timed out"))
            except Exception as exc:  # any client or socket error: this file only
                results.append(_translate(exc, file))
    for result in results:
        if isinstance(result, DownloadFailed):
            logger.warning("did not keep a file (%s): %s", result.reason, result)
    return results


def _session(rules: DownloadRules) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=_CheckedResolver(rules), limit=4),
        timeout=aiohttp.ClientTimeout(
            total=DOWNLOAD_TIMEOUT_S,
            connect=CONNECT_TIMEOUT_S,
            sock_read=READ_TIMEOUT_S,
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # no proxy from the environment sees the token
    )


class _OnceToken:
    def __init__(self, source: TokenSource | None) -> None:
        self._source = source
        self._asked = False
        self._token: str | None = None

    async def get(self) -> str | None:
        if not self._asked and self._source is not None:
            self._asked = True
            self._token = await self._source()
        return self._token


async def _download(
    session: aiohttp.ClientSession,
    file: InboundFile,
    rules: DownloadRules,
    tokens: _OnceToken,
) -> Downloaded:
    declared = _normal_type(file.content_type)
    if not declared or (declared not in ALLOWED_TYPES | _GENERIC_TYPES):
        raise _failed(file, "type", f"declared as {declared or 'an unknown kind'!r}")

    url = file.url
    for _hop in range(MAX_REDIRECTS + 1):
        check_download_url(url, rules)
        headers = {"Accept": "image/*, application/pdf, text/plain, */*;q=0.1"}
        if file.needs_token and token_allowed(url, rules):
            bearer = await tokens.get()
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
        started = time.monotonic()
        async with session.get(url, headers=headers, allow_redirects=False) as answer:
            logger.info(
                "file download from %s: %d in %.0f ms",
                _where(url),
                answer.status,
                (time.monotonic() - started) * 1000,
            )
            if answer.status in _REDIRECTS and answer.headers.get("Location"):
                url = urljoin(url, answer.headers["Location"])
                continue
            if answer.status != 200:
                raise _failed(file, "fetch", f"{_where(url)} answered {answer.status}")
            served = _normal_type(answer.headers.get("Content-Type", ""))
            _check_served_type(file, served)
            data = await _read_limited(answer, file)
        return _judged(file, declared, served, data)
    raise _failed(file, "fetch", f"more than {MAX_REDIRECTS} redirects")


def _check_served_type(file: InboundFile, served: str) -> None:
    """Refuse before reading when the server says it is something else."""
    family = served.split("/", 1)[0]
    if served in ALLOWED_TYPES or served in _GENERIC_TYPES or family == "image":
        return
    raise _failed(file, "type", f"served as {served!r}")


async def _read_limited(answer: aiohttp.ClientResponse, file: InboundFile) -> bytes:
    length = answer.content_length
    if length is not None and length > MAX_FILE_BYTES:
        raise _failed(file, "too_big", f"Content-Length {length}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise _failed(file, "too_big", f"more than {MAX_FILE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _judged(file: InboundFile, declared: str, served: str, data: bytes) -> Downloaded:
    """Name the type by the bytes; text only where text was declared or served."""
    if not data:
        raise _failed(file, "empty", "no bytes")
    sniffed = sniff_type(data)
    if sniffed is None:
        texty = [t for t in (declared, served) if t.startswith("text/")]
        if not texty or not _is_text(data):
            raise _failed(file, "type", "the bytes are no picture, PDF or text")
        sniffed = texty[0] if texty[0] in ALLOWED_TYPES else "text/plain"
    if sniffed not in ALLOWED_TYPES:
        raise _failed(file, "type", f"the bytes are {sniffed}")
    return Downloaded(
        name=_with_extension(file.name, sniffed), content_type=sniffed, data=data
    )


def sniff_type(data: bytes) -> str | None:
    """The type the first bytes prove (PNG, JPEG, GIF, WebP, PDF), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _normal_type(raw: str) -> str:
    content_type = raw.split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(content_type, content_type)


def _with_extension(name: str, content_type: str) -> str:
    """``name`` with an extension that matches its bytes (a PNG named .jpg is
    renamed; a pasted image without a name gets one)."""
    extension = _EXTENSIONS[content_type]
    stem, dot, current = name.rpartition(".")
    current = current.lower()
    if dot and current in _SAME_EXTENSIONS.get(content_type, {extension}):
        return name
    if dot and stem and current in _KNOWN_EXTENSIONS:
        return f"{stem}.{extension}"
    return f"{name}.{extension}"


def _where(url: str) -> str:
    """Scheme, host and path: never the query, which may hold a download token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]


def _failed(file: InboundFile, reason: FailureReason, why: str) -> DownloadFailed:
    return DownloadFailed(f"{file.name}: {why}", reason=reason, name=file.name)


def _named(exc: DownloadFailed, name: str) -> DownloadFailed:
    if exc.name == name:
        return exc
    return DownloadFailed(f"{name}: {exc}", reason=exc.reason, name=name)


def _translate(exc: BaseException, file: InboundFile) -> DownloadFailed:
    """An exception from the HTTP client as a failure; refusals stay refusals."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _AddressRefused):
            return _named(current.refusal, file.name)
        current = getattr(current, "os_error", None) or current.__cause__
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return _failed(file, "fetch", f"{type(exc).__name__}: {reason}")
