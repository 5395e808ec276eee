"""Resolving a manifest's secret references (``env:NAME``, ``keyvault:NAME``) at call time.

A manifest names where a secret lives, never the secret: the value is read
when the tool is called, used for that one request, and kept out of logs,
results and errors (which name the reference, not the value).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from tools.errors import ToolError

_NOT_SET_UP = "That tool is not set up correctly yet, so I could not use it."


class KeyVaultReader(Protocol):
    """Reads one secret from Azure Key Vault (or anything that stands in for it).

    ``azure.keyvault.secrets.aio.SecretClient`` fits behind a two-line adapter:
    ``(await client.get_secret(name)).value``.
    """

    async def get_secret(self, name: str) -> str:
        """The secret's current value.

        Raises:
            Exception: any failure; the resolver reports it without the value.
        """
        ...


class SecretUnavailable(ToolError):
    """A secret reference could not be resolved; the operator must fix the setup."""

    default_user_message = _NOT_SET_UP


@dataclass(frozen=True, slots=True)
class SecretResolver:
    """Turns references into values.

    Attributes:
        keyvault: reader for ``keyvault:`` references; None refuses them with
            an error that says to configure one.
        environ: where ``env:`` references are read; None means the process
            environment at call time (so a rotated variable is picked up on
            restart without rebuilding tools).
    """

    keyvault: KeyVaultReader | None = None
    environ: Mapping[str, str] | None = None

    async def resolve(self, ref: str) -> str:
        """The value behind one reference.

        Raises:
            SecretUnavailable: the variable is unset or empty, no Key Vault
                reader is configured, Key Vault failed, or the reference has
                an unknown kind; the message names the reference.
        """
        kind, _, name = ref.partition(":")
        if kind == "env":
            value = (os.environ if self.environ is None else self.environ).get(name)
            if not value:
                raise SecretUnavailable(
                    f"secret reference {ref}: the environment variable {name} is "
                    "not set on the bot's host; set it and restart"
                )
            return value
        if kind == "keyvault":
            return await self._from_keyvault(ref, name)
        raise SecretUnavailable(
            f"secret reference {ref!r}: must start with env: or keyvault:"
        )

    async def resolve_names(
        self, refs: Mapping[str, str], names: Iterable[str]
    ) -> dict[str, str]:
        """Values of the named secrets of one manifest.

        Raises:
            SecretUnavailable: a name is not declared, or its reference fails.
        """
        values: dict[str, str] = {}
        for name in sorted(set(names)):
            ref = refs.get(name)
            if ref is None:
                raise SecretUnavailable(f"secret {name} is used but not declared")
            values[name] = await self.resolve(ref)
        return values

    async def _from_keyvault(self, ref: str, name: str) -> str:
        if self.keyvault is None:
            raise SecretUnavailable(
                f"secret reference {ref}: no Key Vault reader is configured; "
                "configure one for admin tools, or use an env: reference"
            )
        try:
            value = await self.keyvault.get_secret(name)
        except Exception as exc:
            # The reader's message is not trusted to leave the value out.
            raise SecretUnavailable(
                f"secret reference {ref}: Key Vault failed ({type(exc).__name__})"
            ) from None
        if not value:
            raise SecretUnavailable(f"secret reference {ref}: Key Vault gave no value")
        return value
