"""Settings: defaults run offline, and a wrong variable stops start-up by name."""

from __future__ import annotations

import pytest

from tools.errors import ConfigError
from tools.settings import load_settings


def test_defaults_are_local_and_offline() -> None:
    settings = load_settings()

    assert settings.local_mode
    assert settings.model_provider == "offline"
    assert settings.knowledge_backend == "embedded"
    assert settings.app_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.app_database_url.endswith("helpdesk.db")


def test_bot_framework_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "s3cret")
    monkeypatch.setenv("HELPDESK_ALLOWED_TENANTS", "tenant-a, tenant-b")

    settings = load_settings()

    assert not settings.local_mode
    assert settings.app_password is not None
    assert "s3cret" not in repr(settings)
    assert settings.allowed_tenants == ["tenant-a", "tenant-b"]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        pytest.param(
            "HELPDESK_MODEL_PROVIDER", "gpt", "HELPDESK_MODEL_PROVIDER", id="enum"
        ),
        pytest.param(
            "HELPDESK_TURN_DEADLINE_S", "soon", "HELPDESK_TURN_DEADLINE_S", id="number"
        ),
        pytest.param(
            "HELPDESK_TURN_DEADLINE_S", "30", "HELPDESK_TURN_DEADLINE_S", id="too-long"
        ),
        pytest.param(
            "HELPDESK_MODEL_PROVIDER",
            "azure",
            "HELPDESK_AZURE_OPENAI_ENDPOINT",
            id="azure-needs-endpoint",
        ),
        pytest.param(
            "HELPDESK_KNOWLEDGE_BACKEND",
            "azure",
            "HELPDESK_SEARCH_ENDPOINT",
            id="search-needs-endpoint",
        ),
        pytest.param(
            "MICROSOFT_APP_ID", "abc", "MICROSOFT_APP_PASSWORD", id="id-needs-secret"
        ),
    ],
)
def test_a_wrong_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert named in str(caught.value)


def test_postgres_url_maps_to_both_drivers() -> None:
    settings = load_settings(
        database_url="postgres://app:pw@db.internal:5432/helpdesk?sslmode=require"
    )

    assert settings.uses_postgres
    assert settings.app_database_url == (
        "postgresql+asyncpg://app:pw@db.internal:5432/helpdesk?ssl=require"
    )
    assert settings.postgres_dsn == (
        "postgresql://app:pw@db.internal:5432/helpdesk?sslmode=require"
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, None, id="local-mode-any"),
        pytest.param({"allowed_tenants": "t1,t2"}, {"t1", "t2"}, id="listed"),
        pytest.param(
            {"app_id": "a", "app_password": "p", "allowed_tenants": "*"},
            None,
            id="star-any",
        ),
        pytest.param(
            {"app_id": "a", "app_password": "p", "app_tenant_id": "home"},
            {"home"},
            id="signed-defaults-to-own-tenant",
        ),
    ],
)
def test_tenant_allow_list(
    overrides: dict[str, str], expected: set[str] | None
) -> None:
    allowed = load_settings(**overrides).tenant_allow_list()

    assert allowed == (None if expected is None else frozenset(expected))


def test_signed_bot_without_tenants_refuses_to_start() -> None:
    settings = load_settings(app_id="a", app_password="p")

    with pytest.raises(ConfigError, match="HELPDESK_ALLOWED_TENANTS"):
        settings.tenant_allow_list()
