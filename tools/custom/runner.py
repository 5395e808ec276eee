"""An admin tool's manifest turned into an implementation the registry can call.

:func:`build_impl` returns ``async def impl(args, ctx) -> ToolResult`` like a
built-in tool's. It applies the manifest's rate limit per requester, passes
the requester's UPN only the way ``identity`` says, calls the service through
the guarded caller, and frames the answer as data. Whatever goes wrong comes
out as a :class:`~tools.errors.ToolError` with a plain sentence for the
employee (or :class:`~tools.errors.LimitReached` / a missing detail, which the
registry words for them), never as an unhandled exception.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.custom.http import (
    NetworkPolicy,
    SecretResolver,
    as_tool_content,
    call_http,
)
from tools.custom.manifest import CustomToolManifest, HttpSpec
from tools.custom.network import Resolver
from tools.custom.openapi import OpenApiTool, aload_document, derive, load_document_file
from tools.errors import (
    HelpdeskError,
    InvalidInput,
    LimitReached,
    MissingDetail,
    ToolError,
)
from tools.registry import ToolContext, ToolImpl, ToolResult

logger = logging.getLogger(__name__)

_GRACE_S = 5.0
"""Added to the manifest's timeout for resolving secrets (Key Vault) first."""


class RateLimiter:
    """At most N calls per requester per window, counted in this process.

    Warning:
        The count lives in memory: each bot replica keeps its own, so with
        three replicas a requester can make up to three times the limit, and
        a restart forgets it.
        TODO(why): move the count to the app database when admins need an
        exact limit across replicas.
    """

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, tool: str, requester: str, *, calls: int, per_seconds: int) -> None:
        """Count one call, or refuse it when the window is full.

        Raises:
            LimitReached: with ``resets_at`` when the oldest call leaves the window.
        """
        now = time.monotonic()
        with self._lock:
            window = self._calls.setdefault((tool, requester), deque())
            while window and window[0] <= now - per_seconds:
                window.popleft()
            if len(window) >= calls:
                wait = window[0] + per_seconds - now
                raise LimitReached(
                    f"{tool}: {requester} made {calls} calls in {per_seconds} s",
                    user_message="You have used that tool a lot just now. Please "
                    f"try again in {max(1, round(wait))} seconds.",
                    resets_at=datetime.now(UTC) + timedelta(seconds=wait),
                )
            window.append(now)


_SHARED_LIMITER = RateLimiter()


def parameters_of(manifest: CustomToolManifest) -> dict[str, Any]:
    """The JSON Schema of the arguments the model fills.

    For an http tool, the manifest's ``parameters``; for an openapi tool,
    those of the operation (read from a document file), without the identity
    parameter.

    Raises:
        InvalidInput: the document is missing or the operation is not in it;
            for a document at a URL, use :func:`aparameters_of`.
    """
    if manifest.http is not None:
        return dict(manifest.parameters)
    assert manifest.openapi is not None
    if _document_url(manifest) is not None:
        raise InvalidInput(
            f"{manifest.name}: the OpenAPI document is at a URL; its parameters "
            "are read with aparameters_of"
        )
    return _derive_from_file(manifest).parameters


async def aparameters_of(
    manifest: CustomToolManifest,
    *,
    policy: NetworkPolicy,
    resolver: Resolver | None = None,
) -> dict[str, Any]:
    """:func:`parameters_of`, fetching an OpenAPI document at a URL under ``policy``."""
    if _document_url(manifest) is None:
        return parameters_of(manifest)
    return (await _aderive(manifest, policy, resolver)).parameters


def build_impl(
    manifest: CustomToolManifest,
    *,
    policy: NetworkPolicy,
    secrets: SecretResolver | None = None,
    resolver: Resolver | None = None,
    limiter: RateLimiter | None = None,
) -> ToolImpl:
    """The implementation of an admin tool, for :meth:`ToolRegistry.register`.

    An openapi tool whose document is a file is derived now, so a wrong
    ``operation_id`` fails here; one at a URL is fetched on its first call.

    Args:
        manifest: the validated manifest.
        policy: where the tool may connect.
        secrets: resolves ``env:``/``keyvault:`` references; None reads
            ``env:`` only and refuses ``keyvault:`` with a clear error.
        resolver: replaces the system DNS resolver (tests).
        limiter: where rate limits are counted; one shared per process by default.

    Raises:
        InvalidInput: the OpenAPI document or operation is wrong; names the field.
    """
    secrets = secrets or SecretResolver()
    limiter = limiter or _SHARED_LIMITER
    ready: list[tuple[HttpSpec, list[str]]] = []
    if manifest.http is not None:
        ready.append((manifest.http, list(manifest.parameters.get("required", []))))
    elif _document_url(manifest) is None:
        ready.append(_prepared(_derive_from_file(manifest)))
    lock = asyncio.Lock()

    async def prepared() -> tuple[HttpSpec, list[str]]:
        async with lock:
            if not ready:
                ready.append(_prepared(await _aderive(manifest, policy, resolver)))
        return ready[0]

    async def impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        requester = ctx.requester
        if manifest.rate_limit is not None:
            limiter.check(
                manifest.name,
                requester.object_id,
                calls=manifest.rate_limit.calls,
                per_seconds=manifest.rate_limit.per_seconds,
            )
        try:
            call, required = await prepared()
            _check_required(manifest.name, required, args)
            async with asyncio.timeout(call.timeout_s + _GRACE_S):
                result = await call_http(
                    call,
                    args,
                    secrets=secrets,
                    requester_upn=requester.upn,
                    policy=policy,
                    secret_refs=manifest.secrets,
                    identity=manifest.identity,
                    tool=manifest.name,
                    resolver=resolver,
                )
        except (ToolError, InvalidInput):
            raise
        except HelpdeskError as exc:
            raise ToolError(
                f"{manifest.name}: {exc}",
                user_message=exc.user_message,
                escalate=exc.escalate,
            ) from exc
        except TimeoutError as exc:
            raise ToolError(
                f"{manifest.name}: no answer in time, secrets included",
                user_message="The service behind that tool did not answer in time. "
                "Please try again later, or I can open a ticket.",
                escalate=True,
            ) from exc
        except Exception as exc:
            logger.exception("admin tool %s failed unexpectedly", manifest.name)
            raise ToolError(
                f"{manifest.name}: {type(exc).__name__}",
                user_message="That tool failed. Please try again later, or I can "
                "open a ticket.",
                escalate=True,
            ) from exc
        return ToolResult(
            content=as_tool_content(result),
            artifact={"tool": manifest.name, **result},
        )

    return impl


def _check_required(name: str, required: list[str], args: dict[str, Any]) -> None:
    """A required argument the model left out is a detail to ask the employee."""
    for field in required:
        if args.get(field) in (None, ""):
            raise MissingDetail(
                f"{name}: argument {field!r} is required",
                field=field,
                user_message=f"I need the {field.replace('_', ' ')} for that.",
            )


def _prepared(tool: OpenApiTool) -> tuple[HttpSpec, list[str]]:
    return tool.http, list(tool.parameters.get("required", []))


def _document_url(manifest: CustomToolManifest) -> str | None:
    """The OpenAPI document's URL, when it is fetched rather than read."""
    if manifest.openapi is None or "://" not in manifest.openapi.document:
        return None
    return manifest.openapi.document


def _derive_from_file(manifest: CustomToolManifest) -> OpenApiTool:
    assert manifest.openapi is not None
    document = load_document_file(manifest.openapi.document)
    return derive(
        document, manifest.openapi, identity_parameter=manifest.identity.parameter
    )


async def _aderive(
    manifest: CustomToolManifest, policy: NetworkPolicy, resolver: Resolver | None
) -> OpenApiTool:
    assert manifest.openapi is not None
    document = await aload_document(manifest.openapi, policy=policy, resolver=resolver)
    return derive(
        document,
        manifest.openapi,
        identity_parameter=manifest.identity.parameter,
        document_url=manifest.openapi.document,
    )
