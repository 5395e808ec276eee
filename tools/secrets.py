"""One-time secrets (passes, temporary passwords) kept out of every store.

A tool that creates a secret hands it to ``ctx.reveal_once``; the value lives
only in this process's memory until the host shows it once, in a 1:1 chat, and
then it is gone. It never enters tool output, graph state, checkpoints, logs,
analytics, tickets or the audit trail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime


class SecretValue:
    """A string that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The plain value; call only where it is shown to its owner."""
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "********"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a one-time secret cannot be pickled or serialised")


@dataclass(frozen=True, slots=True)
class OneTimeSecret:
    """A secret to show once, with what it is and how long it lasts."""

    label: str
    """E.g. "Temporary Access Pass"."""
    value: SecretValue
    subject_id: str
    """Whose secret it is: shown only to this person, in a 1:1 chat."""
    expires_at: datetime | None = None
    instructions: str = ""
    """What to do with it, e.g. "Sign in at https://aka.ms/mysecurityinfo"."""


@dataclass
class SecretDrop:
    """Secrets waiting to be shown, per thread, in this process only.

    Warning:
        Process memory by design: a secret created in one replica is shown by
        the same replica at the end of the same turn. If the process dies in
        between, the secret is lost and the employee must ask again; that is
        safer than storing it.
    """

    _pending: dict[str, list[OneTimeSecret]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, thread_id: str, secret: OneTimeSecret) -> None:
        with self._lock:
            self._pending.setdefault(thread_id, []).append(secret)

    def take(self, thread_id: str) -> list[OneTimeSecret]:
        """Remove and return the thread's secrets (each is taken once)."""
        with self._lock:
            return self._pending.pop(thread_id, [])
