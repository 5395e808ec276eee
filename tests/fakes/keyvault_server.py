"""A local Azure Key Vault on 127.0.0.1 over TLS: the secrets endpoint and the
bearer challenge, as the Key Vault SDK expects them.

A request without a token gets 401 with the ``WWW-Authenticate: Bearer``
challenge naming the resource; the SDK then asks its credential for a token
and sends it. ``GET /secrets/{name}`` answers the secret bundle, or Key
Vault's 404 ``SecretNotFound``. The certificate is self-signed for
127.0.0.1; :attr:`KeyVaultServer.ca_file` is what the client trusts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TOKEN = "vault-token-for-tests"
RESOURCE = "https://vault.azure.net"


@dataclass
class KeyVaultServer:
    url: str = ""
    ca_file: Path = Path()
    secrets: dict[str, str] = field(default_factory=dict)
    authorizations: list[str | None] = field(default_factory=list)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "vault.pem", folder / "vault.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@asynccontextmanager
async def running_key_vault(folder: Path) -> AsyncIterator[KeyVaultServer]:
    """Serve on https://127.0.0.1:<free port> until the block ends."""
    server = KeyVaultServer()

    async def get_secret(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        server.authorizations.append(auth)
        if auth != f"Bearer {TOKEN}":
            return web.json_response(
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer",
                    }
                },
                status=401,
                headers={
                    "WWW-Authenticate": 'Bearer authorization="https://login.microsoftonline.com/tenant-1", '
                    f'resource="{RESOURCE}"'
                },
            )
        name = request.match_info["name"]
        if name not in server.secrets:
            return web.json_response(
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {name} was not found in this key vault.",
                    }
                },
                status=404,
            )
        return web.json_response(
            {
                "value": server.secrets[name],
                "id": f"{server.url}/secrets/{name}/0123456789abcdef",
                "attributes": {
                    "enabled": True,
                    "created": 1700000000,
                    "updated": 1700000000,
                },
            }
        )

    app = web.Application()
    app.router.add_get("/secrets/{name}", get_secret)
    app.router.add_get("/secrets/{name}/", get_secret)
    cert_file, key_file = _certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock, ssl_context=context)
    await site.start()
    server.url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    server.ca_file = cert_file
    try:
        yield server
    finally:
        await runner.cleanup()
