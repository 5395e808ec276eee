"""Reply rendering: Teams citation entities, the AI label and the feedback flag."""

from __future__ import annotations

from agent.runner import Citation, TurnReply
from bot import replies
from bot.adapter import to_sdk_activity
from bot.replies import answer_activity


def _entity(activity: dict) -> dict:
    [entity] = activity["entities"]
    return entity


def test_an_answer_with_citations_carries_claims_ai_label_and_feedback() -> None:
    reply = TurnReply(
        text="Restart the client [1], then check the proxy [2].",
        citations=[
            Citation(1, "VPN", "https://kb.example.com/vpn", "Restart the client."),
            Citation(2, "Proxy settings", "proxy.md", "x " * 400),
        ],
    )

    activity = answer_activity(reply)

    assert activity["channelData"] == {"feedbackLoopEnabled": True}
    entity = _entity(activity)
    assert entity["type"] == "https://schema.org/Message"
    assert entity["@type"] == "Message"
    assert entity["@context"] == "https://schema.org"
    assert entity["@id"] == ""
    assert entity["additionalType"] == ["AIGeneratedContent"]
    first, second = entity["citation"]
    assert first == {
        "@type": "Claim",
        "position": 1,
        "appearance": {
            "@type": "DigitalDocument",
            "name": "VPN",
            "abstract": "Restart the client.",
            "url": "https://kb.example.com/vpn",
        },
    }
    assert "url" not in second["appearance"]  # a file name is not a link
    assert len(second["appearance"]["abstract"]) <= 300


def test_an_answer_without_citations_still_has_the_label_and_feedback() -> None:
    activity = answer_activity(TurnReply(text="Done."))

    entity = _entity(activity)
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert "citation" not in entity
    assert activity["channelData"]["feedbackLoopEnabled"] is True


def test_the_sdk_activity_keeps_every_entity_property_on_the_wire() -> None:
    data = answer_activity(
        TurnReply(text="See [1].", citations=[Citation(1, "T", "https://a/b", "s")])
    )

    wire = to_sdk_activity(data).serialize()

    assert wire["entities"] == data["entities"]
    assert wire["channelData"] == {"feedbackLoopEnabled": True}


def test_the_greeting_offers_only_what_the_enabled_tools_say() -> None:
    offers = ["answer IT questions from the help desk articles, with sources"]

    only_search = replies.greeting("Helpdesk", "Alex Employee", offers)
    no_tools = replies.greeting("Helpdesk", None, [])

    assert only_search.startswith("Hi Alex! I'm Helpdesk")
    assert "- answer IT questions from the help desk articles" in only_search
    assert "Temporary Access Pass" not in only_search
    assert "I can help with IT questions." in no_tools
    for not_built in ("ticket", "software", "person from support"):
        assert not_built not in only_search
