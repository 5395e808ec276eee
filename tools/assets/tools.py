"""The asset tools: find catalogue items, request one, my requests, cancel,
give back access.

Everything that can be checked is checked before anyone is asked: the item
exists, the employee may have it (hardware eligibility and refresh period),
they do not hold it already, and no request for it is on its way. Only then
does the employee confirm on a card; the approvers come after (see
:mod:`tools.assets.workflow`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.approvals import ApprovalRequest, CardField
from tools.assets import requests as store
from tools.assets import workflow
from tools.assets.catalog import (
    AccessItem,
    Catalog,
    CatalogItem,
    HardwareItem,
    ItemMatch,
    find_items,
)
from tools.assets.requests import AssetRequest
from tools.errors import MissingDetail, ToolError
from tools.redact import clean_for_ticket as redact
from tools.registry import (
    NOTHING_DONE_KEY,
    USER_MESSAGE_KEY,
    ToolContext,
    ToolResult,
    conversation_of,
)

logger = logging.getLogger(__name__)

JUSTIFICATION_MAX = 500
_APPROVAL_WORDS = {
    "none": "no approval needed",
    "manager": "your manager approves it",
    "owner": "its owner approves it",
    "manager_and_owner": "your manager, then its owner, approve it",
}
_SHOWN = 5
_SHELF = 10
_KIND_WORDS = {
    "software": {
        "software",
        "apps",
        "app",
        "programs",
        "program",
        "licences",
        "licenses",
    },
    "hardware": {"hardware", "devices", "device", "equipment", "laptops", "monitors"},
    "access": {"access", "groups", "mailboxes", "sites", "lists"},
}
_HELD_STATES = ("queued", "fulfilled")
"""Requests that gave (or will give) the employee the item."""


async def find_catalog_items(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Catalogue items that match the employee's words."""
    catalog = _catalog(ctx)
    query = str(args.get("query") or "").strip()
    kind = (
        args.get("kind")
        if args.get("kind") in ("software", "hardware", "access")
        else None
    )
    matches = find_items(catalog, query, limit=_SHOWN, kind=kind) if query else []
    named_kind = kind or _kind_named(query)
    if not matches and named_kind is not None:
        # "What software can I get?" names a kind, not an item: the whole shelf.
        matches = [
            ItemMatch(item, 0.0) for item in catalog.items() if item.kind == named_kind
        ][:_SHELF]
    if not matches:
        text = (
            "Nothing in the catalogue matches that. Tell me more about what you "
            "need it for, or I can open a ticket for IT to look at it."
        )
        return ToolResult(text, {USER_MESSAGE_KEY: text, "items": []})
    lines = ["From the catalogue:"]
    for match in matches:
        lines.append(f"- {_describe(match.item)}")
    lines.append('Say "request <name>" and why you need it, and I\'ll start it.')
    text = "\n".join(lines)
    return ToolResult(
        text, {USER_MESSAGE_KEY: text, "items": [m.item.id for m in matches]}
    )


async def request_item(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Request a catalogue item: check, confirm on a card, then ask the approvers."""
    services = ctx.services
    requester = ctx.requester
    item = _resolve(_catalog(ctx), args)
    model = _model(item, args)
    user = await services.directory.aget_user(requester.object_id)
    await _check(ctx, item, user)

    justification = redact(" ".join(str(args.get("justification") or "").split()))
    justification = justification[:JUSTIFICATION_MAX]
    if item.approval != "none" and not justification:
        # Asked before the card, so the approver never gets a request without one.
        raise MissingDetail(
            "justification",
            field="justification",
            user_message=f"Why do you need {item.name}? Your approver sees the "
            "reason you give.",
        )
    cost = _cost(item, model)
    facts = [("Item", item.name)]
    if model is not None:
        facts.append(("Model", f"{model.name}: {model.spec}"))
    if cost:
        facts.append(("Cost", cost))
    facts.append(("Approval", _APPROVAL_WORDS[item.approval]))
    ctx.audit.action = f"request {item.name}"
    ctx.audit.subject_id = requester.object_id
    decision = await ctx.approve(
        ApprovalRequest(
            approval_id="",
            tool="request_item",
            title=f"Request {item.name}",
            action=f"Ask for {item.name}"
            + (f" ({model.name})" if model is not None else "")
            + ". Your approvers see the reason you give.",
            requester_id=requester.object_id,
            subject_id=requester.object_id,
            approver_id=requester.object_id,
            expires_at=datetime.now(UTC)
            + timedelta(minutes=services.settings.approval_ttl_minutes),
            facts=facts,
            fields=[
                CardField(
                    "justification",
                    "Why you need it",
                    justification,
                    multiline=True,
                    max_length=JUSTIFICATION_MAX,
                    required=item.approval != "none",
                )
            ],
        )
    )
    why = redact(decision.values.get("justification", justification).strip())
    why = why[:JUSTIFICATION_MAX]
    if item.approval != "none" and not why:
        raise MissingDetail(
            "justification",
            field="justification",
            user_message=f"Your approver needs a reason: why do you need {item.name}?",
        )
    request, created = await store.create_request(
        services.db,
        request_key=f"{ctx.thread_id or requester.object_id}:{decision.approval_id}",
        tenant_id=requester.tenant_id,
        requester_id=requester.object_id,
        requester_name=user.display_name,
        requester_upn=user.upn,
        conversation_id=conversation_of(ctx.thread_id),
        item_id=item.id,
        item_name=item.name,
        kind=item.kind,
        model_id=model.id if model is not None else None,
        justification=why,
        cost=cost,
    )
    if not created:
        text = f"{request.label} is already on its way: {store.STATUS_WORDS[request.status]}."
        return ToolResult(
            text,
            {USER_MESSAGE_KEY: text, "request": request.label, NOTHING_DONE_KEY: True},
        )
    told = await workflow.submit(services, request, item)
    return ToolResult(
        f"Created {request.label}. Tell the user exactly this: {told}",
        {USER_MESSAGE_KEY: told, "request": request.label},
    )


async def list_my_requests(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """The employee's asset requests and where each one is."""
    requests = await store.requests_of(
        ctx.services.db, ctx.requester.tenant_id, ctx.requester.object_id
    )
    if not requests:
        text = "You have no software, hardware or access requests."
        return ToolResult(text, {USER_MESSAGE_KEY: text})
    lines = ["Your requests:"] + [f"- {_line(r)}" for r in requests[:10]]
    text = "\n".join(lines)
    return ToolResult(text, {USER_MESSAGE_KEY: text})


async def cancel_request(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Cancel one of my requests while it still waits for approval."""
    services = ctx.services
    request = await _my_request(ctx, args)
    if request.status != "awaiting_approval":
        raise ToolError(
            f"cancel {request.label} in state {request.status}",
            user_message=f"{request.label} can't be cancelled any more: it is "
            f"{store.STATUS_WORDS[request.status]}. To give back access you no "
            "longer need, ask me to remove it.",
        )
    ctx.audit.action = f"cancel {request.label}"
    ctx.audit.subject_id = ctx.requester.object_id
    await ctx.approve(
        ApprovalRequest(
            approval_id="",
            tool="cancel_request",
            title=f"Cancel {request.label}",
            action=f"Withdraw your request for {request.item_name}; your approvers "
            "no longer need to decide.",
            requester_id=ctx.requester.object_id,
            subject_id=ctx.requester.object_id,
            approver_id=ctx.requester.object_id,
            expires_at=datetime.now(UTC)
            + timedelta(minutes=services.settings.approval_ttl_minutes),
            facts=[("Request", f"{request.label}: {request.item_name}")],
        )
    )
    if not await store.move(
        services.db, request.seq, "cancelled", origin=("awaiting_approval",)
    ):
        current = await store.get_request(services.db, request.seq)
        state = store.STATUS_WORDS[current.status] if current else "gone"
        text = f"{request.label} was decided meanwhile: {state}."
        return ToolResult(text, {USER_MESSAGE_KEY: text})
    await store.close_pending(services.db, request.seq)
    text = f"Cancelled {request.label} ({request.item_name})."
    return ToolResult(text, {USER_MESSAGE_KEY: text, "request": request.label})


async def return_access(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Give back software or access I no longer need: leave the item's group."""
    services = ctx.services
    item = _resolve(_catalog(ctx), args)
    group_ref = getattr(item, "group", None)
    if isinstance(item, HardwareItem) or group_ref is None:
        raise ToolError(
            f"return {item.id}: no group",
            user_message=f"{item.name} is not given back through me; I can open a "
            "ticket for IT to collect or remove it.",
            escalate=True,
        )
    group = await services.directory.aget_group(group_ref.key)
    me = ctx.requester.object_id
    if not await services.directory.ais_member(group.object_id, me):
        text = (
            f"You don't have {item.name}, so there is nothing to give back. To ask "
            f'for it, say "request {item.name}" and why you need it.'
        )
        return ToolResult(text, {USER_MESSAGE_KEY: text, NOTHING_DONE_KEY: True})
    if not group.membership_writable:
        raise ToolError(
            f"return {item.id}: group {group.display_name} is not writable",
            user_message=f"{item.name} has to be removed by IT support; I can open "
            "a ticket for it.",
            escalate=True,
        )
    ctx.audit.action = f"give back {item.name} (leave {group.display_name})"
    ctx.audit.subject_id = me
    await ctx.approve(
        ApprovalRequest(
            approval_id="",
            tool="return_access",
            title=f"Give back {item.name}",
            action=f"Remove you from {group.display_name}: you lose {item.name}. "
            "You can request it again later.",
            requester_id=me,
            subject_id=me,
            approver_id=me,
            expires_at=datetime.now(UTC)
            + timedelta(minutes=services.settings.approval_ttl_minutes),
            facts=[("Item", item.name), ("Group", group.display_name)],
        )
    )
    await services.directory.aremove_member(group.object_id, me)
    if await services.directory.ais_member(group.object_id, me):
        raise ToolError(
            f"return {item.id}: still a member after removal",
            user_message=f"I asked the directory to remove {item.name}, but you are "
            "still listed; I can open a ticket for IT support.",
            escalate=True,
        )
    text = f"Done: you no longer have {item.name}."
    return ToolResult(text, {USER_MESSAGE_KEY: text})


# -- checks -------------------------------------------------------------------------


async def _check(ctx: ToolContext, item: CatalogItem, user: Any) -> None:
    """Eligibility, the refresh period, what is held already, and duplicates."""
    services = ctx.services
    me = ctx.requester
    if isinstance(item, HardwareItem) and not item.eligible.allows(user):
        raise ToolError(
            f"{me.object_id} not eligible for {item.id}",
            user_message=f"{item.name} is not available for your role or "
            "department. If you need it anyway, I can open a ticket so IT can "
            "look at an exception.",
            escalate=False,
        )
    earlier = await store.requests_of(
        services.db, me.tenant_id, me.object_id, item_id=item.id, limit=50
    )
    waiting = next((r for r in earlier if r.status in store.OPEN), None)
    if waiting is not None:
        raise ToolError(
            f"duplicate of {waiting.label}",
            user_message=f"You already asked for {item.name}: {waiting.label} is "
            f"{store.STATUS_WORDS[waiting.status]}.",
            escalate=False,
        )
    if isinstance(item, HardwareItem) and item.refresh_months:
        since = datetime.now(UTC) - timedelta(days=30.44 * item.refresh_months)
        recent = next(
            (r for r in earlier if r.status in _HELD_STATES and r.created_at > since),
            None,
        )
        if recent is not None:
            raise ToolError(
                f"{item.id} refresh period",
                user_message=f"You got a {item.name.lower()} with {recent.label} on "
                f"{recent.created_at:%Y-%m-%d}; a new one is due "
                f"{item.refresh_months} months after that. If yours is broken, "
                "I can open a ticket for a repair or an exception.",
                escalate=False,
            )
    group_ref = getattr(item, "group", None)
    if group_ref is not None:
        try:
            group = await services.directory.aget_group(group_ref.key)
            held = await services.directory.ais_member(group.object_id, me.object_id)
        except Exception as exc:  # the check is a courtesy; approval still follows
            logger.warning(
                "could not check whether %s holds %s: %s", me.object_id, item.id, exc
            )
            held = False
        if held:
            raise ToolError(
                f"{me.object_id} already holds {item.id}",
                user_message=f"You already have {item.name}. If it doesn't work, "
                "tell me what you see.",
                escalate=False,
            )


def _kind_named(text: str) -> str | None:
    words = set(re.findall(r"[a-z]+", text.lower()))
    for kind, names in _KIND_WORDS.items():
        if words & names:
            return kind
    return None


def _catalog(ctx: ToolContext) -> Catalog:
    catalog = getattr(ctx.services, "catalog", None)
    if catalog is None:
        raise ToolError(
            "no asset catalogue loaded",
            user_message="Requests for software, hardware and access are not set "
            "up here yet. I can open a ticket instead.",
            escalate=True,
        )
    return catalog


def _resolve(catalog: Catalog, args: dict[str, Any]) -> CatalogItem:
    wanted = str(args.get("item") or "").strip()
    if not wanted:
        raise MissingDetail(
            "item",
            field="item",
            user_message="What do you need? Name the software, device or access.",
        )
    item = catalog.get(wanted.lower())
    if item is not None:
        return item
    matches = find_items(catalog, wanted, limit=3)
    if not matches:
        raise ToolError(
            f"no catalogue item for {wanted!r}",
            user_message=f'I couldn\'t find "{wanted}" in the catalogue. Tell me what '
            "you need it for, or I can open a ticket for IT to look at it.",
        )
    return matches[0].item


def _model(item: CatalogItem, args: dict[str, Any]) -> Any:
    if not isinstance(item, HardwareItem):
        return None
    wanted = str(args.get("model") or "").strip().lower()
    for model in item.models:
        if wanted and wanted in (model.id, model.name.lower()):
            return model
    return item.models[0]


def _cost(item: CatalogItem, model: Any) -> str | None:
    cost = model.cost if model is not None else getattr(item, "cost", None)
    return cost.describe() if cost is not None else None


def _describe(item: CatalogItem) -> str:
    parts = [f"**{item.name}** ({item.kind}): {item.description}"]
    cost = _cost(item, item.models[0] if isinstance(item, HardwareItem) else None)
    if cost:
        parts.append(f"Cost: {cost}.")
    parts.append(_APPROVAL_WORDS[item.approval].capitalize() + ".")
    if isinstance(item, AccessItem) and item.fulfilment == "queue":
        parts.append("IT support grants it by hand.")
    return " ".join(parts)


def _line(request: AssetRequest) -> str:
    line = f"{request.label}: {request.item_name}: {store.STATUS_WORDS[request.status]}"
    if request.ticket:
        line += f" (ticket {request.ticket})"
    if request.status == "rejected" and request.outcome:
        line += f' ("{request.outcome}")'
    return line


async def _my_request(ctx: ToolContext, args: dict[str, Any]) -> AssetRequest:
    """The request named by number or item words; only the caller's own."""
    wanted = str(args.get("request") or "").strip()
    mine = await store.requests_of(
        ctx.services.db, ctx.requester.tenant_id, ctx.requester.object_id, limit=50
    )
    seq = store.seq_of(wanted) if wanted else None
    if seq is not None:
        found = next((r for r in mine if r.seq == seq), None)
        if found is None:
            # Someone else's number is answered like a missing one.
            raise ToolError(
                f"no request {wanted} of {ctx.requester.object_id}",
                user_message=f"I can't find {wanted.upper()} among your requests; "
                'say "my requests" to see them.',
                escalate=False,
            )
    else:
        open_ones = [r for r in mine if r.status == "awaiting_approval"]
        words = wanted.lower()
        found = next(
            (r for r in open_ones if words and words in r.item_name.lower()),
            open_ones[0] if len(open_ones) == 1 else None,
        )
    if found is None:
        raise MissingDetail(
            "request",
            field="request",
            user_message='Which request? Give its number (REQ…); say "my requests" '
            "to see them.",
        )
    return found
