"""Settings: defaults run offline, and a wrong variable stops start-up by name."""

from __future__ import annotations

from pathlib import Path

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
        pytest.param(
            "HELPDESK_LOG_LEVEL", "LOUD", "HELPDESK_LOG_LEVEL", id="log-level"
        ),
        pytest.param(
            "HELPDESK_DATABASE_URL", "garbage", "HELPDESK_DATABASE_URL", id="url"
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


@pytest.mark.parametrize("value", ["debug", "Warning", " ERROR "])
def test_log_level_is_case_insensitive(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HELPDESK_LOG_LEVEL", value)

    assert load_settings().log_level == value.strip().upper()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:///var/helpdesk.db", id="sqlite"),
        pytest.param("postgresql://app:pw@db:5432/helpdesk", id="postgresql"),
        pytest.param("postgres://app:pw@db/helpdesk", id="postgres"),
        pytest.param("postgresql+asyncpg://app@db/helpdesk", id="driver"),
    ],
)
def test_sqlite_and_postgres_urls_are_accepted(url: str) -> None:
    assert load_settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        pytest.param("garbage", "not a database URL", id="no-scheme"),
        pytest.param("mysql://app:s3cret@db/helpdesk", "mysql:// ", id="mysql"),
        pytest.param("postgresql://app:s3cret@db:port/x", "cannot read", id="port"),
    ],
)
def test_a_wrong_database_url_shows_both_forms_and_hides_the_password(
    url: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(database_url=url)

    message = str(caught.value)
    assert "HELPDESK_DATABASE_URL: " in message
    assert says in message
    assert "sqlite:///" in message
    assert "postgresql://user:password@host:5432/database" in message
    assert "s3cret" not in message


def test_the_data_folder_is_created_on_demand(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "new" / "data")

    assert settings.prepare_data_dir().is_dir()


def test_a_data_folder_that_cannot_be_made_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = load_settings(data_dir=blocker / "data")

    with pytest.raises(ConfigError, match=r"^HELPDESK_DATA_DIR: cannot create or"):
        settings.prepare_data_dir()
