"""Who is asking: the requester, taken from the activity and the directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

from tools.errors import PermissionDenied

_CONFIG_KEY = "requester"


@dataclass(frozen=True, slots=True)
class Requester:
    """The person a turn acts for. Never filled from model output.

    Attributes:
        object_id: Entra ID object id (``aadObjectId``), or the channel user id
            when the channel has none (local chat).
        tenant_id: Entra tenant the activity came from.
        upn: user principal name, when known.
        name: display name, for greetings and tickets.
        roles: directory roles that tools check in code.
    """

    object_id: str
    tenant_id: str
    upn: str | None = None
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    def to_config(self) -> dict[str, Any]:
        """Return the ``configurable`` entry that carries this requester."""
        return {_CONFIG_KEY: self}


def requester_from_config(config: RunnableConfig | None) -> Requester:
    """Read the requester a tool acts for from the run config.

    Raises:
        PermissionDenied: the run carries no requester (a tool was called
            outside a turn).
    """
    configurable = (config or {}).get("configurable") or {}
    requester = configurable.get(_CONFIG_KEY)
    if not isinstance(requester, Requester):
        raise PermissionDenied("tool called without a requester in the run config")
    return requester
