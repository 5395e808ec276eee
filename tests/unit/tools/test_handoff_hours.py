"""Business hours of the support agents: time zones, daylight saving, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest

from tools.errors import ConfigError
from tools.handoff.hours import next_opening, open_now, parse_hours
from tools.settings import Settings, load_settings


def _settings(**values: Any) -> Settings:
    return load_settings(**values)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BERLIN = {"handoff_hours": "mon-fri 08:00-18:00", "handoff_timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_utc(2026, 12, 7, 6, 59), False),  # Monday 07:59 in Berlin (UTC+1)
        (_utc(2026, 12, 7, 7, 0), True),  # Monday 08:00
        (_utc(2026, 12, 7, 16, 59), True),  # Monday 17:59
        (_utc(2026, 12, 7, 17, 0), False),  # Monday 18:00
        (_utc(2026, 12, 5, 10, 0), False),  # Saturday
        (_utc(2026, 7, 6, 6, 0), True),  # Monday 08:00 in summer (UTC+2)
        (_utc(2026, 7, 6, 16, 30), False),  # Monday 18:30 in summer
    ],
    ids=[
        "before-start",
        "at-start",
        "before-end",
        "at-end",
        "weekend",
        "summer-start",
        "summer-after-end",
    ],
)
def test_hours_are_wall_clock_time_in_the_agents_zone(
    now: datetime, expected: bool
) -> None:
    assert open_now(_settings(**BERLIN), now) is expected


def test_the_opening_after_a_weekend_follows_daylight_saving() -> None:
    settings = _settings(**BERLIN)

    # Friday 27 March 2026, 19:00 in Berlin (winter time); clocks go forward
    # on Sunday 29 March, so Monday 08:00 is 06:00 UTC.
    assert next_opening(settings, _utc(2026, 3, 27, 18, 0)) == _utc(2026, 3, 30, 6)
    # Friday 23 October 2026 (summer time); Monday 26 October 08:00 is 07:00 UTC.
    assert next_opening(settings, _utc(2026, 10, 23, 17, 0)) == _utc(2026, 10, 26, 7)


def test_a_holiday_has_no_agents_and_the_next_day_opens() -> None:
    settings = _settings(**BERLIN, handoff_holidays="2026-12-24,2026-12-25")

    assert not open_now(settings, _utc(2026, 12, 24, 10))
    assert next_opening(settings, _utc(2026, 12, 24, 10)) == _utc(2026, 12, 28, 7)


def test_open_now_gives_now_as_the_next_opening() -> None:
    now = _utc(2026, 12, 7, 9, 30)

    assert next_opening(_settings(**BERLIN), now) == now


def test_always_is_open_with_no_next_opening() -> None:
    settings = _settings(handoff_hours="always", handoff_holidays="2026-12-25")

    assert open_now(settings, _utc(2026, 12, 25, 3))
    assert next_opening(settings, _utc(2026, 12, 25, 3)) is None


def test_several_groups_and_ranges_with_a_week_that_wraps() -> None:
    week = parse_hours(
        "mon-thu 09:00-12:00 13:00-17:00, fri 09:00-13:00, sun-mon 20:00-24:00"
    )

    assert week is not None
    assert week[0] == [(time(9), time(12)), (time(13), time(17)), (time(20), None)]
    assert week[4] == [(time(9), time(13))]
    assert week[6] == [(time(20), None)]
    assert 5 not in week
    settings = _settings(handoff_hours="fri 09:00-13:00, sun 20:00-24:00")
    assert open_now(settings, _utc(2026, 12, 6, 23, 59))  # Sunday 23:59 UTC
    assert next_opening(settings, _utc(2026, 12, 4, 13)) == _utc(2026, 12, 6, 20)


@pytest.mark.parametrize(
    ("values", "variable", "says"),
    [
        ({"handoff_hours": "weekdays 9-5"}, "HELPDESK_HANDOFF_HOURS", "not a day"),
        ({"handoff_hours": "mon-fri"}, "HELPDESK_HANDOFF_HOURS", "needs days and"),
        ({"handoff_hours": "mon 18:00-08:00"}, "HELPDESK_HANDOFF_HOURS", "ends before"),
        ({"handoff_hours": "mon 08:00-25:00"}, "HELPDESK_HANDOFF_HOURS", "not exist"),
        ({"handoff_hours": " "}, "HELPDESK_HANDOFF_HOURS", "no hours"),
        ({"handoff_timezone": "CET+1"}, "HELPDESK_HANDOFF_TIMEZONE", "IANA"),
        ({"handoff_timezone": "../etc/passwd"}, "HELPDESK_HANDOFF_TIMEZONE", "IANA"),
        ({"handoff_holidays": "25.12.2026"}, "HELPDESK_HANDOFF_HOLIDAYS", "ISO"),
    ],
    ids=[
        "unknown-day",
        "no-times",
        "overnight",
        "hour-25",
        "empty",
        "unknown-zone",
        "zone-path",
        "holiday-not-iso",
    ],
)
def test_bad_values_stop_start_up_naming_the_variable(
    values: dict[str, str], variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(**values)

    assert variable in str(error.value)
    assert says in str(error.value)
