"""Account recovery tools: diagnose sign-in, self-service reset, passes, temporary
passwords and revoking sessions.

The side-effecting tools follow one flow, every check in code and none left to
the model: the tenant allows the method; secrets only in a 1:1 chat; resolve
the person (the requester unless ``user`` names someone else); acting on
someone else needs the help-desk role in the requester's own directory record
and a reason; privileged accounts go to a person; per-person daily limits from
the audit trail; then the approval; then the change; then the secret, shown
once, privately. Backend refusals become an honest answer with a next step,
never a claim of success.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.approvals import ApprovalRequest
from tools.audit import asuccesses_in_last_day
from tools.directory.base import HELPDESK_ROLE, Directory, DirectoryUser
from tools.errors import (
    BackendUnavailable,
    HelpdeskError,
    InvalidInput,
    LimitReached,
    MissingDetail,
    NotFound,
    PermissionDenied,
)
from tools.redact import redact
from tools.registry import USER_MESSAGE_KEY, ToolContext, ToolResult
from tools.secrets import OneTimeSecret, SecretValue
from tools.settings import RecoveryMethod, Settings
from tools.tickets.base import Caller, TicketDraft

logger = logging.getLogger(__name__)

SECURITY_INFO_URL = "https://aka.ms/mysecurityinfo"
"""Where people register sign-in methods (Microsoft's own short link)."""
DEFAULT_APPROVAL_TTL_MINUTES = 10
MAX_REASON_CHARS = 300

_METHOD_WORDS: dict[str, str] = {
    "sspr": "self-service password reset",
    "tap": "a Temporary Access Pass",
    "temporary_password": "a temporary password",
    "revoke": "signing out of every device",
}
_STRONG_METHODS = (
    "Microsoft Authenticator",
    "phone",
    "FIDO2 key",
    "Windows Hello",
    "authenticator app code",
)

SELF_ONLY = (
    "I can only do that for your own account. If it is for someone else, they "
    "can ask me themselves, or contact the IT help desk directly."
)
NEEDS_PERSON = (
    "This account needs a person from IT: it has administrator rights, so I "
    "cannot change it. Please contact the IT help desk."
)
BACKEND_REFUSED = (
    "I can't change this account: it needs a person from IT support. Nothing was "
    "changed. Please contact the IT help desk and mention this request."
)
# After NEEDS_PERSON and BACKEND_REFUSED the assistant offers a drafted ticket.
NOT_FOUND = (
    "That account was not found in the directory, so nothing was changed. Check "
    "the name or e-mail address, or contact the IT help desk."
)


@dataclass(frozen=True, slots=True)
class _Action:
    tool: str
    method: RecoveryMethod
    secret: bool
    title: str
    """The approval card's heading; the card's body says what, to whom."""

    def limit(self, settings: Settings) -> int:
        return {
            "tap": settings.limit_tap_per_day,
            "temporary_password": settings.limit_temp_password_per_day,
            "revoke": settings.limit_revoke_per_day,
        }[self.method]


_TAP = _Action(
    "issue_temporary_access_pass",
    "tap",
    secret=True,
    title="Issue a Temporary Access Pass",
)
_TEMP_PASSWORD = _Action(
    "set_temporary_password",
    "temporary_password",
    secret=True,
    title="Set a temporary password",
)
_REVOKE = _Action(
    "revoke_sessions", "revoke", secret=False, title="Sign out everywhere"
)


# -- the read-only tools -----------------------------------------------------------


async def diagnose_sign_in(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Describe an account's sign-in state in plain words, with the next step.

    Args:
        args: ``user`` (optional): whose account; omitted means the requester.
            Looking at someone else's account needs the help-desk role.
        ctx: the tool context.

    Returns:
        Account enabled or blocked, last password change, registered methods,
        and the next step this tenant offers. No side effects.

    Raises:
        PermissionDenied: someone else's account without the help-desk role.
        NotFound: the account is not in the directory.
    """
    settings: Settings = ctx.services.settings
    directory: Directory = ctx.services.directory
    me = await _requester_record(ctx, directory)
    subject = await _resolve_subject(directory, me, args.get("user"), reason=None)

    # TODO(lockout): Graph exposes no lockout state to apps; read sign-in logs
    # (AuditLog.Read.All) to tell "locked out" from "wrong password".
    lines = [f"Account: {_who(subject)}."]
    if subject.account_enabled:
        lines.append("Sign-in is allowed (the account is enabled).")
    else:
        lines.append("Sign-in is blocked: the account is disabled.")
    lines.append(_password_age(subject.last_password_change))
    if subject.methods:
        lines.append("Registered sign-in methods: " + ", ".join(subject.methods) + ".")
    else:
        lines.append("No sign-in methods are registered.")
    lines.append("Next step: " + _next_step(settings, subject))

    artifact = {
        "account": subject.upn,
        "enabled": subject.account_enabled,
        "last_password_change": (
            subject.last_password_change.isoformat()
            if subject.last_password_change
            else None
        ),
        "methods": list(subject.methods),
    }
    return ToolResult(" ".join(lines), artifact)


async def self_service_reset(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """The self-service password reset link and the steps to follow.

    Returns:
        The steps, with the tenant's reset page; no side effects. When the
        tenant does not offer self-service reset, says so and names what it
        offers instead.
    """
    settings: Settings = ctx.services.settings
    if "sspr" not in settings.recovery_methods:
        return ToolResult(
            "Self-service password reset is not offered in this organisation. "
            "What the help desk offers instead: " + _allowed_words(settings) + ".",
            {"sspr": False},
        )
    account = ctx.requester.upn or "your work account"
    methods: tuple[str, ...] = ()
    try:
        me = await ctx.services.directory.aget_user(ctx.requester.object_id)
        account, methods = me.upn, me.methods
    except HelpdeskError:
        pass  # the steps work without the directory; they are just less specific
    verify = (
        "one of your registered methods (" + ", ".join(methods) + ")"
        if methods
        else "your registered phone or authenticator app"
    )
    steps = [
        f"1. Open {settings.sspr_url} (your phone works if your laptop is locked out).",
        f"2. Enter your work account, {account}, and the characters shown.",
        f"3. Prove it is you with {verify}.",
        "4. Choose a new password you have not used before.",
        "5. Sign in again everywhere with it: laptop, phone mail and Teams.",
    ]
    text = "You can reset your password yourself:\n" + "\n".join(steps)
    if "tap" in settings.recovery_methods:
        text += (
            "\nIf you cannot use any of your sign-in methods, ask me for a "
            "Temporary Access Pass (in a private chat)."
        )
    return ToolResult(text, {"url": settings.sspr_url})


# -- the side-effecting tools ---------------------------------------------------------


async def issue_temporary_access_pass(
    args: dict[str, Any], ctx: ToolContext
) -> ToolResult:
    """Issue a Temporary Access Pass, after approval, shown once in a 1:1 chat.

    Args:
        args: ``user`` (optional; omitted means the requester) and ``reason``
            (required when acting on someone else).
        ctx: the tool context.

    Returns:
        A confirmation without the pass; the pass goes to ``ctx.reveal_once``.

    Raises:
        PermissionDenied, LimitReached, InvalidInput, NotFound,
        BackendUnavailable, ApprovalDenied.
    """
    settings: Settings = ctx.services.settings
    minutes, one_time = settings.tap_lifetime_minutes, settings.tap_one_time

    def describe(subject: DirectoryUser) -> str:
        kind = "one-time" if one_time else "reusable"
        return (
            f"Issue a {kind} Temporary Access Pass for {_who(subject)}, valid "
            f"{minutes} minutes"
        )

    async def act(subject: DirectoryUser) -> ToolResult:
        created = await ctx.services.directory.acreate_temporary_access_pass(
            subject.object_id, lifetime_minutes=minutes, one_time=one_time
        )
        expires = created.starts_at + timedelta(minutes=created.lifetime_minutes)
        _reveal(
            ctx,
            label=f"Temporary Access Pass for {subject.display_name}",
            value=created.value,
            expires_at=expires,
            instructions=(
                f"Sign in with it at {SECURITY_INFO_URL} and register Microsoft "
                "Authenticator or another method. "
                + ("It works once " if created.one_time else "It works ")
                + f"until {expires:%H:%M} UTC."
            ),
        )
        return _done(
            f"A Temporary Access Pass for {subject.display_name} was created, "
            f"valid {created.lifetime_minutes} minutes"
            + (" and usable once" if created.one_time else ""),
            subject,
            expires,
        )

    return await _run(
        _TAP, args, ctx, describe, act, facts=[("Valid for", f"{minutes} minutes")]
    )


async def set_temporary_password(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Set a temporary password that must be changed at next sign-in.

    Args:
        args: ``user`` (optional) and ``reason`` (required for someone else).
        ctx: the tool context.

    Returns:
        A confirmation without the password; it goes to ``ctx.reveal_once``.

    Raises:
        PermissionDenied, LimitReached, InvalidInput, NotFound,
        BackendUnavailable, ApprovalDenied.
    """

    def describe(subject: DirectoryUser) -> str:
        return (
            f"Set a temporary password for {_who(subject)}; it must be changed "
            "at the next sign-in"
        )

    async def act(subject: DirectoryUser) -> ToolResult:
        value = await ctx.services.directory.aset_temporary_password(subject.object_id)
        _reveal(
            ctx,
            label=f"Temporary password for {subject.display_name}",
            value=value,
            expires_at=None,
            instructions="Sign in with it; you will be asked to choose a new "
            "password straight away.",
        )
        return _done(
            f"A temporary password was set for {subject.display_name}; it must be "
            "changed at the next sign-in",
            subject,
            None,
        )

    return await _run(
        _TEMP_PASSWORD,
        args,
        ctx,
        describe,
        act,
        facts=[("At next sign-in", "a new password must be chosen")],
    )


async def revoke_sessions(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Sign a person out of every app and device (lost phone, leaked password).

    Args:
        args: ``user`` (optional) and ``reason`` (required for someone else).
        ctx: the tool context.

    Returns:
        A confirmation and what to do next.

    Raises:
        PermissionDenied, LimitReached, InvalidInput, NotFound,
        BackendUnavailable, ApprovalDenied.
    """

    def describe(subject: DirectoryUser) -> str:
        return (
            f"Sign {_who(subject)} out of every app and device (revoke all "
            "sign-in sessions)"
        )

    async def act(subject: DirectoryUser) -> ToolResult:
        await ctx.services.directory.arevoke_sessions(subject.object_id)
        result = _done(
            f"{subject.display_name} was signed out of every app and device; it "
            "can take a few minutes to reach all of them",
            subject,
            None,
            secret=False,
        )
        opened = await _security_ticket(ctx, subject, str(args.get("reason") or ""))
        told = (
            f" Security ticket {opened} was opened so that IT checks the account."
            if opened
            else ""
        )
        artifact = dict(result.artifact or {})
        if told and artifact.get(USER_MESSAGE_KEY):
            artifact[USER_MESSAGE_KEY] = str(artifact[USER_MESSAGE_KEY]) + told
        return ToolResult(
            result.content
            + told
            + " If the password may be known to someone else, change it next "
            "(self-service reset or a temporary password).",
            artifact,
        )

    return await _run(
        _REVOKE,
        args,
        ctx,
        describe,
        act,
        facts=[
            ("Effect", "signed out everywhere, must sign in again"),
            ("Also", "a security ticket, so that IT checks the account"),
        ],
    )


async def _security_ticket(
    ctx: ToolContext, subject: DirectoryUser, reason: str
) -> str | None:
    """Open the security ticket that follows revoked sessions; its number or
    reference, or None. The sign-out already happened: a failure here is
    logged for the operator, never reported as a failed sign-out."""
    tickets = getattr(ctx.services, "tickets", None)
    key = ctx.audit.approval_id
    if tickets is None or not key:
        logger.warning("sessions revoked without a security ticket (no ticket system)")
        return None
    asked_by = ctx.requester.name or ctx.requester.upn or ctx.requester.object_id
    why = (
        redact(reason.strip())
        or "the employee reported a lost device or a leaked password"
    )
    try:
        ticket = await tickets.acreate(
            TicketDraft(
                idempotency_key=f"{key}:security",
                caller=Caller(
                    object_id=subject.object_id,
                    tenant_id=ctx.requester.tenant_id,
                    upn=subject.upn,
                    name=subject.display_name,
                ),
                short_description=f"Sessions revoked for {subject.display_name}: "
                "check the account for misuse",
                description=(
                    f"The help desk copilot signed {_who(subject)} out of every app "
                    f"and device at the request of {asked_by}. Reason: {why}. Check "
                    "recent sign-ins, MFA methods and mailbox rules for misuse, and "
                    "make sure the password is changed."
                ),
                category="security",
                urgency="high",
                impact="low",
                service="Entra ID sign-in",
                tried=["Revoked every sign-in session (approved on a card)"],
            )
        )
    except Exception as exc:  # the sign-out stands; tell the operator
        logger.error(
            "sessions revoked for %s but the security ticket failed: %s",
            subject.object_id,
            type(exc).__name__,
        )
        return None
    return ticket.label


# -- the shared flow ------------------------------------------------------------------


async def _run(
    spec: _Action,
    args: dict[str, Any],
    ctx: ToolContext,
    describe: Callable[[DirectoryUser], str],
    act: Callable[[DirectoryUser], Awaitable[ToolResult]],
    *,
    facts: list[tuple[str, str]],
) -> ToolResult:
    settings: Settings = ctx.services.settings
    directory: Directory = ctx.services.directory
    wanted = str(args.get("user") or "").strip()
    reason = str(args.get("reason") or "").strip()[:MAX_REASON_CHARS]
    ctx.audit.action = spec.tool
    ctx.audit.subject_id = wanted or ctx.requester.object_id

    if spec.method not in settings.recovery_methods:
        raise PermissionDenied(
            f"{spec.tool}: method {spec.method} is disabled by HELPDESK_RECOVERY_METHODS",
            user_message=f"This organisation does not offer {_METHOD_WORDS[spec.method]} "
            f"through the help desk bot. What it offers: {_allowed_words(settings)}.",
        )
    if spec.secret and (not ctx.private_chat or ctx.thread_id is None):
        raise PermissionDenied(
            f"{spec.tool}: refused outside a 1:1 chat (the secret could not be shown)",
            user_message="For your security I can only do that in a private chat "
            "with me. Open a 1:1 chat with the help desk and ask again.",
        )

    me = await _requester_record(ctx, directory)
    subject = await _resolve_subject(directory, me, wanted, reason=reason)
    ctx.audit.subject_id = subject.object_id
    acting_for_other = subject.object_id != me.object_id

    if subject.privileged:
        raise PermissionDenied(
            f"{spec.tool}: {subject.object_id} is privileged", user_message=NEEDS_PERSON
        )
    if spec.secret and not subject.account_enabled:
        raise PermissionDenied(
            f"{spec.tool}: {subject.object_id} is disabled",
            user_message="This account is disabled, so a pass or password would not "
            "help: a person from IT has to look at it. Please contact the IT help "
            "desk.",
        )
    await _check_limit(spec, ctx, subject)

    action = describe(subject)
    ctx.audit.action = action
    request_facts = [("Account", _who(subject))]
    if acting_for_other:
        request_facts += [("Requested by", _who(me)), ("Reason", reason)]
    request_facts += facts
    if spec.secret:
        request_facts.append(("Shown to", "you, once, in this private chat"))
    ttl = getattr(settings, "approval_ttl_minutes", DEFAULT_APPROVAL_TTL_MINUTES)
    await ctx.approve(
        ApprovalRequest(
            approval_id="",
            tool=spec.tool,
            title=spec.title,
            action=action + ".",
            requester_id=ctx.requester.object_id,
            subject_id=subject.object_id,
            approver_id=ctx.requester.object_id,
            expires_at=datetime.now(UTC) + timedelta(minutes=ttl),
            facts=request_facts,
        )
    )

    try:
        return await act(subject)
    except PermissionDenied as exc:
        raise _keep_id(
            PermissionDenied(str(exc), user_message=BACKEND_REFUSED), exc
        ) from exc
    except NotFound as exc:
        raise _keep_id(NotFound(str(exc), user_message=NOT_FOUND), exc) from exc
    except BackendUnavailable as exc:
        raise BackendUnavailable(
            str(exc),
            user_message=_try_later(exc.retry_after),
            retry_after=exc.retry_after,
            request_id=exc.request_id,
        ) from exc


async def _requester_record(ctx: ToolContext, directory: Directory) -> DirectoryUser:
    try:
        return await directory.aget_user(ctx.requester.object_id)
    except NotFound as exc:
        raise PermissionDenied(
            f"requester {ctx.requester.object_id} is not in the directory",
            user_message="I could not find your own account in the directory, so I "
            "cannot change anything for you. Please contact the IT help desk.",
        ) from exc


async def _resolve_subject(
    directory: Directory,
    me: DirectoryUser,
    wanted: str | None,
    *,
    reason: str | None,
) -> DirectoryUser:
    """The requester, or (help-desk role only) the one person ``wanted`` names.

    ``reason`` None means none is needed (read-only tools).
    """
    wanted = (wanted or "").strip()
    if not wanted or _names_me(me, wanted):
        return me
    # Role first: a refused requester learns nothing about who exists.
    if HELPDESK_ROLE not in me.roles:
        raise PermissionDenied(
            f"{me.object_id} lacks the {HELPDESK_ROLE} role to act on {wanted!r}",
            user_message=SELF_ONLY,
            escalate=False,
        )
    if reason is not None and not reason:
        raise MissingDetail(
            f"acting on {wanted!r} without a reason",
            field="reason",
            user_message="Acting on someone else's account needs a reason (it goes "
            "in the audit trail). Why is this needed?",
        )

    try:
        found = await directory.aget_user(wanted)
    except NotFound:
        matches = await directory.afind_users(wanted, limit=5)
        if not matches:
            raise NotFound(
                f"no directory match for {wanted!r}",
                user_message=f"I could not find anyone matching {wanted!r} in the "
                "directory. Check the name, or give me their e-mail address.",
                escalate=False,
            ) from None
        if len(matches) > 1:
            names = "; ".join(_who(m) for m in matches)
            raise InvalidInput(
                f"{len(matches)} directory matches for {wanted!r}",
                user_message=f"I found several people matching {wanted!r}: {names}. "
                "Which one do you mean? Their e-mail address is safest.",
            ) from None
        found = await directory.aget_user(matches[0].object_id)
    return me if found.object_id == me.object_id else found


def _names_me(me: DirectoryUser, wanted: str) -> bool:
    lowered = wanted.lower()
    if lowered in ("me", "myself", "my account", "mine"):
        return True
    return lowered in {
        v.lower() for v in (me.object_id, me.upn, me.mail, me.display_name) if v
    }


async def _check_limit(spec: _Action, ctx: ToolContext, subject: DirectoryUser) -> None:
    limit = spec.limit(ctx.services.settings)
    done = await asuccesses_in_last_day(
        ctx.services.db,
        tenant_id=ctx.requester.tenant_id,
        subject_id=subject.object_id,
        tool=spec.tool,
    )
    if len(done) < limit:
        return
    resets_at = done[len(done) - limit] + timedelta(hours=24)
    times = "once" if limit == 1 else f"{limit} times"
    raise LimitReached(
        f"{spec.tool}: {len(done)} in 24 h for {subject.object_id} (limit {limit})",
        user_message=f"{_METHOD_WORDS[spec.method].capitalize()} can be used "
        f"{times} a day per person, and that is used up for "
        f"{subject.display_name}. It resets at {resets_at:%H:%M} UTC on "
        f"{resets_at:%d %B}. If it cannot wait, please contact the IT help desk.",
        resets_at=resets_at,
    )


def _reveal(
    ctx: ToolContext,
    *,
    label: str,
    value: SecretValue,
    expires_at: datetime | None,
    instructions: str,
) -> None:
    # Shown to whoever asked, in their 1:1 chat: the owner for self-service,
    # the help-desk agent (who passes it on over a verified channel) otherwise.
    ctx.reveal_once(
        OneTimeSecret(
            label=label,
            value=value,
            subject_id=ctx.requester.object_id,
            expires_at=expires_at,
            instructions=instructions,
        )
    )


def _done(
    what: str, subject: DirectoryUser, expires: datetime | None, *, secret: bool = True
) -> ToolResult:
    text = f"Done: {what}."
    told = f"Done: {what}."
    if secret:
        text += (
            " The value is shown to the requester privately, once, in this chat, "
            "right after this reply. Never repeat it, never ask for it, and never "
            "write it anywhere."
        )
        told += " I show it to you below, once, and keep no copy."
    artifact: dict[str, Any] = {
        "done": True,
        "account": subject.upn,
        USER_MESSAGE_KEY: told,
    }
    if expires is not None:
        artifact["expires_at"] = expires.isoformat()
    return ToolResult(text, artifact)


def _keep_id(new: HelpdeskError, old: HelpdeskError) -> HelpdeskError:
    new.request_id = old.request_id
    return new


def _try_later(retry_after: float | None) -> str:
    when = "in a few minutes"
    if retry_after:
        minutes = max(1, round(retry_after / 60))
        when = "in about a minute" if minutes == 1 else f"in about {minutes} minutes"
    return (
        "The directory did not confirm the change, so do not count on it. "
        f"Please try again {when}; if it keeps failing, contact the IT help desk."
    )


def _who(user: DirectoryUser) -> str:
    return f"{user.display_name} ({user.mail or user.upn})"


def _password_age(changed: datetime | None) -> str:
    if changed is None:
        return "The last password change is not recorded."
    days = (datetime.now(UTC) - changed).days
    ago = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
    return f"The password was last changed on {changed:%d %B %Y} ({ago})."


def _next_step(settings: Settings, subject: DirectoryUser) -> str:
    allowed = settings.recovery_methods
    if subject.privileged:
        return (
            "this is an administrator account: a person from IT handles its recovery."
        )
    if not subject.account_enabled:
        return "only a person from IT can enable the account again; contact the IT help desk."
    strong = any(m.startswith(_STRONG_METHODS) for m in subject.methods)
    if not strong and "tap" in allowed:
        return (
            "no second sign-in method is registered; I can issue a Temporary "
            "Access Pass (in a private chat) so you can sign in once and register "
            "one."
        )
    preferred = settings.recovery_preferred
    if preferred == "sspr":
        return f"reset the password yourself at {settings.sspr_url}."
    if preferred == "tap":
        return "I can issue a Temporary Access Pass in a private chat."
    if preferred == "temporary_password":
        return "I can set a temporary password in a private chat."
    return "if you think someone else has your password, I can sign you out everywhere."


def _allowed_words(settings: Settings) -> str:
    return ", ".join(_METHOD_WORDS[m] for m in settings.recovery_methods)
