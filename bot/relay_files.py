"""Files in a live hand-off: what the other side can actually open.

A file's link as Teams hands it to the bot is no use to the other person: a
pasted picture's link needs the bot's own token, and a sent file's link is
SharePoint's, short-lived. So pictures are fetched (under the same rules as
screenshots for tickets, see :mod:`bot.attachments`) and passed on inline,
as Teams renders a ``data:`` image on any message; one too big for a Teams
message is shrunk (Pillow) until it fits. Other files are passed on as their
link with their name, and the text says so.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence

from PIL import Image, UnidentifiedImageError

from bot.attachments import (
    Downloaded,
    DownloadFailed,
    DownloadRules,
    TokenSource,
    download_files,
)
from bot.inbound import InboundFile

logger = logging.getLogger(__name__)

INLINE_MAX_BYTES = 180_000
"""The largest picture passed on inline: base64 grows it by a third, and the
Bot Connector refuses an activity past 256 KB."""
_SHRINK_SIDES = (1600, 1280, 1024, 800, 640)
_JPEG_QUALITY = 80


async def relayable(
    files: Sequence[InboundFile], rules: DownloadRules, *, token: TokenSource | None
) -> tuple[list[dict[str, str]], list[str]]:
    """The message's files as attachments the other side can open.

    Returns:
        The attachments to relay, and one plain sentence per file that could
        not be passed on (for the text).
    """
    attachments: list[dict[str, str]] = []
    notes: list[str] = []
    pictures = [f for f in files if f.content_type.startswith("image/")]
    for file in files:
        if file not in pictures:
            attachments.append(
                {
                    "contentType": file.content_type or "application/octet-stream",
                    "contentUrl": file.url,
                    "name": file.name,
                }
            )
            notes.append(f"(sent a file: {file.name})")
    results = await download_files(pictures, rules, token=token) if pictures else []
    for file, result in zip(pictures, results, strict=True):
        if isinstance(result, DownloadFailed):
            notes.append(f"(a picture could not be passed on: {result.user_message})")
            continue
        inline = inline_image(result)
        if inline is None:
            notes.append(
                f"(the picture {file.name} is too large to pass on; ask for it as a file)"
            )
            continue
        attachments.append(inline)
    return attachments, notes


def inline_image(picture: Downloaded) -> dict[str, str] | None:
    """A ``data:`` image attachment of ``picture``, shrunk to fit when needed;
    None when it cannot be made small enough or is not a readable image."""
    data, content_type = picture.data, picture.content_type
    if len(data) > INLINE_MAX_BYTES:
        shrunk = _shrink(data)
        if shrunk is None:
            return None
        data, content_type = shrunk, "image/jpeg"
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "contentType": content_type,
        "contentUrl": f"data:{content_type};base64,{encoded}",
        "name": picture.name,
    }


def _shrink(data: bytes) -> bytes | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        logger.warning("could not read a picture to shrink it: %s", exc)
        return None
    for side in _SHRINK_SIDES:
        copy = picture.copy()
        copy.thumbnail((side, side))
        out = io.BytesIO()
        copy.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
        if out.tell() <= INLINE_MAX_BYTES:
            return out.getvalue()
    return None
