"""Text that is safe to store and to show: no control characters, no bidi tricks.

Anything an employee types, a card field, a file name or a comment can carry
characters that do nothing visible in Teams but a great deal elsewhere: a
terminal obeys ``ESC [2J`` (clear the screen), ``ESC ]52`` (write the
clipboard) and ``ESC [8m`` (hide what follows); a right-to-left override
(U+202E) makes ``exe.txt`` read as ``txt.exe``; a NUL cannot be stored in a
Postgres text column at all, nor a lone surrogate in any UTF-8 database.

:func:`strip_controls` removes them from text that is about to be stored;
:func:`printable` escapes them in text that is about to be shown, for rows
stored before the stripping existed.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings, overrides, pop
    "\u2066\u2067\u2068\u2069"  # isolates
)
"""Characters that reorder the text around them. The plain marks (LRM, RLM,
ALM) reorder nothing and belong in right-to-left text, so they stay."""

_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor, erase, colours, hidden text
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC: titles, clipboard, links
    r"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # two-character escapes, or a lone ESC
)
_CARRIAGE_RETURN = re.compile(r"\r\n?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "\ud800-\udfff]"
)


def strip_controls(text: str) -> str:
    """``text`` without control characters, terminal escapes or bidi overrides.

    Whole escape sequences go (``ESC [2J``, an OSC 52 clipboard write with its
    payload), then every other C0 and C1 control, DEL, the bidi embeddings,
    overrides and isolates, and lone surrogates. Line breaks and tabs stay; a
    carriage return becomes a line break, since a bare one lets a later part
    of a line overwrite an earlier one on a terminal.

    Args:
        text: anything about to be stored.

    Returns:
        The text with those characters removed; unchanged when it had none.
    """
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CARRIAGE_RETURN.sub("\n", text)
    return _UNWANTED.sub("", text)


def without_nul(text: str) -> str:
    """``text`` without NUL characters and with lone surrogates replaced.

    The least a text needs to fit any database (Postgres refuses NUL in text,
    and UTF-8 cannot encode a lone surrogate); for text that must otherwise
    stay as sent, such as a message on its way to the agent.
    """
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def printable(text: str, *, keep: str = "\n") -> str:
    """``text`` with every character a terminal would act on shown as an escape.

    ``\\x1b[2J`` prints as the six characters ``\\x1b[2J`` instead of clearing
    the screen, U+202E as ``\\u202e``. Letters of every script, spaces and the
    characters in ``keep`` are printed as they are.

    Args:
        text: what is about to be printed.
        keep: non-printable characters to leave alone (a line break for
            multi-line fields; nothing for a table cell).
    """
    if text.isprintable():  # False for controls, bidi overrides, surrogates
        return text
    return "".join(
        ch if ch.isprintable() or ch in keep else _escaped(ch) for ch in text
    )


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
