"""Text analysis for the embedded engine: tokens, stop words, synonyms, stems.

The same :func:`analyze` runs on indexed text and on queries, so a synonym
variant on either side lands on the same term: "2FA" in a question matches
"multi-factor authentication" in an article. Changing the tables below changes
the terms in the index; bump :data:`ANALYZER_VERSION` so that existing indexes
are rebuilt on next open.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

ANALYZER_VERSION = 2
"""Stored with the index; an index built by another version is rebuilt."""

# Each group maps every variant (phrases allowed) onto one canonical token.
# The canonical token is then stemmed like any other word.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "mfa": (
        "mfa",
        "2fa",
        "two-factor",
        "two factor",
        "multi-factor",
        "multi factor",
        "multifactor",
        "2-step verification",
        "two-step verification",
        "two step verification",
        "authenticator",
        "authenticator app",
    ),
    "vpn": (
        "vpn",
        "vpns",
        "virtual private network",
        "remote access",
        "globalprotect",
        "anyconnect",
    ),
    "wifi": ("wifi", "wi-fi", "wi fi", "wireless", "wlan"),
    "password": ("password", "passwords", "pw", "pwd", "passwd"),
    "signin": (
        "sign in",
        "sign-in",
        "signin",
        "log in",
        "log-in",
        "login",
        "logon",
        "log on",
        "sign on",
    ),
    "email": ("email", "e-mail", "emails", "e-mails"),
    "macos": ("mac", "macos", "macbook", "os x", "osx", "mac os"),
    "ios": ("ios", "iphone", "ipad", "ipados"),
    "lockout": (
        "lockout",
        "locked out",
        "lock out",
        "locked-out",
        "account locked",
        "account is locked",
        "locked account",
    ),
    "myapps": ("my apps", "myapps", "my apps portal", "myapplications"),
    "onedrive": ("onedrive", "one drive"),
    "laptop": ("laptop", "notebook", "pc", "computer"),
}

_STOP_WORDS_TEXT = """
    a about above after again all am an and any are as at be because been
    before being below between both but by can could did do does doing down
    during each few for from further had has have having he her here hers how
    i if in into is it its itself just me more most my myself no nor not now
    of off on once only or other our ours out over own please same she should
    so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself hi hello thanks thank
    get got need want keep keeps still
    """
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_TOKEN = re.compile(r"[a-z0-9]+")
_STEM_LANGUAGE = "english"


def _variant_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    canonical = {}
    for target, variants in SYNONYMS.items():
        for variant in variants:
            canonical[variant] = target
    # Longest first so "authenticator app" wins over "authenticator".
    ordered = sorted(canonical, key=len, reverse=True)
    alternatives = "|".join(re.escape(v).replace(r"\ ", r"[\s-]+") for v in ordered)
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])"), canonical


_VARIANTS, _CANONICAL = _variant_pattern()


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEM_LANGUAGE)


def _canonical(match: re.Match[str]) -> str:
    variant = re.sub(r"[\s-]+", " ", match.group(0))
    variant = variant if variant in _CANONICAL else match.group(0)
    return " " + _CANONICAL.get(variant, variant) + " "


def analyze(text: str) -> list[str]:
    """Turn text into index terms: lower case, synonyms, no stop words, stems.

    Args:
        text: an article chunk, a title or a query.

    Returns:
        The terms in order, duplicates kept (BM25 counts them).
    """
    lowered = _VARIANTS.sub(_canonical, text.lower())
    words = [w for w in _TOKEN.findall(lowered) if w not in STOP_WORDS]
    return _stemmer().stemWords(words)
