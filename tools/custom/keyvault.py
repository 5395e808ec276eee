"""``keyvault:NAME`` secret references, read from Azure Key Vault.

With ``HELPDESK_KEY_VAULT_URL`` set (``https://<vault>.vault.azure.net``),
admin tools' ``keyvault:`` references are read through the Azure SDK
(``azure-keyvault-secrets``) with the bot's managed identity or whatever
``DefaultAzureCredential`` finds, when a call needs them: a rotated secret
is picked up on the next call. The identity needs the "Key Vault Secrets
User" role on the vault. Values never reach logs, state or the model.
"""

from __future__ import annotations

import asyncio
from typing import Any

from azure.keyvault.secrets.aio import SecretClient


class AzureKeyVaultReader:
    """Reads secrets from one vault; one client per process, opened on first use."""

    def __init__(
        self, vault_url: str, *, credential: Any = None, **options: Any
    ) -> None:
        self.vault_url = vault_url
        self._credential = credential
        self._options = options
        self._client: SecretClient | None = None
        self._lock = asyncio.Lock()

    async def get_secret(self, name: str) -> str:
        """The secret's current value.

        Raises:
            Exception: the SDK's errors (not found, forbidden, unreachable);
                the resolver reports them without the value.
        """
        client = await self._open()
        secret = await client.get_secret(name)
        if secret.value is None:
            raise LookupError(f"Key Vault secret {name} has no value")
        return secret.value

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _open(self) -> SecretClient:
        async with self._lock:
            if self._client is None:
                credential = self._credential
                if credential is None:
                    from azure.identity.aio import DefaultAzureCredential

                    credential = DefaultAzureCredential()
                self._client = SecretClient(self.vault_url, credential, **self._options)
            return self._client


_READERS: dict[str, AzureKeyVaultReader] = {}


def reader_for(settings: Any) -> AzureKeyVaultReader | None:
    """The process's reader for ``HELPDESK_KEY_VAULT_URL``, or None when unset."""
    url = getattr(settings, "key_vault_url", None)
    if not url:
        return None
    if url not in _READERS:
        _READERS[url] = AzureKeyVaultReader(url)
    return _READERS[url]
