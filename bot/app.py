"""The aiohttp application: ``/api/messages``, the ITSM webhook, health and readiness.

:func:`create_app` is the factory; its cleanup context opens the services and
the copilot for the app's lifetime, starts the background jobs (ticket
deliveries and ticket news, :mod:`bot.jobs`), and closes them all (and any
turn still running in the background) at shutdown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web

from bot import admin_api, admin_dashboard, itsm_webhook
from bot.adapter import BotHost
from bot.admin_api import AdminAuth
from bot.handler import TurnHandler
from bot.handoff import HandoffDesk
from bot.inbound import parse_activity
from bot.jobs import BackgroundJobs, Job
from bot.notify import Notifier
from bot.service_url import check_local_service_url
from bot.tasks import TaskOwner
from tools.analytics import DailyPurge
from tools.assets.workflow import run_reminders
from tools.custom.health import HealthWatch
from tools.db import ping
from tools.errors import InvalidInput
from tools.services import Services, open_services
from tools.settings import Settings
from tools.tickets.health import delivery_health

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_S = 5.0
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
"""Activities nest a few levels (cards a dozen); deeper bodies are refused
before any code walks them recursively."""

SERVICES_KEY = web.AppKey("services", Services)
HANDLER_KEY = web.AppKey("handler", TurnHandler)
HOST_KEY = web.AppKey("host", BotHost)
TASKS_KEY = web.AppKey("tasks", TaskOwner)
SETTINGS_KEY = web.AppKey("settings", Settings)
JOBS_KEY = web.AppKey("jobs", BackgroundJobs)
HANDOFF_JOBS_KEY = web.AppKey("handoff_jobs", BackgroundJobs)
HANDOFF_POLL_S = 2.0
"""Relay messages that could not go at once are retried at least this often."""
NOTIFIER_KEY = web.AppKey("notifier", Notifier)
ADMIN_AUTH_KEY = web.AppKey("admin_auth", AdminAuth)

CopilotFactory = Callable[[Settings, Services], AbstractAsyncContextManager[Any]]
ServicesFactory = Callable[[Settings], AbstractAsyncContextManager[Services]]


def create_app(
    settings: Settings,
    *,
    services_factory: ServicesFactory | None = None,
    copilot_factory: CopilotFactory | None = None,
    credentials_factory: Any = None,
) -> web.Application:
    """Build the bot's web application.

    Args:
        settings: the process settings.
        services_factory: opens the back-end services; defaults to
            :func:`tools.services.open_services`.
        copilot_factory: opens the copilot; defaults to
            :func:`agent.runner.open_copilot` (tests pass a fake).
        credentials_factory: a botbuilder ``ServiceClientCredentialsFactory``
            for outbound tokens; defaults to the app id and password.

    Returns:
        The application; run it with ``aiohttp.web.run_app`` or a test server.
    """
    settings.tenant_allow_list()  # a signed bot open to every tenant stops here
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS_KEY] = settings
    app[TASKS_KEY] = TaskOwner()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        factory: CopilotFactory
        if copilot_factory is None:
            from agent.runner import open_copilot

            factory = open_copilot
        else:
            factory = copilot_factory
        if settings.tenant_allow_list() is None and not settings.local_mode:
            logger.warning(
                "HELPDESK_ALLOWED_TENANTS is *: any Entra tenant may use this bot"
            )
        open_all = services_factory or open_services
        async with (
            open_all(settings) as services,
            factory(settings, services) as copilot,
        ):
            handler = TurnHandler(
                settings,
                services.db,
                copilot,
                directory=services.directory,
                offers=services.registry.enabled_summaries,
                tickets=getattr(services, "tickets", None),
                services=services if isinstance(services, Services) else None,
            )
            host = BotHost(settings, handler, credentials_factory=credentials_factory)
            handoffs = HandoffDesk(
                settings,
                services.db,
                copilot,
                tickets=getattr(services, "tickets", None),
                sender=host,
                gate=handler.gate,
            )
            handler.handoffs = handoffs
            notifier = Notifier(
                services.db, host, backoff_cap_s=settings.outbox_backoff_max_s
            )
            jobs = BackgroundJobs(
                background_jobs(services, notifier), interval_s=settings.notify_poll_s
            )
            app[SERVICES_KEY] = services
            app[HANDLER_KEY] = handler
            app[HOST_KEY] = host
            app[NOTIFIER_KEY] = notifier
            relay = BackgroundJobs(
                handoff_jobs(handoffs),
                interval_s=min(settings.notify_poll_s, HANDOFF_POLL_S),
            )
            app[JOBS_KEY] = jobs
            app[HANDOFF_JOBS_KEY] = relay
            jobs.start()
            relay.start()
            try:
                yield
            finally:
                await relay.aclose()
                await jobs.aclose()
                await app[TASKS_KEY].aclose()

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/api/messages", _messages)
    app.router.add_post("/api/itsm/events", _itsm_events)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app[ADMIN_AUTH_KEY] = AdminAuth(settings)
    admin_api.add_routes(app, ADMIN_AUTH_KEY, SERVICES_KEY)
    admin_dashboard.add_routes(app, ADMIN_AUTH_KEY, SERVICES_KEY)
    return app


def background_jobs(services: Services, notifier: Notifier) -> list[Job]:
    """The loop's steps: the ticket system's outbox when it has one, asset
    approval reminders when there is a catalogue, then news."""
    jobs = []
    tickets = getattr(services, "tickets", None)
    outbox = getattr(tickets, "arun_due", None)
    if callable(outbox):
        jobs.append(Job("ticket-outbox", outbox))
    if isinstance(services, Services):
        jobs.append(Job("tool-health", HealthWatch(services).run_once))
        purge = DailyPurge(services.db, services.settings.analytics_retention_days)
        jobs.append(Job("analytics-retention", purge.run_once))
    if getattr(services, "catalog", None) is not None:
        # Before the news: a reminder recorded here is sent in the same pass.
        jobs.append(Job("asset-reminders", lambda: run_reminders(services)))
    jobs.append(Job("ticket-news", notifier.run_once))
    return jobs


def handoff_jobs(handoffs: HandoffDesk) -> list[Job]:
    """The hand-off loop's steps: relay messages, post cards whose post
    failed, then withdraw hand-offs nobody took.

    A loop of their own: a live chat must not wait behind a slow ticket
    system's outbox (a step may take up to two minutes there).
    """
    return [
        Job("handoff-relay", handoffs.run_relay),
        Job("handoff-cards", handoffs.run_cards),
        Job("handoff-withdraw", handoffs.run_withdraw),
        Job("handoff-idle", handoffs.run_idle),
    ]


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _is_json(request: web.Request) -> bool:
    if "Content-Type" not in request.headers:
        return False
    mime = request.content_type.lower()
    return mime == "application/json" or mime.endswith("+json")


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` has containers more than ``limit`` levels deep.

    Iterative, so that the check itself cannot exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _messages(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    if settings.local_mode and not _is_loopback(request.remote):
        logger.warning("refused unsigned call from %s in local mode", request.remote)
        return _error(401, "local mode accepts unsigned calls from loopback only")

    if not _is_json(request):
        received = request.headers.get("Content-Type") or "no Content-Type"
        return _error(
            415, f"send the activity as application/json (received {received})"
        )

    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        # aiohttp's own answer is plain text; every other refusal is JSON.
        return _error(
            413,
            f"the activity is larger than {MAX_BODY_BYTES // 1024} KB; "
            "send large content as a file attachment",
        )
    try:
        body = json.loads(raw)
        too_deep = _nests_deeper_than(body, MAX_JSON_DEPTH)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "the request body is not valid JSON")
    except RecursionError:  # the decoder's own limit, far past ours
        too_deep = True
    if too_deep:
        return _error(400, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")

    try:
        inbound = parse_activity(body)
        if settings.local_mode:
            check_local_service_url(body.get("serviceUrl"))
    except InvalidInput as exc:
        logger.warning("refused activity: %s", exc)
        return _error(400, str(exc))

    host = request.app[HOST_KEY]
    try:
        checked = await host.authenticate(body, request.headers.get("Authorization"))
    except InvalidInput as exc:
        return _error(400, str(exc))
    except PermissionError as exc:
        logger.warning("unauthorised activity %s: %s", inbound.activity_id, exc)
        return _error(401, "unauthorised")

    turn = request.app[TASKS_KEY].spawn(
        host.run(checked, inbound), name=f"turn-{inbound.activity_id or 'noid'}"
    )
    done, _ = await asyncio.wait({turn}, timeout=settings.turn_deadline_s)
    if turn not in done:
        # Teams re-sends after ~15 s; answer now and reply when the turn ends.
        logger.info(
            "activity %s passed the %.1f s deadline; finishing in the background",
            inbound.activity_id,
            settings.turn_deadline_s,
        )
        return web.Response(status=200)
    if turn.exception() is not None:
        return web.Response(status=200)  # already logged; a 5xx would re-send
    result = turn.result()
    if result is None:
        return web.Response(status=200)
    return web.json_response(result.body, status=result.status)


async def _itsm_events(request: web.Request) -> web.Response:
    """ServiceNow's signed ticket events (see :mod:`bot.itsm_webhook`)."""
    settings = request.app[SETTINGS_KEY]
    if not itsm_webhook.is_enabled(settings):
        answer = itsm_webhook.disabled_answer()
        return web.json_response(answer.body, status=answer.status)
    body = await _read_at_most(request, itsm_webhook.MAX_BODY_BYTES)
    if body is None:
        answer = itsm_webhook.too_large_answer()
        return web.json_response(answer.body, status=answer.status)
    services = request.app.get(SERVICES_KEY)
    if services is None:
        return _error(503, "starting")

    answer = await itsm_webhook.receive(
        body, request.headers, settings=settings, engine=services.db
    )
    if answer.body.get("status") == "accepted":
        request.app[JOBS_KEY].kick()
    return web.json_response(answer.body, status=answer.status)


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (read no further)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready when the database answers, the index answers and a tool is enabled.

    An empty knowledge base is a warning, not a failure: a fresh deployment
    is ready before its first ingest, and a health probe must not recycle it.
    """
    services = request.app.get(SERVICES_KEY)
    if services is None:
        return _error(503, "starting")

    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            async with services.db.connect() as conn:
                await ping(conn)
    except Exception as exc:
        logger.warning("not ready: database: %s", exc)
        return _error(503, f"database unavailable: {type(exc).__name__}")

    tools = services.registry.enabled_names()
    if not tools:
        logger.warning(
            "not ready: no enabled tool in %s", services.settings.manifests_dir
        )
        return _error(
            503,
            "no tool is enabled: add an enabled tool manifest to the tools "
            "folder of HELPDESK_MANIFESTS_DIR",
        )

    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            chunks = await services.knowledge.acount()
    except Exception as exc:
        logger.warning("not ready: knowledge index: %s", exc)
        return _error(503, f"knowledge index unavailable: {type(exc).__name__}")
    warnings: list[str] = []
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            warnings += (await delivery_health(services.db)).warnings()
    except Exception as exc:  # the database answered above; this is a report
        logger.warning("could not read the ticket delivery backlog: %s", exc)
    if chunks == 0:
        warnings.append(
            "the knowledge base is empty: run `helpdesk kb ingest` so answers "
            "can cite articles"
        )

    return web.json_response(
        {
            "status": "ready",
            "enabled_tools": len(tools),
            "knowledge_chunks": chunks,
            "warnings": warnings,
        }
    )
