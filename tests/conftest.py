"""Test-wide guards and fixtures: no test reaches a host other than this machine."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""The data and schemas that sit beside the project (and in CI)."""


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)) and not isinstance(address, tuple):
        return True  # a Unix socket path
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that connects anywhere but loopback or a Unix socket."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach an outside host: {address!r}")

    def connect(self: socket.socket, address: Any) -> Any:
        guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts from default settings, with its own data folder."""
    for name in list(os.environ):
        if name.startswith(("HELPDESK_", "MICROSOFT_APP_", "TO_BOT_FROM_CHANNEL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # so a developer's .env never leaks in


@pytest.fixture
def shared_dir() -> Path:
    """``../shared``; skips with the reason when it is absent (CI always has it)."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared data folder at {SHARED}, which is absent")
    return SHARED


POSTGRES_URL = os.environ.get(
    "HELPDESK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> str:
    """The test Postgres URL. In CI it must be there; locally it may skip."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("CI=true but PostgreSQL is not reachable on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty Postgres database for one test, dropped afterwards."""
    import uuid

    import psycopg

    name = f"helpdesk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def app_database_url(request: pytest.FixtureRequest) -> str | None:
    """Run a test on the embedded SQLite database and on a fresh Postgres one."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("fresh_postgres_url"))
