"""What happens to an asset request after the employee confirmed it.

The steps, each decided once in the store (:mod:`tools.assets.requests`):

1. :func:`submit` asks the first approver (the manager from the directory,
   or the item's owner), or goes straight to fulfilment when the item needs
   no approval. The approver hears through the ticket-news pipeline
   (:mod:`bot.notify`): a card in their 1:1 chat with the bot, sent again
   when it fails, and parked until they first write to the bot when there
   is no chat yet (see the README for installing the app for approvers).
2. :func:`on_decision` records an approver's click: a rejection ends the
   request; an approval asks the next approver (the owner after the manager)
   or fulfils.
3. :func:`fulfil` adds the employee to the item's group through the
   directory and reads it back; a step that cannot be done, and every
   hardware request, becomes a ticket for the item's queue, never a claim of
   success.
4. :func:`run_reminders` reminds an approver once, then asks the approver's
   manager as well; whoever decides first decides.

Every step is in the audit trail, and the employee hears the outcome in the
chat the request came from.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.assets import requests as store
from tools.assets.catalog import CatalogItem, HardwareItem
from tools.assets.requests import AssetRequest, PendingApproval
from tools.audit import AuditEvent, AuditOutcome, arecord
from tools.db import get_reference
from tools.directory.base import DirectoryUser
from tools.errors import HelpdeskError
from tools.services import Services
from tools.tickets.base import Caller, TicketDraft, TicketEvent
from tools.tickets.events import record_event

logger = logging.getLogger(__name__)

TOOL = "request_item"


async def submit(services: Services, request: AssetRequest, item: CatalogItem) -> str:
    """Start a confirmed request on its way.

    Returns:
        What to tell the employee now.
    """
    if item.approval == "none":
        await store.move(
            services.db, request.seq, "approved", origin=("awaiting_approval",)
        )
        await _audit(services, request, "approved: no approval needed", "success")
        return await fulfil(services, request, item, tell=False)
    first_role = "owner" if item.approval == "owner" else "manager"
    approver = await _approver(services, request, item, first_role)
    if approver is None:
        return await _to_queue_for_approval(services, request, item, first_role)
    await _ask(services, request, approver, step=1, role=first_role)
    also = await _fallback_for(services, request, approver, step=1)
    return (
        f"{request.label}: your request for {item.name} is waiting for "
        f"{approver.display_name} to approve it"
        + (
            f" (or {also.display_name}, as they have not used me in Teams yet)"
            if also
            else ""
        )
        + ". I'll tell you here when they decide."
    )


async def on_decision(
    services: Services,
    approval_seq: int,
    *,
    by: str,
    approved: bool,
    comment: str | None,
) -> str:
    """An approver's click. Returns what to tell the person who clicked.

    Only the approver asked can decide; the first decision of a step counts,
    a second click (or a re-sent activity) changes nothing.
    """
    approval = await store.get_approval(services.db, approval_seq)
    if approval is None:
        return "I can't use that card."
    request = await store.get_request(services.db, approval.request_seq)
    if request is None:
        return "I can't use that card."
    if approval.approver_id != by:
        return f"Only {approval.approver_name} can decide this request."
    if approval.status != "pending" or request.status != "awaiting_approval":
        return f"{request.label} was already decided: {store.STATUS_WORDS[request.status]}."
    note = (comment or "").strip()[:500] or None
    if not await store.decide(
        services.db, approval_seq, approved=approved, comment=note
    ):
        return f"{request.label} was already decided."
    verdict = "approved" if approved else "rejected"
    await _audit(
        services,
        request,
        f"{verdict} by {approval.approver_name} ({approval.role})"
        + (f": {note}" if note else ""),
        "success" if approved else "declined",
        actor=by,
    )
    item = services.catalog.get(request.item_id) if services.catalog else None
    if not approved:
        await store.move(
            services.db,
            request.seq,
            "rejected",
            origin=("awaiting_approval",),
            outcome=note,
        )
        said = f"{approval.approver_name} rejected your request {request.label} for {request.item_name}"
        await tell_employee(services, request, said + (f': "{note}"' if note else "."))
        return f"Rejected {request.label}. {request.requester_name} has been told."
    if item is None:
        await store.move(
            services.db,
            request.seq,
            "failed",
            origin=("awaiting_approval",),
            outcome="the item is no longer in the catalogue",
        )
        await tell_employee(
            services,
            request,
            f"{request.label} was approved, but {request.item_name} is no longer "
            "in the catalogue; please ask IT support.",
        )
        return f"Approved {request.label}, but the item is no longer in the catalogue."
    if item.approval == "manager_and_owner" and approval.step == 1:
        owner = await _approver(services, request, item, "owner")
        if owner is not None:
            await _ask(services, request, owner, step=2, role="owner")
            await _fallback_for(services, request, owner, step=2)
            await tell_employee(
                services,
                request,
                f"{approval.approver_name} approved {request.label}; it now waits "
                f"for {owner.display_name}, who owns {item.name}.",
            )
            return f"Approved {request.label}; {owner.display_name} decides next."
    if not await store.move(
        services.db, request.seq, "approved", origin=("awaiting_approval",)
    ):
        return f"{request.label} was already decided."
    told = await fulfil(services, request, item, tell=False)
    said = f' ("{note}")' if note else ""
    await tell_employee(
        services,
        request,
        f"{approval.approver_name} approved {request.label}{said}. {told}",
    )
    return f"Approved {request.label}. {request.requester_name} has been told."


async def fulfil(
    services: Services, request: AssetRequest, item: CatalogItem, *, tell: bool
) -> str:
    """Grant an approved request, or pass it to its queue. Returns what
    happened, in the employee's words."""
    if isinstance(item, HardwareItem) or item.fulfilment == "queue":
        said = await _queue(services, request, item, why="")
    else:
        said = await _add_to_group(services, request, item)
    if tell:
        await tell_employee(services, request, said)
    return said


async def run_reminders(services: Services, *, now: datetime | None = None) -> int:
    """Remind approvers who have not decided; escalate those reminded already.

    Returns:
        How many reminders or escalations were sent.
    """
    now = now or datetime.now(UTC)
    wait = timedelta(hours=services.settings.asset_remind_hours)
    sent = 0
    for approval in await store.overdue_approvals(
        services.db, older_than=wait, now=now
    ):
        request = await store.get_request(services.db, approval.request_seq)
        if request is None or request.status != "awaiting_approval":
            continue
        if not await store.mark_reminded(services.db, approval.seq, now):
            continue  # another replica took it
        if approval.reminded_at is None:
            await _notify_approver(services, request, approval, reminder=1)
            await _audit(
                services, request, f"reminded {approval.approver_name}", "success"
            )
            sent += 1
            continue
        if approval.role in ("escalated", "fallback"):
            continue
        boss = await _manager_of(services, approval.approver_id)
        if boss is None:
            continue
        await _ask(services, request, boss, step=approval.step, role="escalated")
        await _audit(
            services,
            request,
            f"escalated to {boss.display_name}: {approval.approver_name} did not decide",
            "success",
        )
        sent += 1
    return sent


async def tell_employee(services: Services, request: AssetRequest, text: str) -> None:
    """Send the employee news of their request, in the chat it came from."""
    event = TicketEvent(
        event_id=f"asset-{request.seq}-{datetime.now(UTC).timestamp():.6f}",
        kind="asset_news",
        reference=request.label,
        number=request.label,
        caller_id=request.requester_id,
        tenant_id=request.tenant_id,
        text=text,
        conversation_id=request.conversation_id,
    )
    await record_event(services.db, event)


def card_text(request: AssetRequest) -> str:
    """The approval card's facts, one ``Label: value`` per line."""
    lines = [
        f"Who: {request.requester_name}",
        f"What: {request.item_name}",
        f"Why: {request.justification or '(no reason given)'}",
    ]
    if request.cost:
        lines.append(f"Cost: {request.cost}")
    return "\n".join(lines)


# -- steps ----------------------------------------------------------------------------


async def _approver(
    services: Services, request: AssetRequest, item: CatalogItem, role: str
) -> DirectoryUser | None:
    try:
        if role == "owner":
            found = await services.directory.aget_user(item.owner or "")
            if found.object_id != request.requester_id:
                return found
            # Nobody approves their own request: the owner's manager does.
            logger.info("%s: the owner asks; their manager approves", request.label)
        return await services.directory.aget_manager(request.requester_id)
    except HelpdeskError as exc:
        logger.warning("no %s to approve %s: %s", role, request.label, exc)
        return None


async def _fallback_for(
    services: Services, request: AssetRequest, approver: DirectoryUser, *, step: int
) -> DirectoryUser | None:
    """Ask the configured fallback approver too when ``approver`` has no chat
    with the bot, so the card cannot reach them until they first write to it.

    Returns:
        The fallback approver when asked.
    """
    wanted = services.settings.asset_fallback_approver
    if not wanted:
        return None
    reachable = await get_reference(
        services.db, tenant_id=request.tenant_id, user_object_id=approver.object_id
    )
    if reachable is not None:
        return None
    try:
        fallback = await services.directory.aget_user(wanted)
    except HelpdeskError as exc:
        logger.error(
            "HELPDESK_ASSET_FALLBACK_APPROVER %s cannot be found: %s", wanted, exc
        )
        return None
    if fallback.object_id in (approver.object_id, request.requester_id):
        return None
    await _ask(services, request, fallback, step=step, role="fallback")
    return fallback


async def _manager_of(services: Services, user_id: str) -> DirectoryUser | None:
    try:
        return await services.directory.aget_manager(user_id)
    except HelpdeskError:
        return None


async def _ask(
    services: Services,
    request: AssetRequest,
    approver: DirectoryUser,
    *,
    step: int,
    role: str,
) -> None:
    approval, created = await store.ask(
        services.db,
        request.seq,
        step=step,
        role=role,  # type: ignore[arg-type]
        approver_id=approver.object_id,
        approver_name=approver.display_name,
    )
    if created:
        await _notify_approver(services, request, approval, reminder=0)
        await _audit(
            services,
            request,
            f"asked {approver.display_name} ({role}) to approve",
            "success",
        )


async def _notify_approver(
    services: Services,
    request: AssetRequest,
    approval: PendingApproval,
    *,
    reminder: int,
) -> None:
    event = TicketEvent(
        event_id=f"asset-approval-{approval.seq}-{reminder}",
        kind="asset_approval",
        reference=str(approval.seq),
        number=request.label,
        caller_id=approval.approver_id,
        tenant_id=request.tenant_id,
        text=card_text(request),
        author="reminder" if reminder else approval.role,
    )
    await record_event(services.db, event)


READ_BACK_WAITS_S = (0.0, 0.5, 1.5)
"""Pauses before each read-back of a new membership: the directory may take a
moment to show it, and a missed read-back sends the request to a person."""


async def _reads_back(directory: Any, group_id: str, user_id: str) -> bool:
    for wait in READ_BACK_WAITS_S:
        if wait:
            await asyncio.sleep(wait)
        if await directory.ais_member(group_id, user_id):
            return True
    return False


async def _add_to_group(
    services: Services, request: AssetRequest, item: CatalogItem
) -> str:
    group_ref = getattr(item, "group", None)
    directory = services.directory
    try:
        group = await directory.aget_group(group_ref.key)  # type: ignore[union-attr]
        if not group.membership_writable:
            return await _queue(
                services,
                request,
                item,
                why=f"the directory cannot change the members of {group.display_name}",
            )
        await directory.aadd_member(group.object_id, request.requester_id)
        if not await _reads_back(directory, group.object_id, request.requester_id):
            raise RuntimeError("the membership did not read back")
    except Exception as exc:  # any failure: no claim of success, a person takes it
        # The directory's request id is what its vendor's support asks for.
        request_id = getattr(exc, "request_id", None)
        logger.warning(
            "automatic fulfilment of %s failed: %s (request id %s)",
            request.label,
            exc,
            request_id or "-",
        )
        await _audit(
            services,
            request,
            f"automatic step failed: {exc}"[:500],
            "failed",
            request_id=request_id,
        )
        return await _queue(
            services, request, item, why=f"the automatic step failed ({exc})"
        )
    outcome = f"added to {group.display_name}"
    await store.move(
        services.db, request.seq, "fulfilled", origin=("approved",), outcome=outcome
    )
    await _audit(services, request, f"fulfilled: {outcome}", "success")
    return (
        f"Done: you now have {item.name}. It can take up to an hour to show up in "
        "your apps; sign out and in again if it does not."
    )


async def _queue(
    services: Services, request: AssetRequest, item: CatalogItem, *, why: str
) -> str:
    queue = item.queue or services.settings.ticket_default_group
    lines = [
        f"Asset request {request.label}: {item.name}" + _model_words(item, request),
        card_text(request),
        f"Requester UPN: {request.requester_upn or '(unknown)'}",
    ]
    if why:
        lines.append(f"Why this came to a person: {why}.")
    if isinstance(item, HardwareItem):
        lines.append("Ship to the requester's office; confirm the address with them.")
    draft = TicketDraft(
        idempotency_key=f"asset-request-{request.seq}",
        caller=Caller(
            object_id=request.requester_id,
            tenant_id=request.tenant_id,
            upn=request.requester_upn,
            name=request.requester_name,
        ),
        short_description=f"Fulfil {request.label}: {item.name}"[:160],
        description="\n".join(lines),
        category="hardware" if isinstance(item, HardwareItem) else "software",
        conversation_id=request.conversation_id,
        assignment_group=queue,
    )
    if services.tickets is None:
        await store.move(
            services.db,
            request.seq,
            "failed",
            origin=("approved",),
            outcome="no ticket system",
        )
        return f"{request.label} is approved, but I could not pass it on; please ask IT support."
    try:
        ticket = await services.tickets.acreate(draft)
    except Exception as exc:
        logger.error("fulfilment ticket for %s failed: %s", request.label, exc)
        await store.move(
            services.db,
            request.seq,
            "failed",
            origin=("approved",),
            outcome=str(exc)[:500],
        )
        await _audit(services, request, "fulfilment ticket failed", "failed")
        return (
            f"{request.label} is approved, but I could not open the fulfilment "
            "ticket; IT support has been alerted in the logs. Please ask them."
        )
    await store.move(
        services.db,
        request.seq,
        "queued",
        origin=("approved",),
        outcome=why or f"sent to {queue}",
        ticket=ticket.label,
    )
    await _audit(
        services, request, f"fulfilment ticket {ticket.label} for {queue}", "success"
    )
    if why:
        return (
            f"I couldn't grant {item.name} automatically, so {ticket.label} went to "
            f"{queue}, who will do it and tell you."
        )
    return f"{ticket.label} went to {queue}, who will get {item.name} to you and keep you posted."


def _model_words(item: CatalogItem, request: AssetRequest) -> str:
    if not isinstance(item, HardwareItem) or not request.model_id:
        return ""
    model = next((m for m in item.models if m.id == request.model_id), None)
    return f", {model.name} ({model.spec})" if model else f" ({request.model_id})"


async def _to_queue_for_approval(
    services: Services, request: AssetRequest, item: CatalogItem, role: str
) -> str:
    """No approver in the directory: a person at the item's queue decides."""
    await store.move(
        services.db, request.seq, "approved", origin=("awaiting_approval",)
    )
    said = await _queue(
        services,
        request,
        item,
        why=f"no {role} in the directory to approve it; check approval first",
    )
    return said


async def _audit(
    services: Services,
    request: AssetRequest,
    detail: str,
    outcome: AuditOutcome,
    *,
    actor: str | None = None,
    request_id: str | None = None,
) -> None:
    event = AuditEvent(
        at=datetime.now(UTC),
        tenant_id=request.tenant_id,
        actor_id=actor or request.requester_id,
        subject_id=request.requester_id,
        tool=TOOL,
        action=f"{request.label} {request.item_name}",
        outcome=outcome,
        backend_request_id=request_id,
        detail=detail[:500],
    )
    try:
        await arecord(services.db, event)
    except Exception:
        logger.exception("could not write the audit record of %s", request.label)
