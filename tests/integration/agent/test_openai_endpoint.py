"""langchain-openai through the whole graph against a local OpenAI-speaking server."""

from __future__ import annotations

import time

import pytest
from fakes.agent_tools import make_services
from fakes.openai_server import error, serve_fake_openai, slow, text, tool_call
from langgraph.checkpoint.memory import InMemorySaver

from agent.graph import build_graph
from agent.models import CONTENT_FILTER_REPLY, QUOTA_REPLY, open_chat_model
from agent.offline import OFFLINE_NOTE
from agent.runner import Copilot
from tools.identity import Requester
from tools.settings import load_settings

ALICE = Requester(object_id="u-alice", tenant_id="t-1", name="Alice")


def _settings(fake, **overrides):
    values = {
        "model_provider": "openai",
        "model_base_url": fake.base_url,
        "model_api_key": "sk-test",
        "model_timeout_s": 2.0,
        "model_max_retries": 2,
    }
    return load_settings(**{**values, **overrides})


async def _run(settings, text_in="status of ticket 42?"):
    services = make_services(settings)
    async with open_chat_model(settings) as model:
        graph = build_graph(
            model=model,
            registry=services.registry,
            settings=settings,
            checkpointer=InMemorySaver(),
        )
        copilot = Copilot(graph, settings=settings, model=model)
        return await copilot.arun_turn(
            requester=ALICE, conversation_id="c1", text=text_in
        )


async def test_tool_call_round_trip_through_the_graph():
    async with serve_fake_openai(
        tool_call("ticket_status", {"ticket_number": 42}),
        text("Ticket 42 is in progress."),
    ) as fake:
        reply = await _run(_settings(fake))

    assert reply.text == "Ticket 42 is in progress."
    assert not reply.offline
    assert len(fake.requests) == 2
    first, second = (r.body for r in fake.requests)
    assert first["messages"][0]["role"] == "system"
    assert {t["function"]["name"] for t in first["tools"]} >= {"ticket_status"}
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Ticket INC0000042 for Alice is In progress.",
    }
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-test"


async def test_azure_deployment_path_and_api_version():
    async with serve_fake_openai(text("Hello from Azure.")) as fake:
        settings = load_settings(
            model_provider="azure",
            azure_openai_endpoint=fake.origin,
            model_name="helpdesk-gpt",
            model_api_key="azure-key",
            model_timeout_s=2.0,
        )
        reply = await _run(settings, "hi")

    assert reply.text == "Hello from Azure."
    request = fake.requests[0]
    assert request.path == "/openai/deployments/helpdesk-gpt/chat/completions"
    assert request.query["api-version"] == settings.azure_openai_api_version
    assert request.headers["api-key"] == "azure-key"


async def test_429_with_retry_after_waits_then_succeeds():
    async with serve_fake_openai(
        error(429, "rate_limit_exceeded", headers={"Retry-After": "1"}),
        text("Answered after waiting."),
    ) as fake:
        reply = await _run(_settings(fake))

    assert reply.text == "Answered after waiting."
    assert len(fake.requests) == 2
    waited = fake.requests[1].at - fake.requests[0].at
    assert waited >= 0.9


async def test_repeated_500_falls_back_to_the_offline_model():
    async with serve_fake_openai() as fake:  # default answer: 500 forever
        reply = await _run(_settings(fake, model_max_retries=1), "hello")

    assert len(fake.requests) == 2  # one try, one retry
    assert reply.offline
    assert reply.text.endswith(OFFLINE_NOTE)


async def test_500_without_fallback_gives_a_polite_reply():
    async with serve_fake_openai() as fake:
        settings = _settings(fake, model_max_retries=0, model_fallback_offline=False)
        reply = await _run(settings, "hello")

    assert not reply.offline
    assert "not answering right now" in reply.text


async def test_timeout_falls_back_to_the_offline_model():
    async with serve_fake_openai() as fake:
        fake.default = slow(text("too late"), 3.0)
        settings = _settings(fake, model_timeout_s=0.3, model_max_retries=1)
        started = time.monotonic()
        reply = await _run(settings, "How do I connect to the VPN?")

    assert time.monotonic() - started < 5
    assert len(fake.requests) == 2
    assert reply.offline
    assert "GlobalConnect" in reply.text
    assert reply.citations


@pytest.mark.parametrize(
    ("answer", "polite"),
    [
        pytest.param(
            error(400, "content_filter", "The response was filtered"),
            CONTENT_FILTER_REPLY,
            id="content-filter",
        ),
        pytest.param(
            error(429, "insufficient_quota", "You exceeded your current quota"),
            QUOTA_REPLY,
            id="quota",
        ),
    ],
)
async def test_refusals_are_not_retried_and_get_a_polite_reply(answer, polite):
    async with serve_fake_openai(answer) as fake:
        reply = await _run(_settings(fake), "something")

    assert len(fake.requests) == 1
    assert reply.text == polite
    assert not reply.offline
