"""What the bot says: reply activities as Bot Framework JSON, and its fixed lines.

Model answers carry Teams' AI label and feedback buttons, and their sources as
citation entities (a schema.org ``Message`` with a list of ``Claim``), so that
Teams shows ``[1]`` as a pop-up with the article's title, excerpt and link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent.runner import Citation, TurnReply

_ABSTRACT_MAX = 300
"""Teams truncates longer citation abstracts; cut at a word before it does."""
_NAME_MAX = 80

AI_ENTITY_TYPE = "https://schema.org/Message"


def answer_activity(reply: TurnReply) -> dict[str, Any]:
    """Render an agent reply as a message activity.

    Args:
        reply: the agent's text and citations.

    Returns:
        Activity JSON with the AI label (when model-written), citation
        entities for the ``[n]`` markers, and ``feedbackLoopEnabled``.
    """
    entity: dict[str, Any] = {
        "type": AI_ENTITY_TYPE,
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
    }
    if reply.ai_generated:
        entity["additionalType"] = ["AIGeneratedContent"]
    if reply.citations:
        entity["citation"] = [_claim(c) for c in reply.citations]
    return {
        "type": "message",
        "text": reply.text,
        "textFormat": "markdown",
        "entities": [entity],
        "channelData": {"feedbackLoopEnabled": True},
    }


def _claim(citation: Citation) -> dict[str, Any]:
    appearance: dict[str, Any] = {
        "@type": "DigitalDocument",
        "name": _shorten(citation.title or citation.source, _NAME_MAX),
        "abstract": _shorten(citation.snippet, _ABSTRACT_MAX),
    }
    if citation.url:
        appearance["url"] = citation.url
    return {"@type": "Claim", "position": citation.position, "appearance": appearance}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def text_activity(text: str) -> dict[str, Any]:
    """A plain message from the bot itself (not model-written)."""
    return {"type": "message", "text": text}


def greeting(
    bot_name: str, user_name: str | None = None, offers: Iterable[str] = ()
) -> str:
    """What the bot says when it is added to a chat: only what it can do now.

    Args:
        bot_name: the bot's display name.
        user_name: the person's name, in a 1:1 chat.
        offers: the enabled tools' summaries ("answer IT questions from …");
            the greeting promises nothing else.
    """
    hello = f"Hi {user_name.split()[0]}!" if user_name else "Hi!"
    can = "\n".join(f"- {offer}" for offer in offers)
    offer = f"I can:\n{can}\n\n" if can else "I can help with IT questions. "
    return (
        f"{hello} I'm {bot_name}, the IT help desk assistant. {offer}Just tell me "
        "what's wrong in a sentence. I always ask before changing anything."
    )


def describe_in_words(*, has_image: bool) -> str:
    """The answer to an empty, emoji-only or image-only message."""
    if has_image:
        return (
            "I can't read images yet. Please describe the problem in words, "
            "for example what you were doing and the exact error message. "
            "Keep the screenshot: IT support may ask for it."
        )
    return (
        "Please describe the problem in words, for example what you were doing "
        "and the exact error message. If you have a screenshot, keep it: IT "
        "support may ask for it."
    )


def files_kept(names: Sequence[str], *, has_image: bool) -> str:
    """The answer to files sent without words, once they are kept for a ticket.

    Args:
        names: the kept files' names.
        has_image: at least one is a picture.
    """
    if len(names) == 1:
        what = f"your {'screenshot' if has_image else 'file'} ({names[0]})"
        it = "it"
    else:
        what = f"your {len(names)} files ({', '.join(names)})"
        it = "them"
    cannot = "I can't read images yet" if has_image else "I can't read files yet"
    return (
        f"Got {what}. {cannot}, so please describe the problem in words, for "
        "example what you were doing and the exact error message, and I'll "
        f'open a ticket with {it}. If you already have a ticket, say "add it '
        f"to my ticket\" and I'll attach {it} there. I keep {it} for a day."
    )


def files_not_kept(sentences: Sequence[str]) -> str:
    """What went wrong with files that could not be kept, one sentence each."""
    return " ".join(sentences)


def card_unreadable(*, shown_again: bool) -> str:
    """The answer to a card submit whose choice did not arrive (field case T3b)."""
    if shown_again:
        return "I couldn't read your choice from that card. Here it is again:"
    return (
        "I couldn't read your choice from that card. Please tell me again in "
        "words what you'd like to do."
    )


def approval_already_handled() -> str:
    """A second click, a re-send, or a click on another replica's card."""
    return "That request was already handled."


def approval_expired() -> str:
    """A click on a card whose request expired or was left behind."""
    return "That request expired. Ask me again if you still need it."


def approval_not_yours(approver_name: str | None) -> str:
    """A click by someone other than the person the card is for."""
    return f"This card is for {approver_name or 'the person who asked'} to confirm."


def card_unusable() -> str:
    """A submit that names no request the bot knows (forged, foreign, or old)."""
    return "I can't use that card."


def secret_withheld() -> str:
    """Said instead of showing a one-time secret outside a 1:1 chat with its owner."""
    return (
        "For your security I only show that in a private chat with the person "
        "it belongs to. Open a 1:1 chat with me and ask again there."
    )


def tenant_refused(company_name: str) -> str:
    """The answer to someone from an organisation this help desk does not serve."""
    return (
        f"Sorry, this help desk only serves {company_name} employees, and your "
        "organisation isn't set up to use it. Please contact your own IT support."
    )


def apology(correlation_id: str, user_message: str | None = None) -> str:
    """The answer when a turn fails; the id lets support find the log line."""
    first = user_message or "Sorry, something went wrong on my side."
    return (
        f"{first} If it keeps happening, tell IT support this reference: "
        f"{correlation_id}."
    )
