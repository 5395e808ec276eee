"""The two placeholders of an admin tool's templates, found and filled in one pass.

``{name}`` is a tool argument (or the requester's UPN, when the manifest's
identity names that parameter); ``{{secret.NAME}}`` is a secret the manifest
declares. Both are replaced in a single scan of the template, so an argument
whose value happens to read ``{{secret.TOKEN}}`` stays that literal text and
can never pull a secret into a request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

_TOKEN = re.compile(
    r"\{\{\s*secret\.(?P<secret>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
    r"|\{(?P<param>[A-Za-z_][A-Za-z0-9_]*)\}"
)
_LONE_PARAM = re.compile(r"^\{(?P<param>[A-Za-z_][A-Za-z0-9_]*)\}$")

ABSENT = object()
"""What :func:`render_body` drops: a lone ``{name}`` whose argument was not given."""


def placeholders(template: str) -> tuple[set[str], set[str]]:
    """The argument names and the secret names a template refers to."""
    params: set[str] = set()
    secrets: set[str] = set()
    for match in _TOKEN.finditer(template):
        if match.group("secret"):
            secrets.add(match.group("secret"))
        else:
            params.add(match.group("param"))
    return params, secrets


def literal_text(template: str, filler: str = " ") -> str:
    """The template with every placeholder replaced by ``filler``: what an
    admin typed in by hand, which is what the pasted-secret check reads."""
    return _TOKEN.sub(filler, template)


def stray_brace(template: str) -> bool:
    """True when a brace is left over once the placeholders are taken out."""
    rest = _TOKEN.sub("", template)
    return "{" in rest or "}" in rest


def body_strings(body: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON body template, with its dotted path."""
    if isinstance(body, str):
        yield path, body
    elif isinstance(body, Mapping):
        for key, value in body.items():
            yield from body_strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from body_strings(value, f"{path}.{index}" if path else str(index))


def as_text(value: Any) -> str:
    """An argument as it appears inside a string: JSON spellings for the rest."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def render(
    template: str,
    args: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    encode: Callable[[str], str] = str,
) -> str:
    """Fill a string template; ``encode`` applies to every value put in.

    Raises:
        KeyError: a secret the template names was not resolved (a bug: the
            manifest's validation guarantees every name is declared).
    """

    def fill(match: re.Match[str]) -> str:
        if match.group("secret"):
            return encode(secrets[match.group("secret")])
        return encode(as_text(args.get(match.group("param"))))

    return _TOKEN.sub(fill, template)


def render_body(body: Any, args: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    """Fill a JSON body template.

    A string that is exactly ``{name}`` takes the argument's own JSON value (a
    number stays a number); when that argument was not given, the key or the
    list item is left out. Any other string is filled as text.
    """
    if isinstance(body, str):
        lone = _LONE_PARAM.match(body)
        if lone is not None:
            return args.get(lone.group("param"), ABSENT)
        return render(body, args, secrets)
    if isinstance(body, Mapping):
        filled = {key: render_body(value, args, secrets) for key, value in body.items()}
        return {key: value for key, value in filled.items() if value is not ABSENT}
    if isinstance(body, list):
        items = [render_body(value, args, secrets) for value in body]
        return [value for value in items if value is not ABSENT]
    return body
