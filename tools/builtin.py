"""The built-in tool implementations, by the name manifests give in ``impl``."""

from __future__ import annotations

from tools.knowledge.tool import search_knowledge
from tools.registry import ToolImpl

BUILTIN_TOOLS: dict[str, ToolImpl] = {
    "search_knowledge": search_knowledge,
}
