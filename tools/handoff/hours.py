"""When support agents work: business hours in a time zone, minus holidays.

``HELPDESK_HANDOFF_HOURS`` is a comma-separated list of day groups, each days
then one or more time ranges: ``mon-fri 08:00-18:00``, ``mon-thu 09:00-17:00,
fri 09:00-13:00`` or ``mon-fri 08:00-12:00 13:00-17:00``; ``always`` means
round the clock. Times are wall-clock times in ``HELPDESK_HANDOFF_TIMEZONE``,
so a shift starts at 08:00 local on both sides of a daylight-saving change.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from tools.settings import Settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Window = tuple[time, time | None]
"""A start and an end on one day; an end of None means midnight (24:00)."""
Week = dict[int, list[Window]]
"""Windows by weekday (0 = Monday)."""

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_EXAMPLE = "e.g. mon-fri 08:00-18:00 or mon-thu 09:00-17:00, fri 09:00-13:00"
_LOOKAHEAD_DAYS = 400


def parse_hours(text: str) -> Week | None:
    """Read an hours setting.

    Returns:
        The windows of each weekday, or None for ``always``.

    Raises:
        ValueError: the text cannot be read; the message says which part and
            shows the form.
    """
    spec = " ".join(text.split()).lower()
    if spec in ("always", "24/7"):
        return None
    if not spec:
        raise ValueError(f"no hours given; {_EXAMPLE}, or always")
    week: Week = {}
    for group in spec.split(","):
        parts = group.split()
        if len(parts) < 2:
            raise ValueError(
                f"{group.strip()!r} needs days and times; {_EXAMPLE}, or always"
            )
        days = _days(parts[0])
        windows = [_window(p) for p in parts[1:]]
        for day in days:
            week.setdefault(day, []).extend(windows)
    for windows in week.values():
        windows.sort(key=lambda w: w[0])
    return week


def parse_holidays(values: list[str]) -> frozenset[date]:
    """Read holiday dates (ISO, e.g. 2026-12-25).

    Raises:
        ValueError: a value is not an ISO date; the message names it.
    """
    days = set()
    for value in values:
        try:
            days.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date; write ISO dates such as 2026-12-25, "
                "comma-separated"
            ) from None
    return frozenset(days)


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``.

    Raises:
        ValueError: there is no such zone on this system.
    """
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known time zone; use an IANA name such as "
            "Europe/Berlin, America/New_York or UTC"
        ) from None


def open_now(settings: Settings, now: datetime | None = None) -> bool:
    """True when agents work at ``now`` (default: this moment).

    Args:
        settings: gives ``handoff_hours``, ``handoff_timezone`` and
            ``handoff_holidays`` (validated at start-up).
        now: an aware time; a naive one is taken as UTC.
    """
    week = parse_hours(settings.handoff_hours)
    if week is None:
        return True
    zone = parse_timezone(settings.handoff_timezone)
    local = _aware(now).astimezone(zone)
    if local.date() in parse_holidays(settings.handoff_holidays):
        return False
    clock = local.time().replace(tzinfo=None)
    return any(
        start <= clock and (end is None or clock < end)
        for start, end in week.get(local.weekday(), [])
    )


def next_opening(settings: Settings, now: datetime | None = None) -> datetime | None:
    """When agents next work, as an aware UTC time; ``now`` when they work now.

    Returns:
        None for ``always``, or when no working day comes within a year (all
        holidays).
    """
    week = parse_hours(settings.handoff_hours)
    if week is None:
        return None
    moment = _aware(now)
    if open_now(settings, moment):
        return moment.astimezone(UTC)
    zone = parse_timezone(settings.handoff_timezone)
    holidays = parse_holidays(settings.handoff_holidays)
    local = moment.astimezone(zone)
    for offset in range(_LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        if day in holidays:
            continue
        for start, _ in week.get(day.weekday(), []):
            opening = datetime.combine(day, start, tzinfo=zone)
            # A start inside a spring-forward gap is normalised to a real instant.
            opening_utc = opening.astimezone(UTC)
            if opening_utc > moment:
                return opening_utc
    return None


def describe_opening(settings: Settings, opening: datetime) -> str:
    """``opening`` in the agents' time zone, for the employee: "Monday 08:00 (Europe/Berlin)"."""
    zone = parse_timezone(settings.handoff_timezone)
    local = opening.astimezone(zone)
    return f"{local:%A} {local:%H:%M} ({settings.handoff_timezone})"


def _days(text: str) -> list[int]:
    first, dash, last = text.partition("-")
    if first not in DAYS or (dash and last not in DAYS):
        raise ValueError(
            f"{text!r} is not a day or day range; use mon, tue, wed, thu, fri, "
            f"sat, sun, or a range such as mon-fri; {_EXAMPLE}"
        )
    start = DAYS.index(first)
    end = DAYS.index(last) if dash else start
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _window(text: str) -> Window:
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time range such as 08:00-18:00")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24:
        raise ValueError(f"{text!r} has a time that does not exist")
    if end_h == 24 and end_m:
        raise ValueError(f"{text!r} ends after 24:00")
    start = time(start_h, start_m)
    end = None if end_h == 24 else time(end_h, end_m)
    if end is not None and end <= start:
        raise ValueError(
            f"{text!r} ends before it starts; a shift past midnight is two "
            "ranges (mon 22:00-24:00, tue 00:00-06:00)"
        )
    return start, end


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
