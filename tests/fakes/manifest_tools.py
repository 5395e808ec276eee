"""The shipped tool manifests as LangChain tools that do nothing, so the
offline model can be asked what it would call, without back ends.

Each tool carries the metadata the registry gives the model (examples,
side effects, conversation, summary); its body returns an empty string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.tools import StructuredTool

from tools.registry import load_manifest
from tools.settings import PROJECT_ROOT

MANIFESTS = PROJECT_ROOT / "manifests" / "tools"


def manifest_tool(path: Path) -> StructuredTool:
    """The manifest at ``path`` as a tool with an empty body."""
    manifest = load_manifest(path)

    async def run(**_: Any) -> str:
        return ""

    return StructuredTool.from_function(
        coroutine=run,
        name=manifest.name,
        description=manifest.description,
        args_schema=manifest.parameters,
        metadata={
            "examples": manifest.examples,
            "side_effects": manifest.side_effects,
            "conversation": manifest.conversation,
            "summary": manifest.summary,
        },
    )


def shipped_tool(name: str) -> StructuredTool:
    """One shipped tool by name (``request_item``)."""
    return manifest_tool(MANIFESTS / f"{name}.yaml")


def shipped_tools() -> list[StructuredTool]:
    """Every shipped tool, in file-name order."""
    return [manifest_tool(p) for p in sorted(MANIFESTS.glob("*.yaml"))]
