"""Our own small types for what arrives from Teams, read from the activity JSON.

The handler works on these, never on the SDK's classes, so that a second host
(another SDK) only needs a new adapter.

Ids are checked before anything is stored under them: an id with a control
character (a NUL cannot be stored in Postgres at all) or longer than any id
Teams sends is refused with the field's name. Free text is cleaned instead of
refused: NULs are dropped and lone surrogates replaced in every string of the
activity (text, card values, names), so that what reaches the agent and the
database can be stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.service_url import service_url_host
from tools.errors import InvalidInput
from tools.text import without_nul

InboundKind = Literal["message", "members_added", "feedback", "other"]

MAX_CONVERSATION_ID = 512
"""Teams conversation ids run to about 150 characters (a personal chat's
``a:1…``, a channel thread's ``19:…@thread.tacv2;messageid=…``); the app
tables hold 512."""
MAX_ID = 256
"""Activity, user, bot and reply-to ids: Teams sends well under 150."""
MAX_TENANT_ID = 128
"""Entra tenant ids are GUIDs (36 characters)."""
MAX_DEDUPE_KEY = 512
"""The ``processed_activities`` key column; longer keys are hashed."""

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
        """Tenant + conversation + activity id: the same for every re-send.

        A key longer than the database column (long ids can add up to more)
        is replaced by its SHA-256, which is just as stable.
        """
        key = f"act:{self.tenant_id}:{self.conversation_id}:{self.activity_id}"
        if len(key) <= MAX_DEDUPE_KEY:
            return key
        return "act:sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


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
            conversation, sender, ``serviceUrl``, or a message without
            ``id``), a field has the wrong type, or an id is too long or holds
            a control character; the message names the field.
    """
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object (a Bot Framework activity)")
    activity_type = _required_str(body, "type", "type")
    conversation = _object(body, "conversation", "conversation.id")
    _check_id(
        conversation, "id", "conversation.id", limit=MAX_CONVERSATION_ID, required=True
    )
    sender = _object(body, "from", "from")
    _check_id(sender, "id", "from.id", limit=MAX_ID, required=True)
    # Without an id a re-send of a message cannot be told from a new message.
    _check_id(body, "id", "id", limit=MAX_ID, required=activity_type == "message")
    _check_optional_ids(body, conversation, sender)
    service_url_host(body.get("serviceUrl"))

    body = _storable(body)
    conversation = _dict(body.get("conversation"))
    sender = _dict(body.get("from"))
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


def _required_str(holder: dict[str, Any], key: str, name: str) -> str:
    value = holder.get(key)
    if value is None or value == "":
        raise InvalidInput(f"not a Bot Framework activity: '{name}' is missing")
    if not isinstance(value, str):
        raise InvalidInput(
            f"not a Bot Framework activity: '{name}' must be a string, "
            f"not {_json_type(value)}"
        )
    return value


def _object(body: dict[str, Any], key: str, missing_name: str) -> dict[str, Any]:
    """``body[key]`` when it is a JSON object; "missing" names ``missing_name``
    (the field the caller must add), a wrong type names ``key``."""
    value = body.get(key)
    if value is None:
        raise InvalidInput(f"not a Bot Framework activity: '{missing_name}' is missing")
    if not isinstance(value, dict):
        raise InvalidInput(
            f"not a Bot Framework activity: '{key}' must be an object, "
            f"not {_json_type(value)}"
        )
    return value


def _check_id(
    holder: dict[str, Any], key: str, name: str, *, limit: int, required: bool
) -> None:
    """Refuse an id that is missing (when required), not a string, longer than
    ``limit`` or holding a control character, naming the field ``name``."""
    if required:
        value = _required_str(holder, key, name)
    else:
        raw = holder.get(key)
        if raw is None or raw == "":
            return
        value = _required_str(holder, key, name)
    if len(value) > limit:
        raise InvalidInput(
            f"not a Bot Framework activity: '{name}' is {len(value)} characters "
            f"long; ids are at most {limit}"
        )
    bad = next((ch for ch in value if not ch.isprintable()), None)
    if bad is not None:
        raise InvalidInput(
            f"not a Bot Framework activity: '{name}' contains the control "
            f"character U+{ord(bad):04X}; ids are printable text"
        )


def _check_optional_ids(
    body: dict[str, Any], conversation: dict[str, Any], sender: dict[str, Any]
) -> None:
    """The ids that are stored or looked up when present."""
    _check_id(sender, "aadObjectId", "from.aadObjectId", limit=MAX_ID, required=False)
    _check_id(
        _dict(body.get("recipient")), "id", "recipient.id", limit=MAX_ID, required=False
    )
    _check_id(body, "replyToId", "replyToId", limit=MAX_ID, required=False)
    _check_id(
        conversation,
        "tenantId",
        "conversation.tenantId",
        limit=MAX_TENANT_ID,
        required=False,
    )
    tenant = _dict(_dict(body.get("channelData")).get("tenant"))
    _check_id(
        tenant, "id", "channelData.tenant.id", limit=MAX_TENANT_ID, required=False
    )


def _storable(value: Any) -> Any:
    """``value`` with NULs dropped and lone surrogates replaced in every string,
    keys included (the app checks the nesting depth before this recursion)."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string"


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
