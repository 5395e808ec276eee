"""Control characters, terminal escapes and bidi overrides: stripped before a
text is stored, escaped before it is printed."""

from __future__ import annotations

import pytest

from tools.text import printable, strip_controls, without_nul

HOSTILE = [
    ("clear screen", "before\x1b[2Jafter", "beforeafter"),
    ("clipboard write", "a\x1b]52;c;cm0gLXJmIH4=\x07b", "ab"),
    ("clipboard write, ST end", "a\x1b]52;c;cm0gLXJmIH4=\x1b\\b", "ab"),
    ("hidden text", "shown \x1b[8mhidden\x1b[0m", "shown hidden"),
    ("title", "\x1b]0;owned\x07title", "title"),
    ("right-to-left override", "invoice\u202etxt.exe", "invoicetxt.exe"),
    ("isolates", "\u2066a\u2067b\u2068c\u2069", "abc"),
    ("embeddings", "\u202aa\u202bb\u202cc\u202d", "abc"),
    ("NUL", "nul\x00here", "nulhere"),
    ("bell and backspace", "ding\x07\x08", "ding"),
    ("C1 CSI", "x\x9b2Jy", "x2Jy"),
    ("DEL", "a\x7fb", "ab"),
    ("lone surrogate", "a\ud800b", "ab"),
    ("carriage return overwrite", "safe\rEVIL", "safe\nEVIL"),
    ("windows line ends", "one\r\ntwo\r\n", "one\ntwo\n"),
    ("unterminated OSC stops at the line end", "a\x1b]52;c;xyz\nnext", "a\nnext"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, e) for _, t, e in HOSTILE],
    ids=[name for name, _, _ in HOSTILE],
)
def test_controls_are_stripped(text: str, expected: str) -> None:
    assert strip_controls(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "plain words, tabs\tand\nline breaks",
        "Ünïcödé, 日本語, עברית \u200f mark, emoji 🙂",
        "[2J is harmless without its escape",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert strip_controls(text) == text


def test_without_nul_keeps_everything_else() -> None:
    assert without_nul("a\x00b\x1b[2J\ud800") == "ab\x1b[2J\ufffd"


def test_printable_shows_controls_instead_of_obeying_them() -> None:
    shown = printable("a\x1b[2Jb\u202ec\x00d\ne\tf")

    assert shown == "a\\x1b[2Jb\\u202ec\\x00d\ne\\x09f"
    assert printable("x\ny", keep="") == "x\\x0ay"
    assert printable("naïve 日本") == "naïve 日本"
