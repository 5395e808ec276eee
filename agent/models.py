"""Chat models from the settings, and the guard that turns their failures into replies.

The configured model is called with explicit timeouts and a bounded number of
retries; the openai SDK itself retries 408, 409, 429 and 5xx answers and
honours ``Retry-After``. On top of that:

- a content-filter refusal (400 ``content_filter``) or an exhausted quota
  (429 ``insufficient_quota``) is never retried and becomes a polite reply;
- when the endpoint is down (connection refused, timeouts, 5xx or 429 after the
  retries) the offline model answers instead, and the reply is marked offline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from pydantic import SecretStr

from agent.offline import OFFLINE_FLAG, OfflineChatModel
from tools.errors import ConfigError, HelpdeskError
from tools.settings import Settings

logger = logging.getLogger(__name__)

REFUSAL_KEY = "helpdesk_refusal"
"""``response_metadata`` key on a reply written here instead of by a model."""

CONTENT_FILTER_REPLY = (
    "I can't help with that request as it is written: the AI service's "
    "content filter blocked it. Please rephrase it, or contact the IT help "
    "desk."
)
QUOTA_REPLY = (
    "The AI service the help desk uses has run out of quota for now. Please "
    "try again later, or contact the IT help desk."
)
UNAVAILABLE_REPLY = (
    "The AI service the help desk uses is not answering right now. Please try "
    "again in a few minutes, or contact the IT help desk."
)

_DOWN = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.InternalServerError,
    openai.RateLimitError,
    ConnectionError,
    TimeoutError,
)


class GuardedModel:
    """The configured chat model with its failures turned into replies.

    Args:
        primary: the configured model.
        fallback: answers when ``primary`` is down; None to reply politely
            instead.
        label: names the model in log lines (provider and model name).
    """

    def __init__(
        self,
        primary: BaseChatModel,
        *,
        fallback: BaseChatModel | None = None,
        label: str = "model",
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.label = label

    @property
    def is_offline(self) -> bool:
        """True when the configured model is the offline model itself."""
        return isinstance(self.primary, OfflineChatModel)

    async def ainvoke(
        self,
        messages: Sequence[BaseMessage],
        *,
        tools: Sequence[Any] = (),
        config: RunnableConfig | None = None,
        offline: bool = False,
    ) -> AIMessage:
        """Return the next assistant message; never raises for model trouble.

        Args:
            messages: the prompt, system message first.
            tools: the tools the model may call.
            config: the run config, passed on for callbacks and tracing.
            offline: skip the configured model (it already failed this turn).

        Returns:
            The model's message, the offline model's message (marked with
            ``response_metadata[OFFLINE_FLAG]``), or a polite reply.
        """
        if offline and self.fallback is not None:
            return await self._fallback(messages, tools, config)

        started = time.perf_counter()
        try:
            message = await _bound(self.primary, tools).ainvoke(list(messages), config)
        except openai.BadRequestError as exc:
            if _error_code(exc) != "content_filter":
                logger.exception("%s rejected the request", self.label)
                return _polite(HelpdeskError.default_user_message, "bad_request")
            logger.warning("%s refused by its content filter", self.label)
            return _polite(CONTENT_FILTER_REPLY, "content_filter")
        except _DOWN as exc:
            if isinstance(exc, openai.RateLimitError) and (
                _error_code(exc) == "insufficient_quota"
            ):
                logger.error("%s: quota exhausted", self.label)
                return _polite(QUOTA_REPLY, "quota")
            logger.warning(
                "%s down after %.0f ms (%s)",
                self.label,
                (time.perf_counter() - started) * 1000,
                type(exc).__name__,
            )
            if self.fallback is None:
                return _polite(UNAVAILABLE_REPLY, "unavailable")
            return await self._fallback(messages, tools, config)
        except Exception:
            logger.exception("%s failed", self.label)
            return _polite(HelpdeskError.default_user_message, "error")

        logger.info(
            "%s answered in %.0f ms", self.label, (time.perf_counter() - started) * 1000
        )
        return _as_ai_message(message)

    async def _fallback(
        self,
        messages: Sequence[BaseMessage],
        tools: Sequence[Any],
        config: RunnableConfig | None,
    ) -> AIMessage:
        assert self.fallback is not None
        message = await _bound(self.fallback, tools).ainvoke(list(messages), config)
        message = _as_ai_message(message)
        message.response_metadata[OFFLINE_FLAG] = True
        return message


def create_chat_model(
    settings: Settings, *, http_async_client: Any | None = None
) -> BaseChatModel:
    """Build the chat model the settings name.

    Args:
        settings: provider, endpoint, model or deployment name, key, timeout
            and retries.
        http_async_client: the openai SDK's async HTTP client to use; see
            :func:`open_chat_model`, which adds the quota hook.

    Raises:
        ConfigError: Azure OpenAI without an API key.
    """
    if settings.model_provider == "offline":
        return OfflineChatModel()

    key = settings.model_api_key or SecretStr("unused-by-local-endpoints")
    common: dict[str, Any] = {
        "api_key": key,
        "timeout": settings.model_timeout_s,
        "max_retries": settings.model_max_retries,
        "http_async_client": http_async_client,
    }
    if settings.model_provider == "azure":
        from langchain_openai import AzureChatOpenAI

        if settings.model_api_key is None:
            # TODO(managed identity): accept an Entra token provider instead.
            raise ConfigError(
                "HELPDESK_MODEL_API_KEY: Azure OpenAI needs the resource's API "
                "key (Entra ID sign-in is not supported yet)"
            )
        return AzureChatOpenAI(
            azure_endpoint=settings.azure_openai_endpoint,
            api_version=settings.azure_openai_api_version,
            azure_deployment=settings.model_name,
            **common,
        )

    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.model_name, base_url=settings.model_base_url, **common
    )


@asynccontextmanager
async def open_chat_model(settings: Settings) -> AsyncIterator[GuardedModel]:
    """Open the configured model (and its HTTP client) behind a guard.

    Args:
        settings: see :func:`create_chat_model`; ``model_fallback_offline``
            decides whether the offline model stands in when it is down.
    """
    if settings.model_provider == "offline":
        yield GuardedModel(OfflineChatModel(), label="offline model")
        return

    client = openai.DefaultAsyncHttpxClient(
        timeout=settings.model_timeout_s,
        event_hooks={"response": [_no_retry_on_quota]},
    )
    try:
        primary = create_chat_model(settings, http_async_client=client)
        fallback = OfflineChatModel() if settings.model_fallback_offline else None
        label = f"{settings.model_provider} model {settings.model_name}"
        yield GuardedModel(primary, fallback=fallback, label=label)
    finally:
        await client.aclose()


async def _no_retry_on_quota(response: Any) -> None:
    # A 429 for an exhausted quota will not clear in seconds; the SDK obeys
    # ``x-should-retry`` (its documented override), so mark such answers final.
    if response.status_code != 429:
        return
    await response.aread()
    if b"insufficient_quota" in response.content:
        response.headers["x-should-retry"] = "false"


def _bound(model: BaseChatModel, tools: Sequence[Any]) -> Any:
    return model.bind_tools(list(tools)) if tools else model


def _error_code(exc: openai.APIError) -> str | None:
    code = getattr(exc, "code", None)
    if code:
        return str(code)
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return str(error.get("code")) if isinstance(error, dict) else None


def _as_ai_message(message: Any) -> AIMessage:
    if isinstance(message, AIMessage):
        return message
    return AIMessage(content=str(getattr(message, "content", message)))


def _polite(text: str, reason: str) -> AIMessage:
    return AIMessage(content=text, response_metadata={REFUSAL_KEY: reason})
