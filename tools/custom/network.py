"""Where an admin tool may connect: host allow-list, address checks, pinned connections.

An admin tool's URL comes from a manifest and its arguments from a model, so
either could point the bot at its own network: the cloud metadata service, a
database on 10.x, an admin port on loopback. :class:`NetworkPolicy` allows
named hosts only, and refuses every address that is not public unless the
operator lists it in ``allow_private``.

The check and the connection cannot disagree: the HTTP client's network
backend resolves the name once, checks every address it got, and connects to
one of those very addresses (the URL, the ``Host`` header and TLS's server
name keep the original host). A name that resolves to a public address for a
check and to 169.254.169.254 a moment later (DNS rebinding) never gets a
second lookup.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
import httpcore
import httpx

from tools.errors import ConfigError, ToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_RESPONSE_BYTES = 1_000_000
DEFAULT_MAX_REDIRECTS = 3

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
"""Cloud instance metadata (AWS, Azure, GCP; AWS IPv6; Alibaba; ECS tasks).
Only an exact listing in ``allow_private`` lets one through, never a range."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_PATTERN = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?$")

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``async (host, port) -> addresses``; the default asks the system resolver."""


class NetworkRefused(ToolError):
    """The network policy refuses a host or an address; the operator can allow it.

    The message names the host and the setting to change; the employee gets a
    plain sentence.
    """

    default_user_message = (
        "That tool tried to reach a place the help desk is not allowed to "
        "connect to, so I stopped. IT support can check the tool's setup."
    )


@dataclass(frozen=True)
class NetworkPolicy:
    """Where admin tools may connect.

    Attributes:
        allowed_hosts: host names (or IP literals) a tool may call: exact,
            or ``*.example.com`` for any name under example.com.
        allow_private: CIDRs, addresses or host names whose non-public
            addresses (loopback, private, link-local, …) are allowed anyway.
            A metadata address needs its exact address listed.
        max_response_bytes: a response is cut after this many bytes.
        max_redirects: redirects followed, each checked like the first URL.
    """

    allowed_hosts: list[str]
    allow_private: list[str] = field(default_factory=list)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _private_hosts: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in self.allow_private:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                if not entry.strip() or "/" in entry:
                    raise ConfigError(
                        f"allow_private: {entry!r} is neither a CIDR such as "
                        "10.20.0.0/16 nor a host name"
                    ) from None
                hosts.add(_normal_host(entry))
        for host in self.allowed_hosts:
            if not (
                is_ip_literal(_normal_host(host)) or _HOST_PATTERN.match(host.strip())
            ):
                raise ConfigError(
                    f"allowed_hosts: {host!r} must be a host name such as "
                    "api.example.com or *.example.com, without scheme or port"
                )
        if self.max_response_bytes < 1 or self.max_redirects < 0:
            raise ConfigError(
                "max_response_bytes must be positive and max_redirects not negative"
            )
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_private_hosts", frozenset(hosts))

    def check_host(self, host: str) -> None:
        """Refuse a host that ``allowed_hosts`` does not name.

        Raises:
            NetworkRefused: names the host and the setting.
        """
        name = _normal_host(host)
        for pattern in self.allowed_hosts:
            wanted = _normal_host(pattern)
            if wanted.startswith("*."):
                if name.endswith(wanted[1:]) and len(name) > len(wanted) - 1:
                    return
            elif name == wanted:
                return
        raise NetworkRefused(
            f"refused to call {name}: it is not in allowed_hosts; add it there "
            "if the tool should reach it"
        )

    def check_address(self, address: str, *, host: str) -> None:
        """Refuse an address ``host`` resolved to, unless it is public or allowed.

        An IPv4 address written inside IPv6 is judged as IPv4.

        Raises:
            NetworkRefused: names the host, the address and ``allow_private``.
        """
        ip = _parse_ip(address)
        if ip in METADATA_ADDRESSES:
            if not any(n.num_addresses == 1 and ip in n for n in self._networks):
                raise self._refused(host, ip, "a cloud metadata address")
            return
        why = _why_not_public(ip)
        if why is None:
            return
        if _normal_host(host) in self._private_hosts or any(
            ip in n for n in self._networks
        ):
            return
        raise self._refused(host, ip, why)

    @staticmethod
    def _refused(host: str, ip: IPAddress, why: str) -> NetworkRefused:
        return NetworkRefused(
            f"refused to connect to {_normal_host(host)} at {ip}: {why}; list "
            "it in allow_private if the tool must reach it"
        )


async def checked_addresses(
    host: str, port: int, policy: NetworkPolicy, resolver: Resolver | None = None
) -> list[str]:
    """Resolve ``host`` once and check every address; the caller connects to these.

    An IP literal is checked without a lookup. One refused address refuses
    the whole name, so a round-robin answer cannot sneak one in.

    Raises:
        NetworkRefused: an address is not allowed.
        httpx.ConnectError: the name does not resolve.
    """
    bare = host.strip("[]")
    if is_ip_literal(bare):
        addresses = [bare]
    else:
        try:
            addresses = await (resolver or system_resolve)(bare, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {bare}: {exc}") from exc
    if not addresses:
        raise httpx.ConnectError(f"cannot resolve {bare}: no addresses")
    for address in addresses:
        policy.check_address(address, host=bare)
    return addresses


async def system_resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``, without duplicates."""
    found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def pinned_transport(
    policy: NetworkPolicy, resolver: Resolver | None = None
) -> httpx.AsyncBaseTransport:
    """An httpx transport that connects only to addresses the policy allowed."""
    return _PinnedTransport(policy, resolver)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking before it connects."""

    def __init__(self, policy: NetworkPolicy, resolver: Resolver | None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, self._policy, self._resolver)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NetworkRefused("admin tools never connect to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncBaseTransport):
    """Like httpx's own transport, over the checked backend, with no proxy.

    Environment proxies are ignored on purpose: a proxy would make the
    connection, and the address check would judge the proxy, not the target.
    """

    def __init__(self, policy: NetworkPolicy, resolver: Resolver | None) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            network_backend=_CheckedBackend(policy, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _translated(request):
            answer = await self._pool.handle_async_request(core_request)
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, request),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _translated(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


@contextmanager
def _translated(request: httpx.Request) -> Iterator[None]:
    """httpcore's errors as httpx's, so callers handle one family."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc), request=request) from exc
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
        httpcore.ProxyError,
    ) as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


def _why_not_public(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


def _parse_ip(address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IP address written out (no lookup needed)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
