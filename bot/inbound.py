"""Our own small types for what arrives from Teams, read from the activity JSON.

The handler works on these, never on the SDK's classes, so that a second host
(another SDK) only needs a new adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.service_url import service_url_host
from tools.errors import InvalidInput

InboundKind = Literal["message", "members_added", "feedback", "other"]


@dataclass(frozen=True, slots=True)
class Mention:
    """An ``<at>`` mention entity: who was mentioned and the markup used."""

    id: str
    name: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One activity, reduced to what the handler needs.

    Attributes:
        kind: what the handler should do with it.
        activity_id: the channel's id of the activity ("" when absent).
        tenant_id: Entra tenant (``channelData.tenant.id`` or
            ``conversation.tenantId``); "" when the channel sends none.
        conversation_id: the conversation's id.
        conversation_type: ``personal``, ``groupChat`` or ``channel``.
        user_id: the sender's Entra object id, or their channel id.
        user_name: the sender's display name.
        bot_id: the recipient (this bot) as the channel knows it.
        text: the raw text, or None.
        value: the ``value`` payload (card submits, invokes), or None.
        reply_to_id: the activity this one answers (a card), or None.
        attachment_types: content types of the attachments.
        mentions: the mention entities.
        members_added: ids of members added (conversationUpdate).
        reference: the Bot Framework conversation reference, as JSON.
    """

    kind: InboundKind
    activity_id: str
    tenant_id: str
    conversation_id: str
    conversation_type: str
    user_id: str
    user_name: str | None
    bot_id: str
    text: str | None = None
    value: Any = None
    reply_to_id: str | None = None
    attachment_types: tuple[str, ...] = ()
    mentions: tuple[Mention, ...] = ()
    members_added: tuple[str, ...] = ()
    reference: dict[str, Any] = field(default_factory=dict)
    invoke_name: str | None = None

    @property
    def dedupe_key(self) -> str:
        """Tenant + conversation + activity id: the same for every re-send."""
        return f"act:{self.tenant_id}:{self.conversation_id}:{self.activity_id}"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_activity(body: Any) -> Inbound:
    """Read an activity's JSON into :class:`Inbound`.

    Args:
        body: the decoded JSON body of ``POST /api/messages``.

    Raises:
        InvalidInput: the body is not a Bot Framework activity (no ``type``,
            conversation, sender, ``serviceUrl``, or a message without ``id``);
            the message names the field.
    """
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object (a Bot Framework activity)")
    activity_type = body.get("type")
    if not isinstance(activity_type, str) or not activity_type:
        raise InvalidInput("not a Bot Framework activity: 'type' is missing")
    conversation = _dict(body.get("conversation"))
    if not _str(conversation.get("id")):
        raise InvalidInput("not a Bot Framework activity: 'conversation.id' is missing")
    if not isinstance(body.get("from"), dict):
        raise InvalidInput("not a Bot Framework activity: 'from' is missing")
    sender = body["from"]
    if not _str(sender.get("id")):
        raise InvalidInput("not a Bot Framework activity: 'from.id' is missing")
    if activity_type == "message" and not _str(body.get("id")):
        # Without an id a re-send cannot be told from a new message.
        raise InvalidInput("not a Bot Framework activity: 'id' is missing")
    service_url_host(body.get("serviceUrl"))

    recipient = _dict(body.get("recipient"))
    channel_data = _dict(body.get("channelData"))
    tenant_id = _str(_dict(channel_data.get("tenant")).get("id")) or _str(
        conversation.get("tenantId")
    )

    return Inbound(
        kind=_kind(body),
        activity_id=_str(body.get("id")),
        tenant_id=tenant_id,
        conversation_id=_str(conversation.get("id")),
        conversation_type=_str(conversation.get("conversationType")) or "personal",
        user_id=_str(sender.get("aadObjectId")) or _str(sender.get("id")),
        user_name=_str(sender.get("name")) or None,
        bot_id=_str(recipient.get("id")),
        text=body.get("text") if isinstance(body.get("text"), str) else None,
        value=body.get("value"),
        reply_to_id=_str(body.get("replyToId")) or None,
        attachment_types=tuple(
            _str(_dict(a).get("contentType"))
            for a in _list(body.get("attachments"))
            if isinstance(a, dict)
        ),
        mentions=tuple(_mentions(body.get("entities"))),
        members_added=tuple(
            _str(_dict(m).get("id")) for m in _list(body.get("membersAdded"))
        ),
        reference=_reference(body, conversation, sender, recipient),
        invoke_name=_str(body.get("name")) or None,
    )


def _kind(body: dict[str, Any]) -> InboundKind:
    activity_type = body.get("type")
    if activity_type == "message":
        return "message"
    if activity_type == "conversationUpdate" and body.get("membersAdded"):
        return "members_added"
    if (
        activity_type == "invoke"
        and body.get("name") == "message/submitAction"
        and _dict(body.get("value")).get("actionName") == "feedback"
    ):
        return "feedback"
    return "other"


def _mentions(entities: Any) -> list[Mention]:
    found = []
    for entity in _list(entities):
        entity = _dict(entity)
        if entity.get("type") != "mention":
            continue
        mentioned = _dict(entity.get("mentioned"))
        found.append(
            Mention(
                id=_str(mentioned.get("id")),
                name=_str(mentioned.get("name")) or None,
                text=_str(entity.get("text")) or None,
            )
        )
    return found


def _reference(
    body: dict[str, Any],
    conversation: dict[str, Any],
    sender: dict[str, Any],
    recipient: dict[str, Any],
) -> dict[str, Any]:
    reference = {
        "activityId": body.get("id"),
        "user": sender,
        "bot": recipient,
        "conversation": conversation,
        "channelId": body.get("channelId"),
        "serviceUrl": body.get("serviceUrl"),
        "locale": body.get("locale"),
    }
    return {k: v for k, v in reference.items() if v is not None}
