"""Spotting a credential an admin pasted into a manifest instead of referring to it.

A manifest is stored, shown in the admin API and diffed in reviews; a key
typed into it leaks through all three. Every header, URL part and body string
is read with its placeholders taken out, and refused when what is left looks
like a credential: a value under a credential's name (``Authorization``,
``X-Api-Key``, ``password=``), a bearer or basic token, a JWT, credentials in
a URL, a well-known key prefix, or a long random-looking string. The
product's redaction patterns (:func:`tools.redact.redact`) are applied too.

Warning:
    A short secret under an innocent name (``X-Tenant: hunter2``) cannot be
    told from an ordinary value; review still matters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

from tools.custom.templates import literal_text
from tools.redact import redact

ADVICE = (
    "looks like a secret value; put it in a secret reference "
    "(env:NAME or keyvault:NAME) and write {{secret.NAME}}"
)

_CREDENTIAL_NAME = re.compile(
    r"(?i)(auth|token|secret|passw|passwd|pwd|api[-_]?key|apikey|credential|"
    r"cookie|signature|^sig$|^key$|^code$|access[-_]?key|private[-_]?key|"
    r"client[-_]?secret|session)"
)
"""Names (headers, query keys, body keys) whose literal value is a credential."""

_SCHEME_WORDS = re.compile(
    r"(?i)\b(bearer|basic|token|apikey|digest|sharedaccesssignature|sso-key|ssws)\b"
)
"""Words an Authorization-style value may keep in front of ``{{secret.X}}``."""

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{4,}"),  # JWT
    re.compile(r"(?i)\b(?:bearer|basic)\s+[\w\-.~+/]{8,}=*"),
    re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|api[-_]?key|apikey|access[-_]?token|"
        r"token|client[-_]?secret|sig|signature|accountkey|sharedaccesskey)"
        r"\s*[=:]\s*[^\s&;,{}]{3,}"
    ),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # user:password@host
    re.compile(
        r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[\w-]{10,}|"
        r"AKIA[0-9A-Z]{16}|AIza[\w-]{30,}|glpat-[\w-]{20})"
    ),
)

_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_UUID_ANYWHERE = re.compile(
    r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)
_UUID = re.compile(
    r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def pasted_secret(template: str, *, name: str | None = None) -> bool:
    """True when ``template`` carries a credential written out literally.

    Args:
        template: a header value, query value, path segment or body string,
            placeholders included.
        name: the header, query key or body key it sits under, when any.
    """
    literal = literal_text(template)
    credential_name = name is not None and _CREDENTIAL_NAME.search(name)
    if credential_name and _SCHEME_WORDS.sub(" ", literal).strip():
        return True
    if any(pattern.search(literal) for pattern in _PATTERNS):
        return True
    if any(_random_looking(run) for run in _RUN.findall(literal)):
        return True
    # An id such as a tenant's GUID is long and random but not a credential.
    without_ids = _UUID_ANYWHERE.sub(" ", literal)
    return redact(without_ids) != without_ids


def pasted_secret_in_url(template: str) -> str | None:
    """The part of a URL template that carries a credential, or None.

    The whole URL is never read as one string: a long path is not a key.
    """
    literal_url = literal_text(template)
    parts = urlsplit(template)
    if "@" in urlsplit(literal_url).netloc:
        return "the user:password before the host"
    for index, segment in enumerate(parts.path.split("/")):
        if segment and pasted_secret(segment):
            return f"path segment {index}"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if pasted_secret(value, name=key):
            return f"the query value of {key!r}"
    if parts.fragment and pasted_secret(parts.fragment):
        return "the fragment"
    return None


def _random_looking(run: str) -> bool:
    """A key-like run: mixed letters and digits, high entropy, not words or ids."""
    if _UUID.match(run):
        return False
    pieces = re.split(r"[-_/.]+", run)
    if all(p.isalpha() or p.isdigit() or len(p) <= 4 for p in pieces):
        return False
    classes = sum(
        (
            any(c.islower() for c in run),
            any(c.isupper() for c in run),
            any(c.isdigit() for c in run),
        )
    )
    return classes >= 2 and _entropy(run) >= 3.0


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
