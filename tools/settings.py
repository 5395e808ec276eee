"""The one typed settings object, read from the environment and ``.env`` at start-up.

Bot credentials use the Bot Framework's usual names (``MICROSOFT_APP_ID``,
``MICROSOFT_APP_PASSWORD``, ``MICROSOFT_APP_TENANT_ID``, ``MICROSOFT_APP_TYPE``);
everything else is ``HELPDESK_*``. Build it once with :func:`load_settings` and
pass it down; tools never read ``os.environ``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tools.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The source tree; shipped manifests and the demo knowledge base live under it."""

ModelProvider = Literal["offline", "openai", "azure"]
KnowledgeBackendName = Literal["embedded", "azure"]
DirectoryBackendName = Literal["local", "graph"]
TicketBackendName = Literal["embedded", "servicenow"]
RecoveryMethod = Literal["sspr", "tap", "temporary_password", "revoke"]
RECOVERY_METHODS: tuple[RecoveryMethod, ...] = (
    "sspr",
    "tap",
    "temporary_password",
    "revoke",
)
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_SCHEMES = (
    "sqlite",
    "sqlite+aiosqlite",
    "postgresql",
    "postgres",
    "postgresql+asyncpg",
    "postgresql+psycopg",
)
"""URL schemes the app database accepts: SQLite or PostgreSQL, nothing else."""
_DATABASE_FORMS = (
    "use sqlite:///path/to/helpdesk.db or "
    "postgresql://user:password@host:5432/database, or leave it unset for "
    "SQLite in HELPDESK_DATA_DIR"
)

_MS = "MICROSOFT_APP_"


def _ms(name: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(_MS + name))


class Settings(BaseSettings):
    """Every setting the product reads. Field docs say what to put in each."""

    model_config = SettingsConfigDict(
        env_prefix="HELPDESK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # -- Bot Framework credentials (their usual names) --
    app_id: str | None = _ms("ID")
    """Azure Bot app id. Unset means local mode: unsigned calls from loopback only."""
    app_password: SecretStr | None = _ms("PASSWORD")
    app_tenant_id: str | None = _ms("TENANT_ID")
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        default="MultiTenant", validation_alias=AliasChoices(_MS + "TYPE")
    )
    openid_metadata_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL",
            "HELPDESK_OPENID_METADATA_URL",
        ),
    )
    """Overrides the Bot Framework's OpenID metadata (tests, sovereign clouds)."""
    token_issuer: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER", "HELPDESK_TOKEN_ISSUER"
        ),
    )

    allowed_tenants: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated Entra tenant ids, or ``*`` for any tenant. Empty: any
    tenant in local mode, the bot's own tenant (``MICROSOFT_APP_TENANT_ID``)
    otherwise; see :meth:`tenant_allow_list`."""

    # -- storage --
    data_dir: Path = Path(".helpdesk")
    """Where the embedded backends keep their files (databases, search index)."""
    database_url: str | None = None
    """SQLAlchemy URL of the app database. Unset: SQLite in the data folder.
    Postgres: ``postgresql://user:pass@host:5432/db``."""

    # -- model --
    model_provider: ModelProvider = "offline"
    model_name: str = "gpt-4o-mini"
    """Model name (OpenAI-compatible) or deployment name (Azure OpenAI)."""
    model_base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8000/v1``."""
    model_api_key: SecretStr | None = None
    azure_openai_endpoint: str | None = None
    azure_openai_api_version: str = "2024-10-21"
    model_timeout_s: float = Field(default=30.0, gt=0, le=600)
    model_max_retries: int = Field(default=2, ge=0, le=10)
    model_fallback_offline: bool = True
    """When the configured model is down, answer with the offline model."""
    max_steps: int = Field(default=8, ge=2, le=50)
    """Model calls a turn may make before it ends with a polite reply."""
    history_token_budget: int = Field(default=6000, ge=500)

    # -- knowledge --
    knowledge_backend: KnowledgeBackendName = "embedded"
    search_endpoint: str | None = None
    """Azure AI Search endpoint, e.g. ``https://NAME.search.windows.net``."""
    search_index: str = "helpdesk-kb"
    search_api_key: SecretStr | None = None
    search_semantic_config: str | None = None
    search_vector_field: str | None = None
    kb_seed_dir: Path = PROJECT_ROOT / "manifests" / "kb"
    """Articles ingested on first start when the knowledge base is empty."""

    # -- tools --
    manifests_dir: Path = PROJECT_ROOT / "manifests"
    approval_ttl_minutes: int = Field(default=10, ge=1, le=1440)
    """How long an approval card stays valid; a later click is told it expired."""

    # -- directory --
    directory_backend: DirectoryBackendName = "local"
    """``local`` (people in the app database) or ``graph`` (Microsoft Graph)."""
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    """Microsoft Graph root; plain http is accepted only for loopback (tests)."""
    graph_tenant_id: str | None = None
    """Entra tenant of the Graph app; defaults to ``MICROSOFT_APP_TENANT_ID``."""
    graph_client_id: str | None = None
    """Client id of the Graph app; defaults to ``MICROSOFT_APP_ID``."""
    graph_client_secret: SecretStr | None = None
    """Client secret of the Graph app; defaults to ``MICROSOFT_APP_PASSWORD``."""
    graph_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per Graph request, connect and read alike."""
    directory_seed_file: Path = PROJECT_ROOT / "manifests" / "directory.yaml"
    """People loaded into the local directory on first start, when it is empty."""
    helpdesk_role_names: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "Helpdesk Administrator",
            "Password Administrator",
            "User Administrator",
        ]
    )
    """Entra directory roles (display names, comma-separated) that count as the
    help-desk role. Any other directory role makes an account privileged."""

    # -- account recovery --
    recovery_methods: Annotated[list[RecoveryMethod], NoDecode] = Field(
        default_factory=lambda: list(RECOVERY_METHODS)
    )
    """Comma-separated: ``sspr``, ``tap``, ``temporary_password``, ``revoke``."""
    recovery_preferred: RecoveryMethod = "sspr"
    """The recovery path offered first; must be one of the allowed methods."""
    sspr_url: str = "https://passwordreset.microsoftonline.com"
    """Where employees reset their own password."""
    tap_lifetime_minutes: int = Field(default=60, ge=10, le=43200)
    tap_one_time: bool = True
    limit_tap_per_day: int = Field(default=1, ge=1, le=100)
    """Passes per person in any 24 hours."""
    limit_temp_password_per_day: int = Field(default=2, ge=1, le=100)
    limit_revoke_per_day: int = Field(default=3, ge=1, le=100)

    # -- tickets --
    ticket_backend: TicketBackendName = "embedded"
    """``embedded`` (tickets in the app database) or ``servicenow``."""
    servicenow_url: str | None = None
    """The instance, e.g. https://NAME.service-now.com (plain http only on loopback)."""
    servicenow_user: str | None = None
    """Basic auth: an integration user with the itil role."""
    servicenow_password: SecretStr | None = None
    servicenow_client_id: str | None = None
    """OAuth client credentials (takes precedence over basic auth when set)."""
    servicenow_client_secret: SecretStr | None = None
    servicenow_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per ServiceNow request; a slower answer is retried from the outbox."""
    servicenow_close_code: str = "Solved (Permanently)"
    """The resolution code a ticket resolved through the copilot gets; newer
    instances use codes such as "Solution provided"."""
    servicenow_assignment_group: str | None = None
    """The assignment group (name or sys_id) new incidents go to."""
    ticket_default_group: str = "Service Desk"
    """The embedded system's assignment group for new tickets."""
    ticket_sla_hours: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [4, 8, 24, 72, 120]
    )
    """Hours to resolve, by priority 1 to 5 (comma-separated)."""
    itsm_webhook_secret: SecretStr | None = None
    """Shared secret of ``POST /api/itsm/events`` (HMAC-SHA256); unset turns
    the webhook off."""
    itsm_webhook_tolerance_s: int = Field(default=300, ge=10, le=3600)
    """Signed events older or newer than this are refused as replays."""
    outbox_max_attempts: int = Field(default=20, ge=1, le=1000)
    """Delivery attempts of a ticket before it is marked failed for an operator."""
    outbox_backoff_max_s: float = Field(default=600.0, ge=1, le=86400)
    notify_poll_s: float = Field(default=5.0, gt=0, le=600)
    """How often a replica looks for ticket news and outbox work."""

    # -- hand-off to a person --
    handoff_mode: Literal["teams", "hub"] = "teams"
    """``teams``: agents take hand-offs in a Teams channel and the bot relays;
    ``hub``: the bot emits Bot Framework's ``handoff.initiate`` event with the
    transcript for an external agent hub (a contact centre) and stays quiet."""
    asset_remind_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    """An approver who has not decided an asset request within this is
    reminded; after as long again the request goes to their manager too."""
    tools_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Hosts admin-registered HTTP tools may call (``api.contoso.com``,
    ``*.contoso.com``), comma-separated; nothing else is reached."""
    tools_allow_private: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Private, loopback or link-local addresses (CIDRs or host names) HTTP
    tools may reach anyway, comma-separated; by default none."""
    analytics_retention_days: int = Field(default=365, ge=1, le=3650)
    """Analytics events older than this are deleted (daily)."""
    satisfaction_every_days: int = Field(default=30, ge=0, le=365)
    """The 1-5 satisfaction card goes to an employee at most once in this many
    days (after a resolution or a closed ticket); 0 never sends it."""
    key_vault_url: str | None = None
    """Azure Key Vault that admin tools' ``keyvault:NAME`` secrets are read
    from (``https://<vault>.vault.azure.net``); unset, such tools fail with a
    message saying so."""
    admin_key: SecretStr | None = None
    """Local mode only: the key ``/admin/api`` wants in ``X-Admin-Key``. Unset,
    the admin API refuses everyone in local mode."""
    admin_role: str = "Helpdesk.Admin"
    """The Entra app role an admin's bearer token must carry for ``/admin/api``."""
    admin_openid_metadata_url: str | None = None
    """Where the admin tokens' signing keys are described; by default the
    Entra v2.0 metadata of ``MicrosoftAppTenantId``."""
    admin_audience: str | None = None
    """The admin tokens' audience; by default the bot's app id (or
    ``api://<app id>``)."""
    asset_fallback_approver: str | None = None
    """UPN of a person (an IT asset manager) who also gets the approval card
    when the approver asked has never used the bot in Teams, so has no chat
    to receive it in; whoever decides first decides."""
    handoff_idle_minutes: int = Field(default=30, ge=1, le=1440)
    """A live chat with no message either way for this long goes back to the
    copilot (an agent who left without closing)."""
    handoff_pickup_minutes: int = Field(default=10, ge=1, le=1440)
    """A hand-off nobody takes within this is withdrawn and a ticket offered."""
    handoff_hours: str = "mon-fri 08:00-18:00"
    """When agents work, e.g. ``mon-fri 08:00-18:00`` or ``mon-thu 09:00-17:00,
    fri 09:00-13:00``; ``always`` for round the clock."""
    handoff_timezone: str = "UTC"
    """The IANA time zone of the hours and holidays, e.g. Europe/Berlin."""
    handoff_holidays: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Dates without agents, comma-separated ISO dates (2026-12-25)."""
    handoff_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "harassment",
            "security incident",
            "data breach",
            "discrimination",
        ]
    )
    """Topics that always go to a person (comma-separated words or phrases)."""

    # -- Teams host --
    turn_deadline_s: float = Field(default=10.0, gt=0, le=14)
    """Answer Teams' HTTP call within this; longer turns finish in the
    background and reply proactively, so Teams never re-sends."""
    bot_name: str = "Helpdesk"
    company_name: str = "Contoso"
    website_url: str = "https://example.com/helpdesk"
    privacy_url: str = "https://example.com/helpdesk/privacy"
    terms_url: str = "https://example.com/helpdesk/terms"
    teams_app_id: str = "5b1f7a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    """The Teams app's own id in the manifest (not the bot's app id)."""

    log_level: LogLevel = "INFO"
    """``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL`` (any case)."""
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> Any:
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(
                f"{value!r} is not a log level; use one of " + ", ".join(LOG_LEVELS)
            )
        return level

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        # Never echo the URL: it may hold the database password.
        scheme, separator, _ = value.partition("://")
        if not separator or not scheme:
            raise ValueError(f"not a database URL; {_DATABASE_FORMS}")
        if scheme.lower() not in DATABASE_SCHEMES:
            raise ValueError(
                f"{scheme}:// databases are not supported; {_DATABASE_FORMS}"
            )
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                f"cannot read this {scheme}:// URL (check the port and any "
                f"special characters in the password); {_DATABASE_FORMS}"
            ) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field_name in _LIST_FIELDS:
                for key in (field_name, "HELPDESK_" + field_name.upper()):
                    value = data.get(key)
                    if isinstance(value, str):
                        data[key] = [t.strip() for t in value.split(",") if t.strip()]
        return data

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.model_provider == "openai" and not (
            self.model_base_url or self.model_api_key
        ):
            raise ValueError(
                "HELPDESK_MODEL_PROVIDER=openai needs HELPDESK_MODEL_BASE_URL "
                "(an OpenAI-compatible endpoint) or HELPDESK_MODEL_API_KEY"
            )
        if self.model_provider == "azure" and not self.azure_openai_endpoint:
            raise ValueError(
                "HELPDESK_MODEL_PROVIDER=azure needs HELPDESK_AZURE_OPENAI_ENDPOINT, "
                "e.g. https://NAME.openai.azure.com"
            )
        if self.knowledge_backend == "azure" and not self.search_endpoint:
            raise ValueError(
                "HELPDESK_KNOWLEDGE_BACKEND=azure needs HELPDESK_SEARCH_ENDPOINT, "
                "e.g. https://NAME.search.windows.net"
            )
        if (
            self.app_id
            and not self.app_password
            and self.app_type != ("UserAssignedMSI")
        ):
            raise ValueError(
                "MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not; set "
                "the bot's client secret, or unset MICROSOFT_APP_ID for local mode"
            )
        if self.app_type == "SingleTenant" and not self.app_tenant_id:
            raise ValueError(
                "MICROSOFT_APP_TYPE=SingleTenant needs MICROSOFT_APP_TENANT_ID"
            )
        self._check_directory()
        self._check_recovery()
        self._check_tickets()
        self._check_handoff()
        return self

    def _check_handoff(self) -> None:
        # Imported here: the calendar module reads these settings in turn.
        from tools.handoff.hours import parse_holidays, parse_hours, parse_timezone

        for variable, check in (
            ("HELPDESK_HANDOFF_HOURS", lambda: parse_hours(self.handoff_hours)),
            (
                "HELPDESK_HANDOFF_TIMEZONE",
                lambda: parse_timezone(self.handoff_timezone),
            ),
            (
                "HELPDESK_HANDOFF_HOLIDAYS",
                lambda: parse_holidays(self.handoff_holidays),
            ),
        ):
            try:
                check()
            except ValueError as exc:
                raise ValueError(f"{variable}: {exc}") from None

    def _check_tickets(self) -> None:
        if len(self.ticket_sla_hours) != 5 or min(self.ticket_sla_hours) < 1:
            raise ValueError(
                "HELPDESK_TICKET_SLA_HOURS must be five whole hours, one per "
                "priority 1 to 5, e.g. 4,8,24,72,120"
            )
        if self.servicenow_url is not None:
            scheme, _, rest = self.servicenow_url.partition("://")
            host = rest.split("/", 1)[0].rsplit(":", 1)[0] if rest else ""
            if not host or (
                scheme != "https" and not (scheme == "http" and host in _LOOPBACK_HOSTS)
            ):
                raise ValueError(
                    "HELPDESK_SERVICENOW_URL must be an https URL, e.g. "
                    "https://NAME.service-now.com (plain http only on loopback)"
                )
        if self.ticket_backend != "servicenow":
            return
        if not self.servicenow_url:
            raise ValueError(
                "HELPDESK_TICKET_BACKEND=servicenow needs HELPDESK_SERVICENOW_URL, "
                "e.g. https://NAME.service-now.com"
            )
        oauth = self.servicenow_client_id or self.servicenow_client_secret
        if oauth and not (self.servicenow_client_id and self.servicenow_client_secret):
            raise ValueError(
                "ServiceNow OAuth needs both HELPDESK_SERVICENOW_CLIENT_ID and "
                "HELPDESK_SERVICENOW_CLIENT_SECRET"
            )
        if not oauth and not (self.servicenow_user and self.servicenow_password):
            raise ValueError(
                "HELPDESK_TICKET_BACKEND=servicenow needs HELPDESK_SERVICENOW_USER "
                "and HELPDESK_SERVICENOW_PASSWORD, or HELPDESK_SERVICENOW_CLIENT_ID "
                "and HELPDESK_SERVICENOW_CLIENT_SECRET"
            )

    def _check_directory(self) -> None:
        scheme, _, rest = self.graph_base_url.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0] if rest else ""
        if scheme != "https" and not (scheme == "http" and host in _LOOPBACK_HOSTS):
            raise ValueError(
                "HELPDESK_GRAPH_BASE_URL must be an https URL, e.g. "
                "https://graph.microsoft.com/v1.0 (plain http only on loopback)"
            )
        if self.directory_backend != "graph":
            return
        for variable, value in (
            ("HELPDESK_GRAPH_TENANT_ID", self.graph_tenant),
            ("HELPDESK_GRAPH_CLIENT_ID", self.graph_client),
            ("HELPDESK_GRAPH_CLIENT_SECRET", self.graph_secret),
        ):
            if not value:
                raise ValueError(
                    f"HELPDESK_DIRECTORY_BACKEND=graph needs {variable} (or the "
                    "bot's MICROSOFT_APP_* value it defaults to)"
                )

    def _check_recovery(self) -> None:
        if not self.recovery_methods:
            raise ValueError(
                "HELPDESK_RECOVERY_METHODS must name at least one of "
                + ", ".join(RECOVERY_METHODS)
            )
        if self.recovery_preferred not in self.recovery_methods:
            raise ValueError(
                f"HELPDESK_RECOVERY_PREFERRED={self.recovery_preferred} is not in "
                "HELPDESK_RECOVERY_METHODS; pick one of "
                + ", ".join(self.recovery_methods)
            )
        if not self.helpdesk_role_names:
            raise ValueError(
                "HELPDESK_HELPDESK_ROLE_NAMES must name at least one directory "
                "role, e.g. Helpdesk Administrator"
            )

    @property
    def graph_tenant(self) -> str | None:
        """The Graph app's tenant: its own setting, else the bot's."""
        return self.graph_tenant_id or self.app_tenant_id

    @property
    def graph_client(self) -> str | None:
        """The Graph app's client id: its own setting, else the bot's app id."""
        return self.graph_client_id or self.app_id

    @property
    def graph_secret(self) -> SecretStr | None:
        """The Graph app's secret: its own setting, else the bot's password."""
        return self.graph_client_secret or self.app_password

    @property
    def local_mode(self) -> bool:
        """True when no bot app id is set: unsigned calls, loopback only."""
        return not self.app_id

    def tenant_allow_list(self) -> frozenset[str] | None:
        """The tenants the bot serves; None means any tenant.

        Raises:
            ConfigError: a signed bot with no list and no tenant of its own,
                which would silently serve every Entra tenant.
        """
        if "*" in self.allowed_tenants:
            return None
        if self.allowed_tenants:
            return frozenset(self.allowed_tenants)
        if self.local_mode:
            return None
        if self.app_tenant_id:
            return frozenset({self.app_tenant_id})
        raise ConfigError(
            "HELPDESK_ALLOWED_TENANTS: set the Entra tenant ids this bot serves "
            "(comma-separated), or * to serve any tenant; with MICROSOFT_APP_ID "
            "set and neither this nor MICROSOFT_APP_TENANT_ID, every tenant "
            "could use the bot"
        )

    def prepare_data_dir(self) -> Path:
        """Create the data folder if needed and make sure it can be written.

        Returns:
            The data folder.

        Raises:
            ConfigError: the folder cannot be created or written.
        """
        folder = self.data_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise ConfigError(
                f"HELPDESK_DATA_DIR: cannot create or write {folder} "
                f"({exc.strerror or exc}); set it to a folder this user can "
                "write, e.g. .helpdesk"
            ) from exc
        return folder

    @property
    def app_database_url(self) -> str:
        """The async SQLAlchemy URL of the app database."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'helpdesk.db'}"
        return to_async_url(url)

    @property
    def uses_postgres(self) -> bool:
        return self.app_database_url.startswith("postgresql")

    @property
    def postgres_dsn(self) -> str | None:
        """The libpq URL (for psycopg) when the app database is Postgres."""
        if not self.uses_postgres or not self.database_url:
            return None
        url = self.database_url
        for prefix in ("postgresql+asyncpg:", "postgresql+psycopg:", "postgres:"):
            if url.startswith(prefix):
                url = "postgresql:" + url[len(prefix) :]
        return url


def to_async_url(url: str) -> str:
    """Map a plain database URL onto the async driver the product uses."""
    for prefix, driver in (
        ("sqlite:", "sqlite+aiosqlite:"),
        ("postgresql:", "postgresql+asyncpg:"),
        ("postgres:", "postgresql+asyncpg:"),
    ):
        if url.startswith(prefix):
            url = driver + url[len(prefix) :]
            break
    if url.startswith("postgresql+asyncpg:"):
        # libpq (and so the psycopg checkpointer) says sslmode=; asyncpg says ssl=.
        url = url.replace("sslmode=", "ssl=")
    return url


_LIST_FIELDS = (
    "allowed_tenants",
    "helpdesk_role_names",
    "recovery_methods",
    "ticket_sla_hours",
    "handoff_holidays",
    "tools_allowed_hosts",
    "tools_allow_private",
    "handoff_topics",
)


def _variable_for(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return "HELPDESK_" + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, or stop with a message that names the variable.

    Args:
        **overrides: values that win over the environment (tests, CLI flags).

    Raises:
        ConfigError: a variable is missing or has a value that cannot be used.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if isinstance(p, str)]
            name = _variable_for(loc[0]) if loc else "settings"
            message = err.get("msg", "invalid value").removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if loc else message)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc
