"""The only module that knows the Bot Framework SDK (``botbuilder``).

It builds the ``CloudAdapter`` and its authentication from our settings,
validates inbound tokens, runs a ``TeamsActivityHandler`` that hands each
activity to :class:`bot.handler.TurnHandler` as our own types, and sends
proactive messages from stored conversation references. A host on another SDK
replaces this module and nothing else.

Invoke activities get an answer for every name: the feedback submit goes to the
handler, ``adaptiveCard/action`` (an ``Action.Execute`` this bot never sends)
gets the universal-action error body with HTTP 200 as that protocol requires,
and any other name a 400 that says what the bot handles, where botbuilder
would answer 501 (a 5xx makes the channel retry). An activity the SDK cannot
read gets a 400 that names the field, not the SDK's message.

Proactive sends raise our own errors, so callers never see the SDK's::

    HelpdeskError
    ├── InvalidInput          the reference is malformed, or its serviceUrl is
    │                         not loopback in local mode (never sent)
    ├── NotFound
    │   └── Unreachable       the connector answered 403 or 404: the user
    │                         removed the app, or the bot left the chat; in
    │                         local mode also a loopback connector that is
    │                         gone (a terminal chat that ended)
    └── BackendUnavailable
        └── ConnectorUnavailable  5xx, 429, 401, a timeout or a refused
                                  connection: the same send may work later
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import BotAdapter, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    Entity,
    ErrorResponseException,
)
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    ServiceClientCredentialsFactory,
)

from bot import replies
from bot.handler import InvokeResult, TurnHandler, new_correlation_id
from bot.inbound import Inbound
from bot.service_url import (
    check_local_service_url,
    check_service_url_claim,
    service_url_host,
)
from tools.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from tools.settings import Settings

logger = logging.getLogger(__name__)

_INBOUND = "helpdesk.inbound"

PROACTIVE_TIMEOUT_S = 20.0
"""One proactive send, connect to answer. Well under the notifier's lease
(60 s), so that no other replica takes an event while it is being sent."""
_UNREACHABLE_STATUSES = frozenset({403, 404})

SUBMIT_ACTION = "message/submitAction"
"""The invoke Teams sends for the feedback buttons; the only one handled."""
UNIVERSAL_ACTION = "adaptiveCard/action"
"""``Action.Execute``: the protocol wants HTTP 200 and the outcome in the body."""
_SHOWN_NAME = 100
"""Characters of an unknown invoke name repeated in the answer."""
_SDK_SHAPES = {
    "iso-8601": "an ISO 8601 date and time, such as 2024-05-01T09:30:00.000Z",
    "str": "a string",
    "bool": "true or false",
    "[str]": "a list of strings",
}


class Unreachable(NotFound):
    """The connector will not deliver to this conversation (403 or 404).

    Teams answers 403 ``BotNotInConversationRoster`` once the user removed the
    app or the bot left the chat, and 404 ``ConversationNotFound`` for a
    conversation that no longer exists. Retrying does not help; the user has
    to write to the bot again.

    Attributes:
        status: the HTTP status; None for a local connector that refused
            the connection.
        code: the connector's error code, when it sent one.
    """

    def __init__(
        self, message: str, *, status: int | None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ConnectorUnavailable(BackendUnavailable):
    """The connector failed in a way that may pass: retry later.

    Attributes:
        status: the HTTP status, or None when no answer came (timeout,
            connection refused).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class _BotConfig:
    """The attribute bag ``ConfigurationBotFrameworkAuthentication`` reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = (
            settings.app_password.get_secret_value() if settings.app_password else None
        )
        self.APP_TYPE = settings.app_type
        self.APP_TENANTID = settings.app_tenant_id
        if settings.openid_metadata_url or settings.token_issuer:
            if not settings.openid_metadata_url:
                raise ConfigError(
                    "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER is set without "
                    "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL; set both or neither"
                )
            # Overriding the inbound side switches botbuilder to its
            # parameterized mode, which then needs the outbound side spelled out.
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = (
                settings.token_issuer
                or AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
            )
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
                + (settings.app_tenant_id or "botframework.com")
            )
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            )


class _JsonEntity(Entity):
    """An entity that keeps every property when serialised (citations, AI label).

    botbuilder's ``Entity`` serialises only ``type`` and drops the rest.
    """

    _attribute_map = {  # noqa: RUF012 - msrest reads this class attribute
        "type": {"key": "type", "type": "str"},
        "additional_properties": {"key": "", "type": "{object}"},
    }


def to_sdk_activity(data: dict[str, Any]) -> Activity:
    """Turn reply JSON (see :mod:`bot.replies`) into an SDK activity, losslessly."""
    activity = Activity().deserialize(data)
    entities = []
    for raw in data.get("entities") or []:
        entity = _JsonEntity(type=raw.get("type"))
        entity.additional_properties = {k: v for k, v in raw.items() if k != "type"}
        entities.append(entity)
    activity.entities = entities or None
    return activity


class _ContextOutbox:
    """An :class:`~bot.handler.Outbox` over the turn's context."""

    def __init__(self, context: TurnContext) -> None:
        self._context = context

    async def send(self, activity: dict[str, Any]) -> str | None:
        response = await self._context.send_activity(to_sdk_activity(activity))
        return response.id if response is not None else None

    async def typing(self) -> None:
        await self._context.send_activity(Activity(type=ActivityTypes.typing))

    async def update(self, activity_id: str, activity: dict[str, Any]) -> None:
        replacement = to_sdk_activity(activity)
        replacement.id = activity_id
        await self._context.update_activity(replacement)

    async def connector_token(self) -> str | None:
        """The bot's token for this turn's Bot Connector, or None when unsigned.

        Pasted images live on the connector and want the same token as the
        bot's replies; the credentials are the ones the SDK made for this
        turn (msal caches the token, but may block to refresh it).
        """
        client = self._context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        credentials = getattr(getattr(client, "config", None), "credentials", None)
        if not isinstance(credentials, AppCredentials):
            return None
        app_id = credentials.microsoft_app_id
        if not app_id or app_id == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
            return None
        token = await asyncio.to_thread(credentials.get_access_token)
        return token or None


class _HelpdeskBot(TeamsActivityHandler):
    """Hands messages, member additions and feedback to the handler."""

    def __init__(self, handler: TurnHandler) -> None:
        self._handler = handler

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self._dispatch(turn_context)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # Not the SDK's Teams dispatch: it fetches each new member's profile
        # from the connector, which this bot does not need.
        await self._dispatch(turn_context)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        name = turn_context.activity.name
        if name == SUBMIT_ACTION:
            result = await self._dispatch(turn_context)
            result = result or InvokeResult(200, {})
            return InvokeResponse(status=result.status, body=result.body)
        # Not the SDK's dispatch: for every name this bot does not implement
        # it answers 501, and a 5xx makes the channel send the invoke again.
        answer = unsupported_invoke(name)
        logger.info(
            "invoke %r is not handled; answered %d",
            (name or "")[:_SHOWN_NAME],
            answer.status,
        )
        return InvokeResponse(status=answer.status, body=answer.body)

    async def _dispatch(self, turn_context: TurnContext) -> InvokeResult | None:
        inbound: Inbound = turn_context.turn_state[_INBOUND]
        return await self._handler.handle(inbound, _ContextOutbox(turn_context))


def unsupported_invoke(name: str | None) -> InvokeResult:
    """The answer to an invoke this bot does not handle: never a 5xx.

    ``adaptiveCard/action`` must be answered with HTTP 200 and the outcome in
    the body (the Universal Actions response: ``statusCode``, ``type``,
    ``value``), so it gets a 400 error object there; any other name gets an
    HTTP 400 whose ``error`` says what the bot handles.
    """
    shown = repr(name[:_SHOWN_NAME]) if name else "without a name"
    message = (
        f"this bot does not handle the invoke {shown}; it handles "
        f"{SUBMIT_ACTION!r} (feedback) and card submits sent as messages"
    )
    if name == UNIVERSAL_ACTION:
        return InvokeResult(
            200,
            {
                "statusCode": 400,
                "type": "application/vnd.microsoft.error",
                "value": {"code": "NotSupported", "message": message},
            },
        )
    return InvokeResult(400, {"error": message})


@dataclass(frozen=True, slots=True)
class AuthenticatedActivity:
    """An activity whose token has been checked, ready to run."""

    activity: Activity
    auth: AuthenticateRequestResult


class BotHost:
    """The SDK adapter, configured from settings, around our handler.

    Args:
        settings: app id, password, tenant and type, and the OpenID overrides.
        handler: the behaviour.
        credentials_factory: overrides how outbound tokens are obtained
            (botbuilder's own public option; tests pass a fixed-token one).
    """

    def __init__(
        self,
        settings: Settings,
        handler: TurnHandler,
        *,
        credentials_factory: ServiceClientCredentialsFactory | None = None,
    ) -> None:
        self.auth = ConfigurationBotFrameworkAuthentication(
            _BotConfig(settings),
            credentials_factory=credentials_factory,
            logger=logger,
        )
        self.adapter = CloudAdapter(self.auth)
        self.adapter.on_turn_error = self._on_turn_error
        self._bot = _HelpdeskBot(handler)
        self._signed = not settings.local_mode
        self._app_id = settings.app_id

    async def authenticate(
        self, body: dict[str, Any], auth_header: str | None
    ) -> AuthenticatedActivity:
        """Check the caller's token for this activity.

        In local mode no token is checked, and a header sent anyway is
        ignored (checking it would fetch the public cloud's signing keys).

        Raises:
            InvalidInput: the body cannot be read as an activity.
            PermissionError: the token is missing, malformed, expired, for
                another bot, not signed by a channel key, or does not vouch
                for the activity's ``serviceUrl``.
        """
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # msrest raises several unrelated types
            logger.debug("the SDK could not read the activity: %s", exc)
            raise InvalidInput(_unreadable(body)) from exc

        if not self._signed:
            auth_header = None
        try:
            result = await self.auth.authenticate_request(activity, auth_header)
        except PermissionError:
            raise
        except Exception as exc:  # PyJWT errors, unknown key ids, bad schemes
            raise PermissionError(f"token rejected: {exc}") from exc
        if self._signed:
            check_service_url_claim(result.claims_identity.claims, activity.service_url)
        return AuthenticatedActivity(activity, result)

    async def run(
        self, checked: AuthenticatedActivity, inbound: Inbound
    ) -> InvokeResult | None:
        """Run the turn; returns the invoke answer for invoke activities."""

        async def logic(context: TurnContext) -> None:
            context.turn_state[_INBOUND] = inbound
            await self._bot.on_turn(context)

        response = await self.adapter.process_activity(
            checked.auth, checked.activity, logic
        )
        if response is None:
            return None
        return InvokeResult(response.status, response.body)

    async def send_proactive(
        self,
        reference: dict[str, Any],
        activity: dict[str, Any],
        *,
        timeout_s: float = PROACTIVE_TIMEOUT_S,
    ) -> str | None:
        """Send one activity into a stored conversation, outside any turn.

        In signed mode the bot authenticates as its app id; in local mode it
        sends anonymously, and only to a loopback ``serviceUrl``.

        Args:
            reference: the conversation reference as saved by the handler
                (Bot Framework JSON: ``serviceUrl``, ``conversation``,
                ``bot``, ``user``, ``channelId``).
            activity: the activity to send (Bot Framework JSON).
            timeout_s: how long the connector may take to answer.

        Returns:
            The id the connector gave the new activity, when it gave one
            (the handler updates the card by it after a click).

        Raises:
            InvalidInput: the reference has no usable ``serviceUrl`` or
                conversation, or (local mode) its host is not loopback.
            Unreachable: the connector answered 403 or 404, or (local mode)
                nothing listens at the loopback ``serviceUrl`` any more.
            ConnectorUnavailable: any other failure; the send may work later.
        """

        async def send(context: TurnContext) -> str | None:
            response = await context.send_activity(to_sdk_activity(activity))
            return response.id if response is not None else None

        return await self._proactive(reference, send, timeout_s=timeout_s)

    async def post_to_channel(
        self,
        reference: dict[str, Any],
        channel_id: str,
        activity: dict[str, Any],
        *,
        timeout_s: float = PROACTIVE_TIMEOUT_S,
    ) -> str | None:
        """Post a NEW message in a Teams channel (it opens its own thread).

        Sending to the channel's id, not to a ``;messageid=`` thread of it,
        makes Teams start a new thread.

        Args:
            reference: any conversation reference of the channel (the one
                saved when the channel was designated).
            channel_id: the channel (``19:…@thread.tacv2``).
            activity: the activity to post.

        Returns:
            The new activity's id: the thread is ``<channel>;messageid=<id>``.

        Raises:
            The errors of :meth:`send_proactive`.
        """
        channel = dict(reference)
        conversation = dict(channel.get("conversation") or {})
        conversation.update(
            {"id": channel_id, "isGroup": True, "conversationType": "channel"}
        )
        channel["conversation"] = conversation
        channel.pop("activityId", None)
        return await self.send_proactive(channel, activity, timeout_s=timeout_s)

    async def send_event(
        self,
        reference: dict[str, Any],
        name: str,
        value: Any,
        *,
        attachments: list[dict[str, Any]] | None = None,
        timeout_s: float = PROACTIVE_TIMEOUT_S,
    ) -> str | None:
        """Send an event activity (``handoff.initiate``) into a conversation.

        Raises:
            The errors of :meth:`send_proactive`.
        """
        activity: dict[str, Any] = {"type": "event", "name": name, "value": value}
        if attachments:
            activity["attachments"] = attachments
        return await self.send_proactive(reference, activity, timeout_s=timeout_s)

    async def update_proactive(
        self,
        reference: dict[str, Any],
        activity_id: str,
        activity: dict[str, Any],
        *,
        timeout_s: float = PROACTIVE_TIMEOUT_S,
    ) -> None:
        """Replace an activity the bot sent earlier, outside any turn (a card
        redrawn by a background job).

        Raises:
            The errors of :meth:`send_proactive`.
        """

        async def update(context: TurnContext) -> str | None:
            replacement = to_sdk_activity(activity)
            replacement.id = activity_id
            await context.update_activity(replacement)
            return activity_id

        await self._proactive(reference, update, timeout_s=timeout_s)

    async def _proactive(
        self,
        reference: dict[str, Any],
        act: Callable[[TurnContext], Awaitable[str | None]],
        *,
        timeout_s: float,
    ) -> str | None:
        """Run ``act`` in a stored conversation, translating every failure."""
        service_url = reference.get("serviceUrl") if reference else None
        if self._signed:
            service_url_host(service_url)
        else:
            check_local_service_url(service_url)
        conversation = reference.get("conversation")
        if not isinstance(conversation, dict) or not conversation.get("id"):
            raise InvalidInput("the conversation reference has no conversation id")
        try:
            sdk_reference = ConversationReference().deserialize(reference)
        except Exception as exc:  # msrest raises several unrelated types
            raise InvalidInput(f"not a conversation reference: {exc}") from exc

        sent: dict[str, Any] = {}

        async def logic(context: TurnContext) -> None:
            # Errors are kept, not raised: the adapter would hand them to
            # on_turn_error, which apologises into the same dead conversation.
            _limit_connector_timeout(context, timeout_s)
            try:
                sent["id"] = await act(context)
            except Exception as exc:
                sent["error"] = exc

        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s + 5):
                await self.adapter.continue_conversation(
                    sdk_reference, logic, bot_app_id=self._app_id or ""
                )
        except TimeoutError as exc:
            raise ConnectorUnavailable(
                f"the connector at {service_url} did not answer within {timeout_s:g} s"
            ) from exc
        except Exception as exc:  # the outbound token could not be obtained
            raise _connector_error(exc, service_url) from exc
        if "error" in sent:
            error = sent["error"]
            if not self._signed and _connection_refused(error):
                # Local connectors (a terminal chat, the Playground) come and
                # go with their process; the user's next message clears this.
                raise Unreachable(
                    f"nothing listens at the local connector {service_url}",
                    status=None,
                    code="ConnectionRefused",
                ) from error
            raise _connector_error(error, service_url) from error
        logger.info(
            "proactive message to %s: delivered in %.0f ms",
            service_url,
            (time.monotonic() - started) * 1000,
        )
        return sent.get("id") or None

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        correlation_id = new_correlation_id()
        logger.error(
            "unhandled turn error [%s] activity %s",
            correlation_id,
            context.activity.id,
            exc_info=error,
        )
        try:
            await context.send_activity(
                to_sdk_activity(replies.text_activity(replies.apology(correlation_id)))
            )
        except Exception:
            logger.exception("could not send the apology [%s]", correlation_id)


def _unreadable(body: dict[str, Any]) -> str:
    """Say which field of ``body`` the SDK could not read, and what it wants.

    Each top-level field is read alone; the first one the SDK refuses is named
    with the shape its schema gives it.
    """
    for spec in Activity._attribute_map.values():
        key = spec["key"]
        if key not in body:
            continue
        try:
            Activity().deserialize({key: body[key]})
        except Exception:  # msrest raises several unrelated types
            shape = _SDK_SHAPES.get(spec["type"])
            if shape is None:
                listed = spec["type"].startswith("[")
                shape = "a list of objects" if listed else "an object"
            return f"not a Bot Framework activity: '{key}' must be {shape}"
    return "not a Bot Framework activity: a field has the wrong type"


def _limit_connector_timeout(context: TurnContext, timeout_s: float) -> None:
    """Give the turn's connector client an explicit timeout (msrest waits 100 s)."""
    client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    connection = getattr(getattr(client, "config", None), "connection", None)
    if connection is not None:
        connection.timeout = timeout_s


def _connector_error(exc: BaseException, service_url: Any) -> Exception:
    """Translate what the SDK raised while sending into our errors."""
    if isinstance(exc, ErrorResponseException):
        response = getattr(exc, "response", None)
        status = int(getattr(response, "status_code", 0) or 0)
        code = _error_code(exc)
        what = f"the connector at {service_url} answered {status}" + (
            f" {code}" if code else ""
        )
        if status in _UNREACHABLE_STATUSES:
            return Unreachable(what, status=status, code=code)
        return ConnectorUnavailable(
            what, status=status or None, retry_after=_retry_after(response)
        )
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return ConnectorUnavailable(
        f"could not send to the connector at {service_url}: "
        f"{type(exc).__name__}: {reason}"
    )


def _connection_refused(exc: BaseException) -> bool:
    """True when the send failed because nothing listens at the address.

    The SDK wraps the socket error several times (msrest, requests, urllib3);
    look through the chain rather than at the message.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        linked = [
            getattr(current, name, None)
            for name in ("inner_exception", "reason", "__cause__", "__context__")
        ]
        linked += list(current.args)
        stack.extend(item for item in linked if isinstance(item, BaseException))
    return False


def _error_code(exc: ErrorResponseException) -> str | None:
    body = getattr(exc, "error", None)
    inner = getattr(body, "error", None)
    code = getattr(inner, "code", None)
    return code if isinstance(code, str) and code else None


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None
