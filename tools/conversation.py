"""What a tool may know of the conversation: a redacted transcript and what was tried.

Only tools whose manifest says ``conversation: true`` receive it (the ticket
tools); a knowledge search or an admin's HTTP tool never sees the chat. The
agent builds it from the thread's messages; every line has passed through
:func:`tools.redact.redact`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONVERSATION_KEY = "helpdesk_conversation"
"""Run-config key of the :class:`Conversation` payload a tool call receives."""

MAX_LINES = 60
MAX_LINE_CHARS = 1200


@dataclass(frozen=True, slots=True)
class Conversation:
    """The conversation so far, as a ticket would carry it.

    Attributes:
        lines: (speaker, text) pairs, oldest first, secrets redacted.
        tried: what the copilot already did, one plain sentence each
            ("Showed the article 'VPN: fix common errors'").
        conversation_id: the host's conversation id, to link back to it.
    """

    lines: list[tuple[str, str]] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    conversation_id: str | None = None

    @property
    def employee_lines(self) -> list[str]:
        """What the employee wrote, oldest first."""
        return [text for speaker, text in self.lines if speaker != _BOT]

    def transcript(self) -> str:
        """``Speaker: text`` lines, as a technician reads them."""
        return "\n".join(f"{_name(speaker)}: {text}" for speaker, text in self.lines)

    def to_payload(self) -> dict[str, Any]:
        return {
            "lines": [list(line) for line in self.lines],
            "tried": list(self.tried),
            "conversation_id": self.conversation_id,
        }

    @classmethod
    def from_payload(cls, data: Any) -> Conversation | None:
        if not isinstance(data, dict):
            return None
        return cls(
            lines=[(str(s), str(t)) for s, t in data.get("lines") or []],
            tried=[str(t) for t in data.get("tried") or []],
            conversation_id=data.get("conversation_id"),
        )


_BOT = "\x00bot"
"""The speaker key of the copilot's own lines (a name no person has)."""
BOT_SPEAKER = _BOT


def _name(speaker: str) -> str:
    return "Copilot" if speaker == _BOT else speaker
