"""A local server that speaks OpenAI chat completions, with scripted answers and faults.

It serves ``POST /v1/chat/completions`` (OpenAI-compatible) and
``POST /openai/deployments/{deployment}/chat/completions?api-version=…``
(Azure OpenAI), non-streaming. Each request takes the next scripted answer;
when the script is empty the ``default`` answer repeats. Every request is
recorded, so tests can count retries and read what the client sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Answer:
    """One scripted HTTP answer."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Request:
    """What the client sent, and when."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


def text(content: str) -> Answer:
    """A completion that answers with text."""
    return _completion({"role": "assistant", "content": content}, "stop")


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> Answer:
    """A completion that calls one tool."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ],
    }
    return _completion(message, "tool_calls")


def error(
    status: int,
    code: str,
    message: str = "scripted error",
    *,
    headers: dict[str, str] | None = None,
) -> Answer:
    """An error answer with OpenAI's error body."""
    body = {"error": {"message": message, "type": code, "code": code, "param": None}}
    return Answer(status=status, body=body, headers=headers or {})


def slow(answer: Answer, delay_s: float) -> Answer:
    """The same answer, sent after ``delay_s`` seconds."""
    return Answer(answer.status, answer.body, answer.headers, delay_s)


def _completion(message: dict[str, Any], finish: str) -> Answer:
    return Answer(
        body={
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )


@dataclass
class FakeOpenAI:
    """The server's script and record; ``base_url`` is set once it listens."""

    script: list[Answer] = field(default_factory=list)
    default: Answer = field(default_factory=lambda: error(500, "server_error"))
    requests: list[Request] = field(default_factory=list)
    base_url: str = ""

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/v1")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            Request(
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
                at=time.monotonic(),
            )
        )
        answer = self.script.pop(0) if self.script else self.default
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.json_response(
            answer.body, status=answer.status, headers=answer.headers
        )


@asynccontextmanager
async def serve_fake_openai(*script: Answer) -> AsyncIterator[FakeOpenAI]:
    """Run the fake on a free loopback port for the duration of the block."""
    fake = FakeOpenAI(script=list(script))
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake._handle)
    app.router.add_post(
        "/openai/deployments/{deployment}/chat/completions", fake._handle
    )
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()
