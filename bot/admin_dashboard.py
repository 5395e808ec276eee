"""The admin dashboard under ``/admin``: the outcomes report in a browser.

Routes:

    GET  /admin                  the dashboard (``?since=7d|30d|90d``), or the
                                 sign-in form when no valid credential came
    POST /admin/signin           check a pasted admin key or Entra token, then
                                 set the session cookie
    POST /admin/signout          clear it (needs the page's form token)
    GET  /admin/api/report       the same figures as JSON, for scripts

Who may look: the admin API's callers (:class:`bot.admin_api.AdminAuth`), by
its headers (``X-Admin-Key`` in local mode, an Entra bearer token with the
admin role otherwise) or by a session cookie (:mod:`bot.admin_session`) that
the sign-in form sets after the very same check. The cookie is HttpOnly,
SameSite=Strict, Secure over https, and scoped to ``/admin``.

The page is one server-rendered HTML document with inline SVG charts: no
script, no outside asset, a Content-Security-Policy that allows only its own
nonce'd style block, never framed, never cached. Every value is escaped as
it is put into markup (:func:`tag`); the knowledge-gap examples are
employees' words.

To show a new figure, add a section function to :data:`SECTIONS` and the
report field it shows to :data:`SHOWN_FIELDS`; until then a new field of
:class:`tools.analytics.report.Report` appears under "Other figures" as it
is.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.admin_api import AdminAuth, Refused
from bot.admin_session import SESSION_COOKIE, AdminSessions, InvalidSession
from bot.cli.audit import parse_age
from tools.analytics.events import alist_events
from tools.analytics.outcomes import OUTCOME_KINDS
from tools.analytics.report import (
    Report,
    abuild_report,
    format_duration,
    format_share,
)
from tools.analytics.series import Bucket, Series, build_series
from tools.errors import InvalidInput

logger = logging.getLogger(__name__)

SESSIONS_KEY = web.AppKey("admin_sessions", AdminSessions)
WINDOWS = ("7d", "30d", "90d")
"""The windows the page offers; any ``parse_age`` value (up to ten years)
works in the address too."""
DEFAULT_WINDOW = "30d"

OUTCOME_LABELS = {
    "resolved": "Resolved by the copilot",
    "escalated": "Escalated to a person",
    "abandoned": "Abandoned",
    "open": "Still open",
}
OUTCOME_COLOURS = {
    "resolved": "#2e7d32",
    "escalated": "#ef6c00",
    "abandoned": "#757575",
    "open": "#1565c0",
}
SATISFACTION_COLOUR = "#6a1b9a"
FAILURE_COLOUR = "#c62828"
CALLS_COLOUR = "#90a4ae"
EMPTY_WINDOW = "No conversations in this window"

_W, _H = 960, 230
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 34, 28
_MAX_X_LABELS = 8


# ---------------------------------------------------------------- markup ---


class Markup(str):
    """Text that is already HTML: built by :func:`tag` or :func:`esc` only."""

    __slots__ = ()


def esc(value: object) -> Markup:
    """``value`` as HTML text: escaped, unless it is already :class:`Markup`."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def tag(element: str, /, *children: object, **attrs: object) -> Markup:
    """An element with escaped attributes and children.

    ``class_`` gives ``class``, ``aria_label`` gives ``aria-label``; an
    attribute that is None or False is left out, True is written bare. A
    child may be text (escaped), Markup, None (skipped) or an iterable of
    those.

    Args:
        element: the element's name, e.g. ``td`` or ``rect``.
        children: its content.
        attrs: its attributes.
    """
    parts = [f"<{element}"]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(f" {attr}")
        else:
            parts.append(f' {attr}="{esc(value)}"')
    parts.append(">")
    if element in _VOID:
        return Markup("".join(parts))
    parts.extend(_flatten(children))
    parts.append(f"</{element}>")
    return Markup("".join(parts))


_VOID = frozenset(("meta", "link", "input", "br", "hr", "img"))


def _flatten(children: Iterable[object]) -> Iterable[str]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str):
            yield esc(child)
        elif isinstance(child, Iterable):
            yield from _flatten(child)
        else:
            yield esc(child)


# ---------------------------------------------------------------- routes ---


def add_routes(
    app: web.Application, auth_key: web.AppKey[AdminAuth], services_key: Any
) -> None:
    """Mount the dashboard on ``app``; ``app[auth_key]`` must be set already."""
    app[SESSIONS_KEY] = AdminSessions.for_settings(app[auth_key].settings)
    pages = _Pages(auth_key, services_key)
    app.router.add_get("/admin", pages.dashboard)
    app.router.add_post("/admin/signin", pages.sign_in)
    app.router.add_post("/admin/signout", pages.sign_out)
    app.router.add_get("/admin/api/report", pages.report_json)


class _NoCredential(Refused):
    def __init__(self) -> None:
        super().__init__(401, "sign in first")


@dataclass(frozen=True, slots=True)
class _Pages:
    auth_key: web.AppKey[AdminAuth]
    services_key: Any

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(16)
        auth = request.app[self.auth_key]
        try:
            who, cookie = await self._who(request)
        except _NoCredential:
            return _sign_in_page(auth, nonce, status=200, since=request.query)
        except Refused as exc:
            response = _sign_in_page(
                auth, nonce, status=exc.status, refused=exc, since=request.query
            )
            if exc.status == 401 and SESSION_COOKIE in request.cookies:
                response.del_cookie(SESSION_COOKIE, path="/admin")
            return response

        try:
            label, window = _window(request)
        except InvalidInput as exc:
            return _message_page(str(exc), nonce, status=400)
        services = request.app.get(self.services_key)
        if services is None:
            return _message_page("starting; try again in a moment", nonce, 503)
        try:
            report, series = await _figures(services.db, window)
        except Exception:
            logger.exception("admin dashboard: could not read the analytics")
            return _message_page(_DB_DOWN, nonce, status=503)

        token = request.app[SESSIONS_KEY].form_token(cookie) if cookie else None
        page = render_dashboard(
            report, series, window=label, who=who, form_token=token, nonce=nonce
        )
        return _html(page, nonce)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(16)
        auth = request.app[self.auth_key]
        if _cross_site(request):
            return _message_page(_CROSS_SITE, nonce, status=403)
        form = await request.post()
        credential = form.get("credential")
        since = form.get("since")
        if not isinstance(credential, str) or not credential.strip():
            refused = Refused(401, "paste the admin key or an access token")
            return _sign_in_page(auth, nonce, status=401, refused=refused, since=form)
        try:
            admin = await auth.check_credential(credential)
        except Refused as exc:
            logger.info("admin dashboard: sign-in refused (%d)", exc.status)
            return _sign_in_page(
                auth, nonce, status=exc.status, refused=exc, since=form
            )

        sessions = request.app[SESSIONS_KEY]
        target = "/admin"
        if isinstance(since, str) and _valid_window(since):
            target += "?since=" + since.strip()
        response = web.Response(status=303, headers={"Location": target})
        response.set_cookie(
            SESSION_COOKIE,
            sessions.issue(admin.who),
            max_age=sessions.ttl_s,
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=_https(request),
        )
        _no_store(response)
        logger.info(
            "admin dashboard: signed in with %s",
            "the admin key" if auth.settings.local_mode else "an Entra token",
        )
        return response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(16)
        cookie = request.cookies.get(SESSION_COOKIE)
        response = web.Response(status=303, headers={"Location": "/admin"})
        _no_store(response)
        if cookie is None:
            return response
        form = await request.post()
        token = form.get("token")
        sessions = request.app[SESSIONS_KEY]
        if not isinstance(token, str) or not sessions.check_form_token(cookie, token):
            return _message_page(_CROSS_SITE, nonce, status=403)
        response.del_cookie(SESSION_COOKIE, path="/admin")
        return response

    async def report_json(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._who(request)
            label, window = _window(request)
        except Refused as exc:
            return _json({"error": str(exc)}, exc.status)
        except InvalidInput as exc:
            return _json({"error": str(exc)}, 400)
        services = request.app.get(self.services_key)
        if services is None:
            return _json({"error": "starting; try again in a moment"}, 503)
        try:
            report, series = await _figures(services.db, window)
        except Exception:
            logger.exception("admin report: could not read the analytics")
            return _json({"error": _DB_DOWN}, 503)
        return _json(report_to_json(report, series, window=label))

    async def _who(self, request: web.Request) -> tuple[str, str | None]:
        """Who is asking, and their session cookie when that is how.

        Headers win over a cookie, so a script's key is judged as the admin
        API would judge it.

        Raises:
            Refused: as :meth:`AdminAuth.check`; :class:`_NoCredential` when
                the request brought none.
        """
        headers = request.headers
        if "X-Admin-Key" in headers or "Authorization" in headers:
            return (await request.app[self.auth_key].check(request)).who, None
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie is None:
            raise _NoCredential()
        try:
            session = request.app[SESSIONS_KEY].read(cookie)
        except InvalidSession as exc:
            raise Refused(401, _SESSION_ENDED) from exc
        return session.who, cookie


_DB_DOWN = "The analytics could not be read from the database; try again shortly."
_CROSS_SITE = (
    "This form can only be sent from the dashboard's own page. Open /admin and "
    "use its buttons."
)
_SESSION_ENDED = "Your sign-in has ended or is not valid. Sign in again."


async def _figures(engine: Any, window: timedelta) -> tuple[Report, Series]:
    now = datetime.now(UTC)
    since = now - window
    report = await abuild_report(engine, since=since, now=now)
    events = await alist_events(engine, since=since, until=now)
    return report, build_series(events, since=since, now=now)


def _window(request: web.Request) -> tuple[str, timedelta]:
    """The ``since`` of the address, e.g. ``30d``, and its length.

    Raises:
        InvalidInput: not a ``parse_age`` value, zero, or past ten years.
    """
    label = request.query.get("since", DEFAULT_WINDOW).strip()
    try:
        return label, parse_age(label)
    except ValueError as exc:
        offered = ", ".join(WINDOWS)
        raise InvalidInput(f"since: {exc}; the dashboard offers {offered}") from exc


def _valid_window(text: str) -> bool:
    try:
        parse_age(text)
    except ValueError:
        return False
    return True


def _cross_site(request: web.Request) -> bool:
    """True when the browser says the form came from another site.

    Current browsers say where a request comes from in ``Sec-Fetch-Site``;
    older ones send ``Origin`` with a form post. A proxy in front may pass the
    address the browser used in ``X-Forwarded-Host``.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser, or one too old to say: nothing to check
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    ours = {request.host.lower(), forwarded.lower()} - {""}
    return urlsplit(origin).netloc.lower() not in ours


def _https(request: web.Request) -> bool:
    # Behind App Service or another proxy that ends TLS, the app sees http.
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    return request.secure or forwarded.split(",")[0].strip().lower() == "https"


# ------------------------------------------------------------- responses ---


def _csp(nonce: str) -> str:
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _no_store(response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"


def _html(page: Markup, nonce: str, status: int = 200) -> web.Response:
    response = web.Response(
        text=page, status=status, content_type="text/html", charset="utf-8"
    )
    response.headers["Content-Security-Policy"] = _csp(nonce)
    _no_store(response)
    return response


def _json(body: Any, status: int = 200) -> web.Response:
    response = web.json_response(body, status=status)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; frame-ancestors 'none'"
    )
    _no_store(response)
    return response


def _sign_in_page(
    auth: AdminAuth,
    nonce: str,
    *,
    status: int,
    refused: Refused | None = None,
    since: Mapping[str, Any] | None = None,
) -> web.Response:
    wanted = (since or {}).get("since")
    return _html(
        render_sign_in(
            local_mode=auth.settings.local_mode,
            key_set=auth.settings.admin_key is not None,
            message=_refusal(refused, local_mode=auth.settings.local_mode),
            since=wanted if isinstance(wanted, str) and _valid_window(wanted) else None,
            nonce=nonce,
        ),
        nonce,
        status,
    )


def _refusal(refused: Refused | None, *, local_mode: bool) -> str | None:
    """What the sign-in form says about a refusal, in the admin's words."""
    if refused is None:
        return None
    if refused.status == 401 and str(refused) != _SESSION_ENDED:
        if local_mode:
            return (
                "That admin key was not accepted. Paste the value of "
                "HELPDESK_ADMIN_KEY as the bot was started with it."
            )
        return (
            f"That token was not accepted ({refused}). Paste a current Entra "
            "access token issued for this app."
        )
    text = str(refused)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _message_page(message: str, nonce: str, status: int) -> web.Response:
    body = tag(
        "main",
        tag("h1", "Helpdesk Copilot admin"),
        tag("p", message, class_="error", role="alert"),
        tag("p", tag("a", "Back to the dashboard", href="/admin")),
    )
    return _html(_document("Helpdesk Copilot admin", body, nonce), nonce, status)


# ----------------------------------------------------------------- pages ---


_STYLE = """
body{font-family:system-ui,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;background:#f3f4f6;color:#1f2933;line-height:1.4}
header{background:#243a5e;color:#fff;padding:12px 24px;display:flex;
flex-wrap:wrap;gap:16px;align-items:center;justify-content:space-between}
header h1{font-size:1.25rem;margin:0}
header a{color:#fff}
header form{display:inline;margin:0}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
nav.windows a{margin-right:12px}
nav.windows a[aria-current]{font-weight:700;text-decoration:none}
section{background:#fff;border:1px solid #d9dee4;border-radius:8px;
padding:16px 20px;margin-top:16px}
section h2{font-size:1.1rem;margin:0 0 12px}
dl.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));
gap:12px;margin:0}
dl.tiles div{border:1px solid #d9dee4;border-radius:6px;padding:10px 12px}
dl.tiles dt{font-size:.85rem;color:#52606d}
dl.tiles dd{margin:4px 0 0;font-size:1.5rem;font-weight:600}
dl.tiles dd small{font-size:.8rem;font-weight:400;color:#52606d}
table{border-collapse:collapse;margin-top:8px}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 12px 4px 0;text-align:left;
vertical-align:top}
td.n,th.n{text-align:right;padding-right:16px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;
clip:rect(0 0 0 0);white-space:nowrap}
svg.chart{display:block;max-width:100%;height:auto}
details{margin-top:8px}
ul.examples{margin:0;padding-left:18px}
.error{background:#fdecea;border:1px solid #f5c2c0;padding:8px 12px;
border-radius:6px}
.empty{font-size:1.2rem;padding:24px 0}
.muted{color:#52606d}
form.signin label{display:block;font-weight:600;margin:12px 0 4px}
form.signin button{margin-left:8px}
form.signin input[type=password]{width:100%;max-width:520px;padding:6px;
font:inherit}
button{font:inherit;padding:6px 14px;margin-top:12px}
header button{margin:0}
"""


def _document(title: str, body: Markup, nonce: str) -> Markup:
    head = tag(
        "head",
        tag("meta", charset="utf-8"),
        tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("meta", name="referrer", content="same-origin"),
        tag("link", rel="icon", href="data:,"),
        tag("title", title),
        tag("style", Markup(_STYLE), nonce=nonce),
    )
    return Markup("<!doctype html>\n" + tag("html", head, tag("body", body), lang="en"))


def render_sign_in(
    *,
    local_mode: bool,
    key_set: bool,
    message: str | None,
    nonce: str,
    since: str | None = None,
) -> Markup:
    """The sign-in page: one field, for the admin key or an access token.

    Args:
        local_mode: the bot runs without an app id (the key is asked for).
        key_set: ``HELPDESK_ADMIN_KEY`` is set (local mode).
        message: why the last try was refused, or None.
        nonce: the style block's CSP nonce.
        since: the window to open after signing in, e.g. ``7d``.
    """
    if local_mode:
        label = "Admin key"
        hint = (
            "Paste the value of HELPDESK_ADMIN_KEY, the key the admin API takes "
            "in X-Admin-Key."
        )
        if not key_set:
            hint = (
                "The dashboard is off until HELPDESK_ADMIN_KEY is set: set it, "
                "restart the bot, then paste it here."
            )
    else:
        label = "Entra access token"
        hint = (
            "Paste an access token for this bot's app that carries the admin "
            "app role, e.g. from `az account get-access-token --resource "
            "api://<app id>`."
        )
    form = tag(
        "form",
        tag("label", label, for_="credential"),
        tag(
            "input",
            id="credential",
            name="credential",
            type="password",
            autocomplete="off",
            required=True,
            autofocus=True,
        ),
        tag("input", type="hidden", name="since", value=since) if since else None,
        tag("button", "Sign in", type="submit"),
        method="post",
        action="/admin/signin",
        class_="signin",
    )
    body = tag(
        "main",
        tag("h1", "Helpdesk Copilot admin: sign in"),
        tag("p", message, class_="error", role="alert") if message else None,
        tag("section", form, tag("p", hint, class_="muted")),
        tag(
            "p",
            "You stay signed in for 8 hours in this browser, or until you sign out.",
            class_="muted",
        ),
    )
    return _document("Sign in: Helpdesk Copilot admin", body, nonce)


def render_dashboard(
    report: Report,
    series: Series,
    *,
    window: str,
    who: str,
    form_token: str | None,
    nonce: str,
) -> Markup:
    """The whole dashboard page.

    Args:
        report: the window's figures.
        series: the same window by day or week.
        window: the ``since`` value it shows, e.g. ``30d``.
        who: the signed-in admin, shown in the header.
        form_token: the sign-out form's token; None when the admin came with
            a header rather than a session (no sign-out button then).
        nonce: the style block's CSP nonce.
    """
    sign_out = None
    if form_token is not None:
        sign_out = tag(
            "form",
            tag("input", type="hidden", name="token", value=form_token),
            tag("button", "Sign out", type="submit"),
            method="post",
            action="/admin/signout",
        )
    header = tag(
        "header",
        tag("h1", "Helpdesk Copilot: outcomes"),
        tag("div", tag("span", "Signed in as ", who, " "), sign_out),
    )
    period = (
        f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC "
        f"({'weekly' if series.step == 'week' else 'daily'} buckets)"
    )
    nav = tag(
        "nav",
        "Window: ",
        [
            tag(
                "a",
                f"last {label}",
                href=f"/admin?since={label}",
                aria_current="page" if label == window else None,
            )
            for label in WINDOWS
        ],
        tag("span", period, class_="muted"),
        class_="windows",
        aria_label="Time window",
    )
    if not report.conversations:
        content: list[Markup | None] = [
            tag("section", tag("p", EMPTY_WINDOW, class_="empty"))
        ]
    else:
        content = [section(report, series) for section in SECTIONS]
    body = Markup(header + tag("main", nav, content))
    return _document("Helpdesk Copilot admin: outcomes", body, nonce)


# -------------------------------------------------------------- sections ---


def _headline(report: Report, series: Series) -> Markup:
    resolution = report.median_resolution
    if report.satisfaction_mean is None:
        satisfaction: object = "no ratings"
    else:
        satisfaction = [
            f"{report.satisfaction_mean:.2f} of 5 ",
            tag("small", f"from {_count(report.satisfaction_count, 'rating')}"),
        ]
    tiles: list[tuple[str, object]] = [("Conversations", str(report.conversations))]
    tiles += [
        (OUTCOME_LABELS[kind], format_share(report.rate(kind)))
        for kind in OUTCOME_KINDS
    ]
    tiles += [
        (
            "Median time to resolution",
            format_duration(resolution) if resolution is not None else "none resolved",
        ),
        ("Satisfaction", satisfaction),
        ("Thumbs up / down", f"{report.feedback_up} / {report.feedback_down}"),
    ]
    return tag(
        "section",
        tag("h2", "Headline figures", id="headline"),
        tag(
            "dl",
            [tag("div", tag("dt", k), tag("dd", v)) for k, v in tiles],
            class_="tiles",
        ),
        aria_labelledby="headline",
        class_="headline",
    )


def _charts(report: Report, series: Series) -> Markup:
    per = "week" if series.step == "week" else "day"
    outcomes = _bar_chart(
        ident="chart-outcomes",
        title=f"Outcomes per {per}",
        description=(
            f"Conversations by the {per} they started, stacked by how they "
            "ended: " + ", ".join(OUTCOME_LABELS[k].lower() for k in OUTCOME_KINDS)
        ),
        series=series,
        layers=[
            _Layer(OUTCOME_LABELS[k].lower(), OUTCOME_COLOURS[k], _outcome_count(k))
            for k in OUTCOME_KINDS
        ],
    )
    outcome_rows = [
        [_bucket_label(b, series), b.conversations]
        + [b.outcomes.get(k, 0) for k in OUTCOME_KINDS]
        for b in series.buckets
    ]
    satisfaction = _bar_chart(
        ident="chart-satisfaction",
        title=f"Satisfaction per {per}",
        description=f"The mean 1 to 5 rating given each {per}; no bar where "
        "nobody rated",
        series=series,
        layers=[_Layer("mean rating", SATISFACTION_COLOUR, _mean_rating)],
        y_max=5.0,
        value_format=lambda v: f"{v:.2f}",
    )
    satisfaction_rows = [
        [
            _bucket_label(b, series),
            b.satisfaction_count,
            "-" if b.satisfaction_mean is None else f"{b.satisfaction_mean:.2f}",
            b.feedback_up,
            b.feedback_down,
        ]
        for b in series.buckets
    ]
    tools = _bar_chart(
        ident="chart-tools",
        title=f"Tool failures per {per}",
        description=f"Tool calls each {per}: failed ones at the bottom in red, "
        "the ones that worked above them in grey",
        series=series,
        layers=[
            _Layer("failed", FAILURE_COLOUR, lambda b: b.tool_failures),
            _Layer("worked", CALLS_COLOUR, lambda b: b.tool_calls - b.tool_failures),
        ],
    )
    tool_rows = [
        [_bucket_label(b, series), b.tool_calls, b.tool_failures]
        for b in series.buckets
    ]
    first = per.capitalize()
    return tag(
        "section",
        tag("h2", "Over time", id="over-time"),
        tag("h3", f"Outcomes per {per}"),
        outcomes,
        _as_table(
            f"Outcomes per {per}",
            [first, "Conversations", *(OUTCOME_LABELS[k] for k in OUTCOME_KINDS)],
            outcome_rows,
        ),
        tag("h3", f"Satisfaction per {per}"),
        satisfaction,
        _as_table(
            f"Satisfaction per {per}",
            [first, "Ratings", "Mean rating", "Thumbs up", "Thumbs down"],
            satisfaction_rows,
        ),
        tag("h3", f"Tool calls and failures per {per}"),
        tools,
        _as_table(f"Tool calls per {per}", [first, "Tool calls", "Failed"], tool_rows),
        aria_labelledby="over-time",
    )


def _escalations(report: Report, series: Series) -> Markup:
    if not report.escalation_reasons:
        content: Markup = tag("p", "No conversation was escalated.")
    else:
        content = _table(
            "Escalations by reason",
            ["Reason", "Conversations", "Share of all conversations"],
            [
                [reason or "(none given)", n, format_share(n / report.conversations)]
                for reason, n in report.escalation_reasons.items()
            ],
        )
    return tag(
        "section",
        tag("h2", "Escalations by reason", id="escalations"),
        content,
        aria_labelledby="escalations",
    )


def _tools(report: Report, series: Series) -> Markup:
    if not report.tools:
        content: Markup = tag("p", "No tool calls.")
    else:
        content = _table(
            "Tool use",
            ["Tool", "Calls", "Failed", "Failure rate"],
            [
                [t.tool, t.calls, t.failed, format_share(t.failure_rate)]
                for t in report.tools
            ],
        )
    return tag(
        "section",
        tag("h2", "Tool use and failures", id="tools"),
        content,
        aria_labelledby="tools",
    )


def _gaps(report: Report, series: Series) -> Markup:
    if not report.gaps:
        content: Markup = tag("p", "No unanswered questions.")
    else:
        rows = [
            [
                gap.topic,
                gap.count,
                tag("ul", [tag("li", q) for q in gap.examples], class_="examples"),
            ]
            for gap in report.gaps
        ]
        content = _table(
            "Knowledge gaps by topic",
            ["Topic", "Questions", "Latest examples"],
            rows,
        )
    return tag(
        "section",
        tag("h2", "Top knowledge gaps", id="gaps"),
        tag(
            "p",
            "Questions the knowledge base had no article for, grouped by their "
            "commonest word (redacted, as employees asked them).",
            class_="muted",
        ),
        content,
        aria_labelledby="gaps",
    )


def _follow_ups(report: Report, series: Series) -> Markup:
    """What employees said after the answers: "Did this fix it?", each cited
    article's score, and the latest feedback comments (their words)."""
    parts: list[Markup] = [
        tag(
            "p",
            f'"Did this fix it?": {report.fix_yes} yes, {report.fix_no} no. '
            f"Thumbs: {report.feedback_up} up, {report.feedback_down} down.",
        )
    ]
    if report.articles:
        head = ["Article", "Complaints", "Thumbs down", "Still stuck"]
        head += ["Thumbs up", "Fixed it"]
        rows: list[list[object]] = [
            [a.source, a.complaints, a.thumbs_down, a.not_fixed, a.thumbs_up, a.fixed]
            for a in report.articles
        ]
        parts.append(tag("h3", "Articles, the ones that let people down first"))
        parts.append(_table("Articles by complaints", head, rows))
    if report.comments:
        parts.append(tag("h3", "Latest feedback comments"))
        parts.append(
            _table(
                "Latest feedback comments",
                ["When (UTC)", "Thumb", "Comment"],
                [
                    [_plain(c.at), "up" if c.positive else "down", c.text]
                    for c in report.comments
                ],
            )
        )
    return tag(
        "section",
        tag("h2", "What employees said", id="said"),
        parts,
        aria_labelledby="said",
    )


def _other_figures(report: Report, series: Series) -> Markup | None:
    """Report fields no section shows yet, plainly."""
    extra = [f for f in dataclasses.fields(report) if f.name not in SHOWN_FIELDS]
    if not extra:
        return None
    parts: list[Markup] = []
    for f in extra:
        title = f.name.replace("_", " ").capitalize()
        parts.append(tag("h3", title))
        parts.append(_any_value(title, getattr(report, f.name)))
    return tag(
        "section",
        tag("h2", "Other figures", id="other"),
        parts,
        aria_labelledby="other",
    )


SECTIONS: tuple[Callable[[Report, Series], Markup | None], ...] = (
    _headline,
    _charts,
    _escalations,
    _tools,
    _gaps,
    _follow_ups,
    _other_figures,
)
"""The dashboard's sections, top to bottom."""
SHOWN_FIELDS = frozenset(
    (
        "since",
        "until",
        "conversations",
        "outcomes",
        "escalation_reasons",
        "tools",
        "median_resolution",
        "satisfaction_mean",
        "satisfaction_count",
        "feedback_up",
        "feedback_down",
        "gaps",
        "fix_yes",
        "fix_no",
        "articles",
        "comments",
    )
)
"""Report fields that a section of :data:`SECTIONS` shows."""


# ---------------------------------------------------------------- charts ---


@dataclass(frozen=True, slots=True)
class _Layer:
    """One colour of a bar chart: its label and its value in a bucket."""

    label: str
    colour: str
    value: Callable[[Bucket], float | None]


def _bar_chart(
    *,
    ident: str,
    title: str,
    description: str,
    series: Series,
    layers: list[_Layer],
    y_max: float | None = None,
    value_format: Callable[[float], str] = lambda v: f"{v:.0f}",
) -> Markup:
    """Bars per bucket, layers stacked bottom up, as inline SVG.

    Each bar has a tooltip (its ``<title>``); the chart's own ``<title>`` and
    ``<desc>`` name it for screen readers, and a table follows it on the page.
    """
    buckets = series.buckets
    totals = [sum(max(layer.value(b) or 0, 0) for layer in layers) for b in buckets]
    top = y_max if y_max is not None else _nice_ceiling(max(totals, default=0))
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(slot * 0.7, 1.0)

    parts: list[Markup] = [
        tag("title", title, id=f"{ident}-title"),
        tag("desc", description, id=f"{ident}-desc"),
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        parts.append(
            tag("line", x1=_LEFT, x2=_W - _RIGHT, y1=_r(y), y2=_r(y), stroke="#d9dee4")
        )
        parts.append(
            tag(
                "text",
                value_format(top * fraction),
                x=_LEFT - 6,
                y=_r(y + 4),
                text_anchor="end",
                font_size=11,
                fill="#52606d",
            )
        )

    for i, bucket in enumerate(buckets):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        base = 0.0
        for layer in layers:
            value = layer.value(bucket) or 0
            if value <= 0:
                continue
            height = plot_h * value / top
            y = _TOP + plot_h - base - height
            tip = (
                f"{_bucket_label(bucket, series)}: {value_format(value)} {layer.label}"
            )
            parts.append(
                tag(
                    "rect",
                    tag("title", tip),
                    x=_r(x),
                    y=_r(y),
                    width=_r(bar_w),
                    height=_r(height),
                    fill=layer.colour,
                )
            )
            base += height

    every = math.ceil(len(buckets) / _MAX_X_LABELS) or 1
    for i in range(0, len(buckets), every):
        parts.append(
            tag(
                "text",
                _short_date(buckets[i].start),
                x=_r(_LEFT + (i + 0.5) * slot),
                y=_H - 8,
                text_anchor="middle",
                font_size=11,
                fill="#52606d",
            )
        )

    x = float(_LEFT)
    for layer in layers:
        parts.append(tag("rect", x=_r(x), y=8, width=12, height=12, fill=layer.colour))
        parts.append(
            tag("text", layer.label, x=_r(x + 16), y=18, font_size=12, fill="#1f2933")
        )
        x += 32 + 7.5 * len(layer.label)

    return tag(
        "svg",
        parts,
        xmlns="http://www.w3.org/2000/svg",
        role="img",
        aria_labelledby=f"{ident}-title {ident}-desc",
        width=_W,
        height=_H,
        viewBox=f"0 0 {_W} {_H}",
        font_family="system-ui, sans-serif",
        class_="chart",
        id=ident,
    )


def _outcome_count(kind: str) -> Callable[[Bucket], float | None]:
    def count(bucket: Bucket) -> float | None:
        return bucket.outcomes.get(kind, 0)

    return count


def _mean_rating(bucket: Bucket) -> float | None:
    return bucket.satisfaction_mean


def _nice_ceiling(value: float) -> float:
    """The smallest of 2, 4, 6, 10, 20, 40, … that is at least ``value``.

    Even, so that the middle grid line of a count falls on a whole number.
    """
    if value <= 2:
        return 2.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 10):
        if step * magnitude >= value and (step * magnitude) % 2 == 0:
            return float(step * magnitude)
    return float(10 * magnitude)


def _r(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------- tables ---


def _as_table(caption: str, head: list[str], rows: list[list[object]]) -> Markup:
    """A chart's figures as a table, folded away under the chart."""
    return tag(
        "details",
        tag("summary", f"{caption} as a table"),
        _table(caption, head, rows),
    )


def _table(caption: str, head: list[str], rows: list[list[object]]) -> Markup:
    def cell(name: str, value: object) -> Markup:
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return tag(name, value, class_="n" if numeric else None)

    header = tag("tr", [tag("th", h, scope="col") for h in head])
    body = [tag("tr", [cell("td", v) for v in row]) for row in rows]
    # The caption names the table for screen readers; the page shows a heading.
    return tag(
        "table",
        tag("caption", caption, class_="sr"),
        tag("thead", header),
        tag("tbody", body),
    )


def _any_value(title: str, value: object) -> Markup:
    """A figure of unknown shape: a table for records and mappings, else text."""
    if isinstance(value, dict):
        if not value:
            return tag("p", "none")
        rows = [[k, _plain(v)] for k, v in value.items()]
        return _table(title, ["Item", "Value"], rows)
    if isinstance(value, (list, tuple)):
        if not value:
            return tag("p", "none")
        first = value[0]
        if dataclasses.is_dataclass(first) and not isinstance(first, type):
            names = [f.name for f in dataclasses.fields(first)]
            head = [n.replace("_", " ").capitalize() for n in names]
            rows = [[_plain(getattr(item, n, "")) for n in names] for item in value]
            return _table(title, head, rows)
        return tag("ul", [tag("li", _plain(v)) for v in value])
    return tag("p", _plain(value))


def _plain(value: object) -> object:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_plain(v)) for v in value)
    return value


# ------------------------------------------------------------ formatting ---


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _short_date(day: date) -> str:
    return f"{day.day} {day:%b}"


def _bucket_label(bucket: Bucket, series: Series) -> str:
    if series.step == "week":
        return f"week of {bucket.start:%Y-%m-%d}"
    return f"{bucket.start:%Y-%m-%d}"


# ------------------------------------------------------------------ JSON ---


def report_to_json(report: Report, series: Series, *, window: str) -> dict[str, Any]:
    """The figures for ``GET /admin/api/report``.

    Every field of the report is there (new ones too), with the outcome rates
    and each tool's failure rate added; times are ISO 8601 and durations are
    seconds.
    """
    figures = _jsonable(report)
    figures["rates"] = {kind: report.rate(kind) for kind in OUTCOME_KINDS}
    for row, tool in zip(figures.get("tools", []), report.tools, strict=False):
        row["failure_rate"] = tool.failure_rate
    buckets = []
    for bucket in series.buckets:
        entry = _jsonable(bucket)
        entry["conversations"] = bucket.conversations
        buckets.append(entry)
    return {
        "window": window,
        "report": figures,
        "series": {"step": series.step, "buckets": buckets},
    }


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
