"""The dashboard's signed session cookie: it reads back, and nothing else does."""

from __future__ import annotations

import base64
import json
import time

import pytest

from bot.admin_session import SESSION_TTL_S, AdminSessions, InvalidSession
from tools.settings import load_settings

KEY = b"k" * 32


def test_a_session_reads_back_who_and_when_it_ends() -> None:
    sessions = AdminSessions(KEY)
    now = time.time()

    session = sessions.read(sessions.issue("ada@contoso.example", now=now))

    assert session.who == "ada@contoso.example"
    assert session.expires_at == int(now) + SESSION_TTL_S == int(now) + 8 * 3600


def test_the_cookie_carries_no_secret() -> None:
    value = AdminSessions(KEY).issue("local admin key")

    _, body, _ = value.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(payload) == {"who", "exp"}


def _with_who(value: str, who: str) -> str:
    version, body, signature = value.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["who"] = who
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    return f"{version}.{forged.decode()}.{signature}"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda v: _with_who(v, "mallory"), id="payload-changed"),
        pytest.param(lambda v: v[:-2] + ("AA" if v[-2:] != "AA" else "BB"), id="sig"),
        pytest.param(lambda v: v.split(".", 1)[1], id="no-version"),
        pytest.param(lambda v: "v1..", id="empty"),
        pytest.param(lambda v: v + "é", id="not-ascii"),
    ],
)
def test_a_tampered_cookie_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    sessions = AdminSessions(KEY)

    with pytest.raises(InvalidSession):
        sessions.read(tamper(sessions.issue("ada@contoso.example")))


def test_a_cookie_signed_with_another_key_is_refused() -> None:
    value = AdminSessions(b"x" * 32).issue("ada@contoso.example")

    with pytest.raises(InvalidSession, match="signature"):
        AdminSessions(KEY).read(value)


def test_an_expired_cookie_is_refused() -> None:
    sessions = AdminSessions(KEY)
    value = sessions.issue("ada@contoso.example", now=time.time() - SESSION_TTL_S - 1)

    with pytest.raises(InvalidSession, match="expired"):
        sessions.read(value)


def test_the_key_comes_from_the_app_password_so_replicas_agree() -> None:
    signed = load_settings(
        app_id="app", app_password="s3cret-password", allowed_tenants="*"
    )
    one = AdminSessions.for_settings(signed)
    two = AdminSessions.for_settings(signed)
    assert two.read(one.issue("ada")).who == "ada"

    other = load_settings(
        app_id="app", app_password="another-password", allowed_tenants="*"
    )
    with pytest.raises(InvalidSession):
        AdminSessions.for_settings(other).read(one.issue("ada"))


def test_without_an_app_password_each_process_has_its_own_key() -> None:
    local = load_settings()
    value = AdminSessions.for_settings(local).issue("local admin key")

    with pytest.raises(InvalidSession):
        AdminSessions.for_settings(local).read(value)


def test_the_form_token_is_bound_to_the_cookie() -> None:
    sessions = AdminSessions(KEY)
    mine = sessions.issue("ada")
    theirs = sessions.issue("bob", now=time.time() - 5)

    token = sessions.form_token(mine)
    assert sessions.check_form_token(mine, token)
    assert not sessions.check_form_token(theirs, token)
    assert not sessions.check_form_token(mine, "")
    assert not sessions.check_form_token(mine, token + "é")
