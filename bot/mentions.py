"""Mention markup in message text: drop the bot's own, keep other people's names."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.inbound import Mention

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def clean_text(text: str | None, mentions: Iterable[Mention], bot_id: str) -> str:
    """Return what the user asked, as plain text.

    The bot's own ``<at>`` mention (the entity whose id is ``bot_id``) is removed;
    any other ``<at>Name</at>`` becomes ``Name``; CR, LF and runs of whitespace
    collapse to single spaces. Mentions without ``text`` are tolerated.

    Args:
        text: the activity's text (may be None).
        mentions: the activity's mention entities.
        bot_id: the recipient id, i.e. this bot as the channel knows it.

    Returns:
        The cleaned text, stripped; "" when nothing is left.
    """
    if not text:
        return ""
    for mention in mentions:
        if mention.id == bot_id and mention.text:
            text = text.replace(mention.text, " ")
    # Bot mentions whose entity lacks ``text``: match the markup by the bot's name.
    bot_names = {m.name for m in mentions if m.id == bot_id and m.name}
    text = _AT.sub(
        lambda match: " " if match.group(1).strip() in bot_names else match.group(1),
        text,
    )
    return _SPACE.sub(" ", text).strip()


def has_words(text: str) -> bool:
    """True when ``text`` has a letter or digit (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)
