"""The product's error tree; every layer raises these and translates at its edge.

    HelpdeskError
    ├── ConfigError          a setting is missing or wrong (operator's fault)
    ├── InvalidInput         a request or argument is malformed (caller's fault)
    │   └── MissingDetail    one detail the employee can still give is missing
    ├── PermissionDenied     the requester may not do this (policy)
    │   └── LimitReached     a per-person allowance is used up for now
    ├── NotFound             the thing asked about does not exist
    ├── ToolError            a tool could not do its job (message is for the model)
    └── BackendUnavailable   an outside system is down, slow or refusing (retry later)

Each carries ``user_message``: one plain sentence for the employee, with what to
do next. ``str(error)`` is for the operator's log and may name systems and ids.
``request_id`` is the outside system's own id of the failed call, when it gave one.
"""

from __future__ import annotations

from datetime import datetime


class HelpdeskError(Exception):
    """Base of every error the product raises on purpose."""

    default_user_message = (
        "Something went wrong on my side. Please try again in a minute."
    )
    request_id: str | None = None
    escalate: bool = True
    """A person from IT could help where the tool could not: the assistant
    offers a ticket. False for refusals a person would repeat (acting on
    someone else's account without the role)."""

    def __init__(
        self,
        message: str,
        *,
        user_message: str | None = None,
        escalate: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.user_message = user_message or self.default_user_message
        if escalate is not None:
            self.escalate = escalate


class ConfigError(HelpdeskError):
    """A setting is missing or has a value the product cannot use."""

    default_user_message = (
        "The help desk is not configured correctly. Please tell IT support."
    )


class InvalidInput(HelpdeskError):
    """A request, argument or file is malformed; the caller must change it."""

    escalate = False

    default_user_message = "I could not read that request. Please rephrase it."


class MissingDetail(InvalidInput):
    """The request lacks one detail the employee can give (e.g. a reason).

    ``field`` names the tool argument; the next message can supply it.
    """

    def __init__(self, message: str, *, field: str, user_message: str) -> None:
        super().__init__(message, user_message=user_message)
        self.field = field


class PermissionDenied(HelpdeskError):
    """The requester is not allowed to do this."""

    default_user_message = "You are not allowed to do that here."


class LimitReached(PermissionDenied):
    """A per-person limit (e.g. one pass a day) is reached until ``resets_at``."""

    default_user_message = "You have reached the limit for that today."

    def __init__(
        self,
        message: str,
        *,
        user_message: str | None = None,
        resets_at: datetime | None = None,
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.resets_at = resets_at


class NotFound(HelpdeskError):
    """The thing asked about does not exist."""

    default_user_message = "I could not find that."


class ToolError(HelpdeskError):
    """A tool failed in a way the model should be told about in plain text."""


class BackendUnavailable(HelpdeskError):
    """An outside system is down, slow or refusing; the same call may work later.

    Args:
        message: the operator's description, naming the system.
        retry_after: seconds the system asked us to wait, when it said so.
        request_id: the system's own request id, for the log.
    """

    default_user_message = (
        "A system I depend on is not answering right now. Please try again "
        "in a few minutes."
    )

    def __init__(
        self,
        message: str,
        *,
        user_message: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.retry_after = retry_after
        self.request_id = request_id
