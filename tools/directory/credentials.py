"""Readable one-time credentials, and the salted hashes the local directory keeps.

Generated with :mod:`secrets` from an alphabet without look-alike characters
(no 0/O, 1/l/I, 5/S, 2/Z), so a person can read a pass aloud or type it from a
phone. Hashes are scrypt with a random salt per value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from tools.secrets import SecretValue

_UPPER = "ABCDEFGHJKMNPQRTUVWXY"
_LOWER = "abcdefghjkmnpqrtuvwxy"
_DIGITS = "346789"
_SYMBOLS = "!#%+=?@"
_ALPHABET = _UPPER + _LOWER + _DIGITS

PASS_LENGTH = 14
"""Characters in a local Temporary Access Pass (Entra's default is 8 to 48)."""
_GROUPS = 4
_GROUP_SIZE = 4

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_access_pass() -> SecretValue:
    """A Temporary Access Pass: 14 unambiguous letters and digits."""
    return SecretValue("".join(secrets.choice(_ALPHABET) for _ in range(PASS_LENGTH)))


def new_temporary_password() -> SecretValue:
    """A temporary password like ``Kx7q-Wm4p-Rt9a-Hn3!``.

    Four groups of four joined by dashes; always holds an upper-case letter, a
    lower-case letter, a digit and a symbol, so Entra's complexity rule (three
    of four classes) and most on-premises policies accept it.
    """
    while True:
        chars = [secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_SIZE - 1)]
        chars.append(secrets.choice(_SYMBOLS))
        text = "".join(chars)
        if (
            any(c in _UPPER for c in text)
            and any(c in _LOWER for c in text)
            and any(c in _DIGITS for c in text)
        ):
            break
    groups = [text[i : i + _GROUP_SIZE] for i in range(0, len(text), _GROUP_SIZE)]
    return SecretValue("-".join(groups))


def hash_secret(value: SecretValue) -> str:
    """A salted scrypt hash, self-describing: ``scrypt$n$r$p$salt$hash`` in hex.

    Warning:
        CPU-bound (tens of milliseconds); call it through ``asyncio.to_thread``
        from async code.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(value.reveal().encode(), salt=salt, **_SCRYPT)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_secret(value: str, stored: str) -> bool:
    """True when ``value`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        value.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate.hex(), digest)
