"""A local file host on loopback: where Teams keeps the files an employee sends.

Serves what the Bot Connector's ``/v3/attachments/{id}/views/original`` and a
OneDrive download link answer: the bytes with their ``Content-Type`` and
``Content-Length``. Besides good files it has the ones a download must refuse:
a file over 5 MB (announced, or streamed without a length), a web page, a file
whose bytes are not what it claims, and redirects (to itself, to an outside
address, in a loop). :attr:`FileServer.requests` records every request with
its ``Authorization`` header.
"""

from __future__ import annotations

import functools
import io
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

OUTSIDE_URL = "http://203.0.113.9/screenshot.png"
"""A documentation address (TEST-NET-3): nothing may ever connect to it."""
HUGE_BYTES = 6 * 1024 * 1024
CONNECTOR_TOKEN = "connector-token"
"""The bearer token ``/v3/attachments/…`` wants, as the Bot Connector would."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid PNG of a few dozen bytes (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=2)
def photo_png(width: int = 1400, height: int = 1000) -> bytes:
    """A screenshot-sized PNG of about a megabyte: too big to pass on inline
    as it is, a few hundred kilobytes once shrunk."""
    import random

    from PIL import Image

    rng = random.Random(7)
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, rng.randrange(0, 64))
            for y in range(height)
            for x in range(width)
        ]
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


PNG = tiny_png()
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@dataclass
class Seen:
    """One request the server answered."""

    path: str
    authorization: str | None


@dataclass
class FileServer:
    """The running server; ``url(path)`` is where a file lives."""

    base: str = ""
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


def _app(server: FileServer) -> web.Application:
    async def record(request: web.Request) -> None:
        server.requests.append(
            Seen(request.path_qs, request.headers.get("Authorization"))
        )

    async def png(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=PNG, content_type="image/png")

    async def photo(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=photo_png(), content_type="image/png")

    async def pdf(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=PDF, content_type="application/pdf")

    async def log(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(
            body=b"09:00 sync failed: error 0x80070005\n", content_type="text/plain"
        )

    async def octet_png(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def huge_announced(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * HUGE_BYTES)

    async def huge_streamed(request: web.Request) -> web.StreamResponse:
        await record(request)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"\x89PNG\r\n\x1a\n")
        block = b"\0" * (256 * 1024)
        try:
            for _ in range(HUGE_BYTES // len(block)):
                await response.write(block)
        except (ConnectionResetError, RuntimeError):
            pass  # the client stopped reading: what a download must do
        return response

    async def page(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(
            text="<html><body>Sign in</body></html>", content_type="text/html"
        )

    async def fake_png(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=b"MZ\x90\x00not a picture", content_type="image/png")

    async def svg(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(
            text="<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>",
            content_type="image/svg+xml",
        )

    async def missing(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=404)

    async def needs_token(request: web.Request) -> web.Response:
        await record(request)
        if request.headers.get("Authorization") != f"Bearer {CONNECTOR_TOKEN}":
            return web.Response(status=401)
        return web.Response(body=PNG, content_type="image/png")

    def redirect_to(target: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            await record(request)
            location = target if "://" in target else server.url(target)
            raise web.HTTPFound(location)

        return handler

    async def other_origin(request: web.Request) -> web.Response:
        # The same server under another name: another origin for the token.
        await record(request)
        port = server.base.rsplit(":", 1)[1]
        raise web.HTTPFound(f"http://localhost:{port}/v3/attachments/1/views/original")

    app = web.Application()
    app.router.add_get("/screenshot.png", png)
    app.router.add_get("/v3/attachments/1/views/original", needs_token)
    app.router.add_get("/report.pdf", pdf)
    app.router.add_get("/photo.png", photo)
    app.router.add_get("/sync.log", log)
    app.router.add_get("/download/octet", octet_png)
    app.router.add_get("/huge.png", huge_announced)
    app.router.add_get("/huge-streamed.png", huge_streamed)
    app.router.add_get("/page.png", page)
    app.router.add_get("/fake.png", fake_png)
    app.router.add_get("/drawing.svg", svg)
    app.router.add_get("/gone.png", missing)
    app.router.add_get("/redirect/here", redirect_to("/screenshot.png"))
    app.router.add_get("/redirect/out", redirect_to(OUTSIDE_URL))
    app.router.add_get("/redirect/loop", redirect_to("/redirect/loop"))
    app.router.add_get("/redirect/token", other_origin)
    return app


@asynccontextmanager
async def serve_files() -> AsyncIterator[FileServer]:
    """Run the file host on a free loopback port for the duration."""
    server = FileServer()
    runner = web.AppRunner(_app(server), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await web.SockSite(runner, sock).start()
    try:
        yield server
    finally:
        await runner.cleanup()
