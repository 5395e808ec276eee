"""A local Bot Connector: the HTTP endpoints a bot calls to reply, on loopback.

The bot posts its replies to the activity's ``serviceUrl``; point that here and
every reply, typing indicator and update is recorded and can be awaited. The
terminal chat and the tests use it in place of Teams' connector service.

Faults are injected here, as Teams' service would answer them:
:meth:`LocalConnector.fail_next` makes the next posts answer 403
``BotNotInConversationRoster``, 404, 429 or 5xx, or answer late.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

DEFAULT_WAIT_S = 10.0

_ERROR_CODES = {
    403: "BotNotInConversationRoster",
    404: "ConversationNotFound",
    429: "Throttled",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """How the connector answers one post instead of accepting it.

    Attributes:
        status: the HTTP status to answer (0 accepts after ``delay_s``).
        code: the error code in the body; Teams' usual one by default.
        delay_s: wait this long before answering (a slow or hung service).
        retry_after: the ``Retry-After`` header of a 429 or 503.
    """

    status: int
    code: str | None = None
    delay_s: float = 0.0
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """One call the bot made to the connector."""

    method: str
    conversation_id: str
    activity: dict[str, Any]
    reply_to_id: str | None
    authorization: str | None
    activity_id: str = ""


@dataclass
class LocalConnector:
    """Records the bot's outbound activities; ``async with`` starts and stops it.

    Attributes:
        host: interface to listen on (loopback).
        port: 0 picks a free port.
        calls: every recorded call, in arrival order.
        refused: posts answered with a fault instead (not in ``calls``).
    """

    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Recorded] = field(default_factory=list)
    refused: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._cursor = 0
        self._faults: list[Fault] = []

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        code: str | None = None,
        delay_s: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` posted activities with ``status``.

        ``status`` 0 with a ``delay_s`` accepts late instead (a slow service).
        """
        fault = Fault(status, code, delay_s, retry_after)
        self._faults.extend([fault] * times)

    @property
    def url(self) -> str:
        """The ``serviceUrl`` to put in activities sent to the bot."""
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Listen; after this ``port`` is the real port."""
        app = web.Application()
        base = "/v3/conversations/{conversation}/activities"
        app.router.add_post(base, self._post)
        app.router.add_post(base + "/{activity}", self._post)
        app.router.add_put(base + "/{activity}", self._put)
        app.router.add_delete(base + "/{activity}", self._delete)
        app.router.add_get("/v3/conversations/{conversation}/members", self._members)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalConnector:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def _record(self, request: web.Request, method: str) -> web.Response:
        try:
            activity = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        activity_id = str(next(self._ids))
        recorded = Recorded(
            method=method,
            conversation_id=request.match_info["conversation"],
            activity=activity,
            reply_to_id=request.match_info.get("activity"),
            authorization=request.headers.get("Authorization"),
            activity_id=activity_id,
        )
        if self._faults:
            fault = self._faults.pop(0)
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status:
                self.refused.append(recorded)
                return _error_response(fault)
        self.calls.append(recorded)
        async with self._changed:
            self._changed.notify_all()
        return web.json_response({"id": activity_id})

    async def _post(self, request: web.Request) -> web.Response:
        return await self._record(request, "POST")

    async def _put(self, request: web.Request) -> web.Response:
        return await self._record(request, "PUT")

    async def _delete(self, request: web.Request) -> web.Response:
        self.calls.append(
            Recorded(
                "DELETE",
                request.match_info["conversation"],
                {},
                request.match_info.get("activity"),
                request.headers.get("Authorization"),
            )
        )
        return web.Response(status=200)

    async def _members(self, _request: web.Request) -> web.Response:
        return web.json_response([])

    def messages(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Message activities sent so far (no typing), optionally for one chat."""
        return [
            c.activity
            for c in self.calls
            if c.activity.get("type") == "message"
            and (conversation_id is None or c.conversation_id == conversation_id)
        ]

    def typing_count(self, conversation_id: str | None = None) -> int:
        """How many typing indicators were sent."""
        return sum(
            1
            for c in self.calls
            if c.activity.get("type") == "typing"
            and (conversation_id is None or c.conversation_id == conversation_id)
        )

    async def wait_for_calls(
        self, count: int, *, wait_s: float | None = DEFAULT_WAIT_S
    ) -> None:
        """Wait until at least ``count`` calls were recorded (``None``: no limit).

        Raises:
            TimeoutError: fewer arrived within ``wait_s`` seconds.
        """
        async with asyncio.timeout(wait_s), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)

    async def wait_for_messages(
        self,
        count: int,
        *,
        conversation_id: str | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages arrived; return them all.

        Raises:
            TimeoutError: fewer arrived within ``wait_s`` seconds.
        """
        async with asyncio.timeout(wait_s), self._changed:
            await self._changed.wait_for(
                lambda: len(self.messages(conversation_id)) >= count
            )
        return self.messages(conversation_id)

    async def next_message(self, *, wait_s: float = DEFAULT_WAIT_S) -> dict[str, Any]:
        """The next message not yet returned by this method (any chat).

        Raises:
            TimeoutError: none arrived within ``wait_s`` seconds.
        """
        found = await self.wait_for_messages(self._cursor + 1, wait_s=wait_s)
        message = found[self._cursor]
        self._cursor += 1
        return message


def _error_response(fault: Fault) -> web.Response:
    """The Bot Connector's error body: ``{"error": {"code", "message"}}``."""
    code = fault.code or _ERROR_CODES.get(fault.status, "ServiceError")
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return web.json_response(
        {"error": {"code": code, "message": f"injected fault {fault.status}"}},
        status=fault.status,
        headers=headers,
    )
