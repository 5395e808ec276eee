"""Mention markup in message text: drop the bot's own, keep other people's names."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from bot.inbound import Mention

_AT = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")  # str patterns match Unicode spaces, NBSP included


def clean_text(
    text: str | None,
    mentions: Iterable[Mention],
    bot_id: str,
    *,
    bot_name: str | None = None,
) -> str:
    """Return what the user asked, as plain text.

    The bot's own ``<at>`` mention (the entity whose id is ``bot_id``) is removed;
    so is a leading ``<at>bot_name</at>`` that no entity gives to someone else
    (Teams sometimes drops the bot's entity). Any other ``<at>Name</at>``
    becomes ``Name``. HTML entities are decoded (``&nbsp;`` is a space), and CR,
    LF and runs of whitespace collapse to single spaces. Mentions without
    ``text`` are tolerated.

    Args:
        text: the activity's text (may be None).
        mentions: the activity's mention entities.
        bot_id: the recipient id, i.e. this bot as the channel knows it.
        bot_name: the bot's display name, for a leading mention without an
            entity.

    Returns:
        The cleaned text, stripped; "" when nothing is left.
    """
    if not text:
        return ""
    mentions = list(mentions)
    for mention in mentions:
        if mention.id == bot_id and mention.text:
            text = text.replace(mention.text, " ")

    # Bot mentions whose entity lacks ``text``: match the markup by the bot's name.
    bot_names = {m.name for m in mentions if m.id == bot_id and m.name}
    others = {m.name.casefold() for m in mentions if m.id != bot_id and m.name}
    unnamed = (bot_name or "").casefold()

    def replace(match: re.Match[str]) -> str:
        name = html.unescape(match.group(1)).strip()
        if name in bot_names:
            return " "
        leading = not html.unescape(match.string[: match.start()]).strip()
        folded = name.casefold()
        if leading and unnamed and folded == unnamed and folded not in others:
            return " "
        return match.group(1)

    text = html.unescape(_AT.sub(replace, text))
    return _SPACE.sub(" ", text).strip()


def has_words(text: str) -> bool:
    """True when ``text`` has a letter or digit (not only emoji or punctuation)."""
    return any(ch.isalnum() for ch in text)
