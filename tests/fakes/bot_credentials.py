"""Outbound bot credentials that never leave the machine: a fixed bearer token.

botbuilder gets the token for its replies from its credentials factory (a
public constructor option of ``ConfigurationBotFrameworkAuthentication``);
this one hands out a constant, so no token request reaches Entra ID.
"""

from __future__ import annotations

from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

FIXED_OUTBOUND_TOKEN = "local-test-outbound-token"


class _FixedTokenCredentials(AppCredentials):
    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class FixedTokenCredentialsFactory(ServiceClientCredentialsFactory):
    """Accepts one app id and signs replies with a fixed token."""

    def __init__(self, app_id: str, token: str = FIXED_OUTBOUND_TOKEN) -> None:
        self.app_id = app_id
        self.token = token

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self,
        app_id: str,
        oauth_scope: str,
        login_endpoint: str,
        validate_authority: bool,
    ) -> AppCredentials:
        return _FixedTokenCredentials(app_id, self.token)
