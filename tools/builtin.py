"""The built-in tool implementations, by the name manifests give in ``impl``."""

from __future__ import annotations

from tools.assets.tools import (
    cancel_request,
    find_catalog_items,
    list_my_requests,
    request_item,
    return_access,
)
from tools.handoff.tool import handoff_to_person
from tools.knowledge.tool import search_knowledge
from tools.recovery import (
    diagnose_sign_in,
    issue_temporary_access_pass,
    revoke_sessions,
    self_service_reset,
    set_temporary_password,
)
from tools.registry import ToolImpl
from tools.tickets.tools import (
    comment_on_ticket,
    create_ticket,
    list_my_tickets,
    ticket_status,
    update_ticket,
)

BUILTIN_TOOLS: dict[str, ToolImpl] = {
    "search_knowledge": search_knowledge,
    "diagnose_sign_in": diagnose_sign_in,
    "self_service_reset": self_service_reset,
    "issue_temporary_access_pass": issue_temporary_access_pass,
    "set_temporary_password": set_temporary_password,
    "revoke_sessions": revoke_sessions,
    "create_ticket": create_ticket,
    "ticket_status": ticket_status,
    "list_my_tickets": list_my_tickets,
    "comment_on_ticket": comment_on_ticket,
    "update_ticket": update_ticket,
    "handoff_to_person": handoff_to_person,
    "find_catalog_items": find_catalog_items,
    "request_item": request_item,
    "list_my_requests": list_my_requests,
    "cancel_request": cancel_request,
    "return_access": return_access,
}
