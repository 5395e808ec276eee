"""A record of the connects and name lookups a test made, to prove none left."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.service_url import is_loopback_host


@dataclass
class OutboundAttempts:
    """Every connect and name lookup made during a test, by any code in it."""

    connects: list[Any] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def outside(self) -> list[Any]:
        """Attempts aimed anywhere but loopback (or a Unix socket)."""
        return [a for a in self.connects if not _loopback_address(a)] + [
            h for h in self.lookups if not is_loopback_host(h)
        ]


def _loopback_address(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # a Unix socket path
    return is_loopback_host(str(address[0]))
