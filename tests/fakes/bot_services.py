"""Services for host tests: the real app database, a tiny in-memory knowledge base.

The embedded search engine belongs to another part of the product; the host
only needs ``acount()`` for readiness, so a small fake stands in for it. The
host reads names and roles from the directory, so a small one stands in too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tools.db import create_engine, upgrade
from tools.directory.base import DirectoryUser
from tools.errors import BackendUnavailable, NotFound
from tools.knowledge.base import Chunk, Passage
from tools.registry import ToolContext, ToolManifest, ToolRegistry, ToolResult
from tools.services import Services
from tools.settings import Settings


@dataclass
class FakeKnowledge:
    """A knowledge backend with a fixed number of chunks; can be made to fail."""

    chunks: int = 3
    down: bool = False

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        return []

    async def aupsert(self, chunks: list[Chunk]) -> None:
        self.chunks += len(chunks)

    async def adelete_documents(self, doc_ids: list[str]) -> None:
        pass

    async def acount(self) -> int:
        if self.down:
            raise BackendUnavailable("fake knowledge index is down")
        return self.chunks

    async def aclose(self) -> None:
        pass


@dataclass
class FakeDirectory:
    """People by object id; only what the host reads (names and roles)."""

    users: dict[str, DirectoryUser] = field(default_factory=dict)

    def add(self, object_id: str, name: str, *roles: str) -> DirectoryUser:
        user = DirectoryUser(
            object_id=object_id,
            upn=f"{object_id}@contoso.example",
            display_name=name,
            roles=frozenset(roles),
        )
        self.users[object_id] = user
        return user

    async def aget_user(self, key: str) -> DirectoryUser:
        for user in self.users.values():
            if key in (user.object_id, user.upn):
                return user
        raise NotFound(f"no user {key}")

    async def afind_users(self, text: str, *, limit: int = 5) -> list[DirectoryUser]:
        words = text.lower().split()
        found = [
            u
            for u in self.users.values()
            if all(w in u.display_name.lower() for w in words)
        ]
        return found[:limit]

    async def aclose(self) -> None:
        pass


FAKE_TOOL = ToolManifest(
    name="fake_lookup",
    description="A stand-in tool so that the host has one enabled tool.",
)


async def _fake_impl(args: dict, ctx: ToolContext) -> ToolResult:
    return ToolResult("nothing to look up")


def services_factory(
    knowledge: FakeKnowledge | None = None,
    directory: FakeDirectory | None = None,
    *,
    tools: Sequence[ToolManifest] = (FAKE_TOOL,),
):
    """A ``services_factory`` for :func:`bot.app.create_app`: real DB, fake KB,
    and ``tools`` registered with an implementation that does nothing."""

    @asynccontextmanager
    async def factory(settings: Settings) -> AsyncIterator[Services]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            services = Services(
                settings,
                engine,
                knowledge or FakeKnowledge(),
                ToolRegistry(None),
                directory=directory,  # type: ignore[arg-type]
            )
            services.registry.services = services
            for manifest in tools:
                services.registry.register(manifest, _fake_impl)
            yield services
        finally:
            await engine.dispose()

    return factory
