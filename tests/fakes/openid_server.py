"""A local OpenID metadata and signing-key server, and a token signer like the channel's.

It runs in its own thread because botbuilder fetches the metadata with a
blocking HTTP client from inside the event loop.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OpenIdServer:
    """Serves ``/.well-known/openid-configuration`` and ``/keys`` on 127.0.0.1."""

    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    requests: int = 0

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": ISSUER, "jwks_uri": server.url + "/keys"}
                elif self.path == "/keys":
                    jwk = json.loads(RSAAlgorithm.to_jwk(server.key.public_key()))
                    jwk.update(
                        kid=server.kid, use="sig", endorsements=server.endorsements
                    )
                    body = {"keys": [jwk]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="openid-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def metadata_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def __enter__(self) -> OpenIdServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def sign(
        self,
        *,
        audience: str,
        service_url: str = "",
        issuer: str = ISSUER,
        expires_in: float = 3600,
        key: rsa.RSAPrivateKey | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A token shaped like the Bot Framework channel's (or, with
        ``claims``, like an Entra ID access token with app roles)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + int(expires_in),
        }
        if service_url:
            payload["serviceurl"] = service_url
        claims = {**payload, **(claims or {})}
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": self.kid}
        )
