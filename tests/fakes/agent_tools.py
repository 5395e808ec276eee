"""Small tools and a tiny knowledge base for the agent's tests.

The real search tool lives in ``tools/knowledge``; these stand-ins keep its
contract (passages numbered ``[1]``, ``[2]``… in the text, and the same list
in the artifact) so the agent's tests do not depend on it.

The side-effecting fakes ask ``ctx.approve`` and then record in
``services.acted`` that they acted, so "acted exactly once" is assertable.
The recovery fakes carry the names and parameters of the real recovery tools.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.approvals import ApprovalRequest
from tools.errors import BackendUnavailable, ToolError
from tools.knowledge.base import Chunk, Passage
from tools.registry import ToolContext, ToolManifest, ToolRegistry, ToolResult
from tools.secrets import OneTimeSecret, SecretDrop, SecretValue

ARTICLES = [
    Chunk(
        chunk_id="vpn.md#0",
        doc_id="vpn.md",
        title="Connect to the company VPN",
        section="Windows",
        source="https://kb.example.com/vpn",
        text=(
            "The VPN lets you reach internal sites from home.\n"
            "To connect on Windows:\n"
            "1. Open the GlobalConnect app from the Start menu.\n"
            "2. Enter vpn.example.com as the portal.\n"
            "3. Sign in with your work account and approve the MFA prompt.\n"
            "If the VPN disconnects every few minutes, switch to a wired network."
        ),
    ),
    Chunk(
        chunk_id="printer.md#0",
        doc_id="printer.md",
        title="Printer shows as offline",
        section="",
        source="printer.md",
        text=(
            "A printer shows as offline when your laptop lost its connection "
            "to the print server. Restart the printer and wait two minutes. "
            "Then remove the printer in Settings and add it again from "
            "print.example.com. Toner and paper problems do not make a "
            "printer offline."
        ),
    ),
    Chunk(
        chunk_id="password.md#0",
        doc_id="password.md",
        title="Change or reset your password",
        section="Self-service",
        source="https://kb.example.com/password",
        text=(
            "You can reset a forgotten password yourself at "
            "passwordreset.example.com. Passwords expire every 90 days. "
            "IT support will never ask you for your password."
        ),
    ),
]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - {"the", "a", "my", "i", "to"}


@dataclass
class FakeKnowledge:
    """An in-memory KnowledgeBackend scoring by shared words."""

    chunks: list[Chunk] = field(default_factory=lambda: list(ARTICLES))
    down: bool = False
    queries: list[str] = field(default_factory=list)

    async def asearch(self, query: str, *, top: int = 5) -> list[Passage]:
        self.queries.append(query)
        if self.down:
            raise BackendUnavailable("fake knowledge is down")
        wanted = _words(query)
        scored = []
        for chunk in self.chunks:
            hits = len(wanted & _words(f"{chunk.title} {chunk.text}"))
            if hits:
                scored.append((hits, chunk))
        scored.sort(key=lambda s: (-s[0], s[1].chunk_id))
        return [
            Passage(c.chunk_id, c.doc_id, c.title, c.section, c.source, c.text, s)
            for s, c in scored[:top]
        ]

    async def aupsert(self, chunks: list[Chunk]) -> None:
        self.chunks.extend(chunks)

    async def adelete_documents(self, doc_ids: list[str]) -> None:
        self.chunks = [c for c in self.chunks if c.doc_id not in doc_ids]

    async def acount(self) -> int:
        return len(self.chunks)

    async def aclose(self) -> None:
        return None


async def search_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Search the fake knowledge base; same output shape as the real tool."""
    query = str(args["query"])
    passages = await ctx.services.knowledge.asearch(query, top=3)
    if not passages:
        return ToolResult("No passages found.", {"query": query, "passages": []})
    lines = [f"[{i}] {p.title}: {p.text}" for i, p in enumerate(passages, start=1)]
    artifact = {
        "query": query,
        "passages": [
            {
                "chunk_id": p.chunk_id,
                "doc_id": p.doc_id,
                "title": p.title,
                "section": p.section,
                "source": p.source,
                "text": p.text,
                "score": p.score,
            }
            for p in passages
        ],
    }
    return ToolResult("\n\n".join(lines), artifact)


async def ticket_status_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    number = int(args["ticket_number"])
    if number == 404:
        raise ToolError("no such ticket", user_message="There is no ticket 404.")
    who = ctx.requester.name or ctx.requester.object_id
    return ToolResult(f"Ticket INC{number:07d} for {who} is In progress.")


async def software_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    await ctx.approve(_request(ctx, "request_software", f"Request {args['software']}"))
    _acted(ctx, "request_software", args)
    return ToolResult(f"Requested {args['software']}.")


@dataclass(frozen=True, slots=True)
class Acted:
    """One side effect a fake tool performed."""

    tool: str
    args: dict[str, Any]
    requester_id: str


def _acted(ctx: ToolContext, tool: str, args: dict[str, Any]) -> None:
    ctx.services.acted.append(Acted(tool, dict(args), ctx.requester.object_id))


def _request(
    ctx: ToolContext, tool: str, title: str, *, subject: str | None = None
) -> ApprovalRequest:
    subject_id = subject or ctx.requester.object_id
    return ApprovalRequest(
        approval_id="",
        tool=tool,
        title=title,
        action=f"{title} for {subject_id}.",
        requester_id=ctx.requester.object_id,
        subject_id=subject_id,
        approver_id=ctx.requester.object_id,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        facts=[("Account", subject_id)],
    )


async def tap_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Issue a fake pass: approval, then the secret goes to ctx.reveal_once."""
    subject = args.get("user") or None
    await ctx.approve(
        _request(ctx, "issue_temporary_access_pass", "Issue a pass", subject=subject)
    )
    value = "TAP-" + secrets.token_hex(8)
    ctx.reveal_once(
        OneTimeSecret(
            label="Temporary Access Pass",
            value=SecretValue(value),
            subject_id=ctx.requester.object_id,
        )
    )
    _acted(ctx, "issue_temporary_access_pass", args)
    return ToolResult(
        "A Temporary Access Pass was issued. It is shown to the employee "
        "privately; never repeat it.",
        {"issued": True, "user_message": "A Temporary Access Pass was issued."},
    )


async def revoke_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    await ctx.approve(_request(ctx, "revoke_sessions", "Sign out everywhere"))
    _acted(ctx, "revoke_sessions", args)
    return ToolResult("All sign-in sessions were revoked.")


async def failing_action_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    await ctx.approve(_request(ctx, "set_temporary_password", "Set a password"))
    raise ToolError("back end refused", user_message="The directory refused it.")


async def sspr_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    return ToolResult("Reset your password at https://passwordreset.example.com.")


async def diagnose_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    return ToolResult("The account is enabled and has two sign-in methods.")


async def crash_impl(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    raise RuntimeError("bug in a tool")


SEARCH = ToolManifest(
    name="search_knowledge",
    description=(
        "Search the IT knowledge base for how-to articles and fixes. Call it for "
        "any IT question or problem. Returns numbered passages [1], [2]."
    ),
    examples=[
        "How do I connect to the VPN?",
        "My printer is offline",
        "Outlook keeps asking for my password",
    ],
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string", "description": "The question."}},
        "required": ["query"],
    },
)
TICKET_STATUS = ToolManifest(
    name="ticket_status",
    description=(
        "Look up the state of one of the employee's help desk tickets by its "
        "number. Returns the ticket's state."
    ),
    examples=[
        "What is the status of my ticket?",
        "Any update on ticket 1234?",
        "Check my incident",
    ],
    parameters={
        "type": "object",
        "properties": {
            "ticket_number": {
                "type": "integer",
                "description": "The ticket number, e.g. 1234.",
            }
        },
        "required": ["ticket_number"],
    },
)
REQUEST_SOFTWARE = ToolManifest(
    name="request_software",
    description=(
        "Request a licensed application from the software catalogue for the "
        "employee. Needs approval. Returns the request number."
    ),
    examples=["I need Visio", "Can I get Adobe Acrobat?", "Install Project for me"],
    parameters={
        "type": "object",
        "properties": {
            "software": {
                "type": "string",
                "description": "Which application",
                "enum": ["Microsoft Visio", "Microsoft Project", "Adobe Acrobat Pro"],
            }
        },
        "required": ["software"],
    },
    side_effects=True,
)
CRASHING = ToolManifest(
    name="crashing_tool",
    description="A tool with a bug in it, used to test how crashes are reported.",
    examples=["run the broken diagnostic"],
)


_USER = {
    "type": "string",
    "description": (
        "The person to act on: UPN, e-mail or name. Leave out when the "
        "employee means themselves."
    ),
}
_REASON = {"type": "string", "description": "Why, in the employee's words."}
_RECOVERY_PARAMETERS = {
    "type": "object",
    "properties": {"user": _USER, "reason": _REASON},
}
DIAGNOSE = ToolManifest(
    name="diagnose_sign_in",
    description=(
        "Check why someone cannot sign in: whether the account is enabled or "
        "locked, when the password last changed, which sign-in methods exist."
    ),
    examples=["I can't sign in", "Why can't I log in?", "Is my account locked?"],
    parameters=_RECOVERY_PARAMETERS,
)
SSPR = ToolManifest(
    name="self_service_reset",
    description=(
        "Give the employee the self-service password reset link and walk them "
        "through resetting their own password."
    ),
    examples=["I forgot my password", "How do I reset my password?"],
    parameters=_RECOVERY_PARAMETERS,
)
TAP = ToolManifest(
    name="issue_temporary_access_pass",
    description=(
        "Issue a Temporary Access Pass so someone locked out can sign in and "
        "register new sign-in methods. Needs approval."
    ),
    examples=[
        "Reset my password",
        "I'm locked out and need a temporary access pass",
        "Reset Dana Park's password",
    ],
    parameters=_RECOVERY_PARAMETERS,
    side_effects=True,
)
TEMP_PASSWORD = ToolManifest(
    name="set_temporary_password",
    description=(
        "Set a temporary password that must be changed at the next sign-in. "
        "Needs approval."
    ),
    examples=["Give me a temporary password", "Set a temporary password for Dana"],
    parameters=_RECOVERY_PARAMETERS,
    side_effects=True,
)
REVOKE = ToolManifest(
    name="revoke_sessions",
    description=(
        "Sign someone out of every device and session, e.g. after a lost phone "
        "or a leaked password. Needs approval."
    ),
    examples=["I lost my phone", "I think someone has my password"],
    parameters=_RECOVERY_PARAMETERS,
    side_effects=True,
)


@dataclass
class FakeServices:
    """The parts of Services the agent touches."""

    settings: Any
    knowledge: FakeKnowledge
    registry: ToolRegistry
    db: Any = None
    secrets: SecretDrop = field(default_factory=SecretDrop)
    acted: list[Acted] = field(default_factory=list)


def make_services(
    settings: Any,
    *,
    knowledge: FakeKnowledge | None = None,
    db: Any = None,
    recovery: bool = False,
) -> Any:
    """A services object whose registry holds the fake tools above.

    Args:
        settings: the settings the agent runs with.
        knowledge: the knowledge base; the three articles above by default.
        db: the app database engine (approvals need it).
        recovery: also register the recovery fakes.
    """
    registry = ToolRegistry(None)
    services = FakeServices(settings, knowledge or FakeKnowledge(), registry, db)
    registry.services = services
    registry.register(SEARCH, search_impl)
    registry.register(TICKET_STATUS, ticket_status_impl)
    registry.register(REQUEST_SOFTWARE, software_impl)
    registry.register(CRASHING, crash_impl)
    if recovery:
        registry.register(DIAGNOSE, diagnose_impl)
        registry.register(SSPR, sspr_impl)
        registry.register(TAP, tap_impl)
        registry.register(TEMP_PASSWORD, failing_action_impl)
        registry.register(REVOKE, revoke_impl)
    return services
