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

MAX_FILES = 5
"""Files read from one message; Teams sends one per pasted image, so more is
unusual and the rest are ignored."""
MAX_FILE_NAME = 128
MAX_FILE_URL = 4096
"""SharePoint download URLs carry a token and run to a couple of thousand
characters; anything longer is not a download link."""
FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
"""A file sent to a bot that supports files: a pre-authenticated
``content.downloadUrl`` on the sender's OneDrive, and the file's ``name``."""
_SKIPPED_TYPES = ("application/vnd.microsoft.card.", "text/html")
"""Cards, and the HTML copy of a message that holds a pasted image's layout
(its ``<img src>`` is not a download link)."""
_TYPES_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
}


@dataclass(frozen=True, slots=True)
class Mention:
    """An ``<at>`` mention entity: who was mentioned and the markup used."""

    id: str
    name: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class InboundFile:
    """A file the sender attached: where to fetch it and how.

    Attributes:
        name: a file name to show (the last part of what the channel sent,
            or ``screenshot.png`` for a pasted image without one).
        content_type: the declared type: the attachment's for a pasted
            image, the one its extension implies for a sent file ("" when
            unknown). The download checks the bytes as well.
        url: where the bytes are.
        needs_token: a Bot Connector URL (a pasted image) that wants the
            bot's own token; a sent file's link is pre-authenticated.
    """

    name: str
    content_type: str
    url: str
    needs_token: bool


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
        files: the files to fetch (pasted images, sent files), at most
            :data:`MAX_FILES`; cards and HTML are not files.
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
    files: tuple[InboundFile, ...] = ()
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
        files=tuple(read_files(body.get("attachments"))),
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


def read_files(attachments: Any) -> list[InboundFile]:
    """The files among an activity's attachments, at most :data:`MAX_FILES`.

    A pasted image is an ``image/*`` attachment whose ``contentUrl`` is on the
    Bot Connector; a sent file is a :data:`FILE_DOWNLOAD_INFO` attachment.
    Cards, HTML, inline ``data:`` URLs and attachments without a usable URL
    are skipped. Nothing is fetched or trusted here: the download checks the
    host, the size and the bytes.
    """
    files: list[InboundFile] = []
    for raw in _list(attachments):
        if len(files) >= MAX_FILES:
            break
        found = _file(_dict(raw), number=len(files) + 1)
        if found is not None:
            files.append(found)
    return files


def _file(attachment: dict[str, Any], *, number: int) -> InboundFile | None:
    content_type = _str(attachment.get("contentType")).strip().lower()
    if not content_type or content_type.startswith(_SKIPPED_TYPES):
        return None
    name = _str(attachment.get("name"))
    if content_type == FILE_DOWNLOAD_INFO:
        content = _dict(attachment.get("content"))
        url = _str(content.get("downloadUrl"))
        extension = _str(content.get("fileType")).lower().lstrip(".")
        if not extension and "." in name:
            extension = name.rsplit(".", 1)[-1].lower()
        declared = _TYPES_BY_EXTENSION.get(extension, "")
        needs_token = False
    else:
        url = _str(attachment.get("contentUrl"))
        declared = content_type
        needs_token = True
    if not url.lower().startswith(("https://", "http://")) or len(url) > MAX_FILE_URL:
        return None
    return InboundFile(
        name=_file_name(name, declared, number),
        content_type=declared,
        url=url,
        needs_token=needs_token,
    )


def _file_name(raw: str, content_type: str, number: int) -> str:
    # A name is a label, never a path; control characters are dropped.
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        # A pasted image has no name; one of type "image/*" gets its
        # extension once its bytes are known.
        extension = next(
            (f".{e}" for e, t in _TYPES_BY_EXTENSION.items() if t == content_type), ""
        )
        stem = "screenshot" if content_type.startswith("image/") else "file"
        name = f"{stem}{extension}" if number == 1 else f"{stem}-{number}{extension}"
    if len(name) > MAX_FILE_NAME:
        # Cut the stem, keep a short extension: "a…a.png", not "a…a.p".
        _, dot, extension = name.rpartition(".")
        suffix = f".{extension}" if dot and len(extension) <= 8 else ""
        name = name[: MAX_FILE_NAME - len(suffix)].rstrip() + suffix
    return name


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
