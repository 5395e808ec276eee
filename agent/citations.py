"""Map the ``[n]`` markers of an answer onto the passages the turn retrieved.

The search tool numbers its passages ``[1]``, ``[2]``… in its text and keeps
them, in the same order, in its artifact. An answer cites those numbers; here
they are renumbered densely in order of first use, passages of the same
article share one number, markers that point at no passage are dropped, and
each cited article gets a short snippet of the first passage cited from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, ToolMessage

SNIPPET_CHARS = 300

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\S)[ \t]+([.,;:!?])(?=\s|$)")
_DOUBLE_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")


@dataclass(frozen=True, slots=True)
class CitedPassage:
    """A passage the answer cites, at its new position."""

    position: int
    title: str
    source: str
    snippet: str


def passages_by_number(messages: Sequence[BaseMessage]) -> dict[int, dict[str, Any]]:
    """Collect the numbered passages of the knowledge results in ``messages``.

    When a turn searched more than once, a later result's numbers win: the
    answer is written after it and most likely cites it.

    Args:
        messages: the messages of one turn.
    """
    numbered: dict[int, dict[str, Any]] = {}
    for message in messages:
        if not isinstance(message, ToolMessage):
            continue
        artifact = message.artifact
        if not isinstance(artifact, dict):
            continue
        passages = artifact.get("passages")
        if isinstance(passages, list):
            for number, passage in enumerate(passages, start=1):
                if isinstance(passage, dict):
                    numbered[number] = passage
    return numbered


def apply_citations(
    text: str, passages: dict[int, dict[str, Any]]
) -> tuple[str, list[CitedPassage]]:
    """Renumber the markers in ``text`` and describe the cited passages.

    Args:
        text: the answer, citing with ``[n]`` or ``[n, m]``.
        passages: passage by its number in the tool result.

    Returns:
        The text with markers renumbered 1..k in order of first use (passages
        of one article share a number), unknown numbers removed; and the cited
        articles in position order.
    """
    positions: dict[str, int] = {}
    cited: list[CitedPassage] = []

    def position_of(number: int) -> int | None:
        passage = passages.get(number)
        if passage is None:
            return None
        # One number per article: three chunks of one page are one source.
        key = str(passage.get("doc_id") or passage.get("chunk_id") or number)
        if key not in positions:
            positions[key] = len(positions) + 1
            cited.append(_describe(positions[key], passage))
        return positions[key]

    def rewrite(match: re.Match[str]) -> str:
        numbers = [int(n) for n in match.group(1).split(",")]
        found = [p for p in (position_of(n) for n in numbers) if p is not None]
        return "".join(f"[{p}]" for p in dict.fromkeys(found))

    rewritten = _MARKER.sub(rewrite, text)
    rewritten = _SPACE_BEFORE_PUNCT.sub(r"\1", rewritten)
    rewritten = _DOUBLE_SPACE.sub(" ", rewritten)
    return rewritten.strip(), cited


def _describe(position: int, passage: dict[str, Any]) -> CitedPassage:
    return CitedPassage(
        position=position,
        title=str(passage.get("title") or passage.get("doc_id") or "Article"),
        source=str(passage.get("source") or passage.get("doc_id") or ""),
        snippet=snippet(str(passage.get("text") or "")),
    )


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Collapse whitespace and cut at a word boundary to at most ``limit`` chars."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"
