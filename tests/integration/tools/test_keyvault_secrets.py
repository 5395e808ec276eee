"""``keyvault:NAME`` references through the real Key Vault SDK, against a
local vault that speaks its protocol (bearer challenge, secret bundle, 404)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from fakes.keyvault_server import TOKEN, running_key_vault

from tools.custom.keyvault import AzureKeyVaultReader
from tools.custom.secret_refs import SecretResolver, SecretUnavailable


class _Credential:
    """What the bot's managed identity gives: a token for the vault."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> _Credential:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None


async def test_a_keyvault_reference_is_read_through_the_sdk(tmp_path: Path) -> None:
    async with running_key_vault(tmp_path) as vault:
        vault.secrets["printer-fleet-api-key"] = "fleet-key-123"
        credential = _Credential()
        reader = AzureKeyVaultReader(
            vault.url,
            credential=credential,
            verify_challenge_resource=False,
            connection_verify=str(vault.ca_file),
        )
        resolver = SecretResolver(keyvault=reader)
        try:
            assert (
                await resolver.resolve("keyvault:printer-fleet-api-key")
                == "fleet-key-123"
            )
            with pytest.raises(SecretUnavailable) as missing:
                await resolver.resolve("keyvault:no-such-secret")
        finally:
            await reader.aclose()

    assert vault.authorizations[0] is None, "the SDK met the challenge first"
    assert f"Bearer {TOKEN}" in vault.authorizations
    assert credential.scopes and credential.scopes[0][0].startswith(
        "https://vault.azure.net"
    )
    assert "keyvault:no-such-secret" in str(missing.value)
    assert "fleet-key-123" not in str(missing.value)
