"""When a schedule fires: cron on the zone's wall clock, @every in real time, daylight-saving
edges decided once, blackout windows, and bad input refused naming its field."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from chaoshub.errors import InvalidInput
from chaoshub.schedules.timing import Timetable


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(table: Timetable, times: list[datetime]) -> list[str]:
    return [t.astimezone(table.zone).strftime("%m-%d %H:%M%z") for t in times]


def test_a_five_field_cron_fires_on_the_zones_wall_clock() -> None:
    table = Timetable.parse("0 9 * * 1-5", "America/New_York")
    # Friday 2026-12-11 12:00 UTC is 07:00 in New York: 09:00 that day, then Monday
    assert local(table, table.fire_times(utc(2026, 12, 11, 12, 0), 3)) == [
        "12-11 09:00-0500",
        "12-14 09:00-0500",
        "12-15 09:00-0500",
    ]


def test_descriptors_are_cron_shorthands() -> None:
    hourly = Timetable.parse("@hourly", "UTC")
    assert hourly.fire_times(utc(2026, 1, 1, 10, 15), 2) == [
        utc(2026, 1, 1, 11, 0),
        utc(2026, 1, 1, 12, 0),
    ]
    daily = Timetable.parse("@daily", "Asia/Tokyo")
    assert daily.fire_times(utc(2026, 1, 1, 10, 15), 1) == [utc(2026, 1, 1, 15, 0)]


def test_every_counts_real_time_from_its_anchor() -> None:
    table = Timetable.parse("@every 90s", "Europe/Paris", anchor=utc(2026, 1, 1))
    assert table.fire_times(utc(2026, 1, 1, 0, 10), 3) == [
        utc(2026, 1, 1, 0, 10, 30),
        utc(2026, 1, 1, 0, 12, 0),
        utc(2026, 1, 1, 0, 13, 30),
    ]
    assert Timetable.parse("@every 1h30m", anchor=utc(2026, 1, 1)).next_tick(
        utc(2026, 1, 1)
    ) == utc(2026, 1, 1, 1, 30)


def test_every_ignores_daylight_saving_it_is_real_time() -> None:
    # Paris springs forward at 01:00 UTC on 2026-03-29: 5-minute gaps stay 5 minutes
    table = Timetable.parse("@every 5m", "Europe/Paris", anchor=utc(2026, 3, 29, 0, 0))
    times = table.fire_times(utc(2026, 3, 29, 0, 50), 4)
    assert [(b - a).total_seconds() for a, b in pairwise(times)] == [300] * 3


def test_a_time_skipped_by_spring_forward_fires_once_when_the_clock_jumps() -> None:
    # Europe/Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
    table = Timetable.parse("30 2 * * *", "Europe/Paris")
    assert local(table, table.fire_times(utc(2026, 3, 28, 12, 0), 3)) == [
        "03-29 03:00+0200",  # the instant the clock jumps: fired then, once
        "03-30 02:30+0200",
        "03-31 02:30+0200",
    ]


def test_every_tick_in_the_gap_and_the_tick_at_the_jump_are_one_fire() -> None:
    table = Timetable.parse("*/20 * * * *", "Europe/Paris")
    # 02:00, 02:20, 02:40 are skipped by the jump; they and 03:00 are a single fire
    assert local(table, table.fire_times(utc(2026, 3, 29, 0, 30), 4)) == [
        "03-29 01:40+0100",
        "03-29 03:00+0200",
        "03-29 03:20+0200",
        "03-29 03:40+0200",
    ]


def test_a_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() -> None:
    # Europe/Paris, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
    table = Timetable.parse("30 2 * * *", "Europe/Paris")
    assert local(table, table.fire_times(utc(2026, 10, 24, 12, 0), 2)) == [
        "10-25 02:30+0200",
        "10-26 02:30+0100",
    ]
    hourly = Timetable.parse("0,30 * * * *", "Europe/Paris")
    assert local(hourly, hourly.fire_times(utc(2026, 10, 24, 23, 45), 5)) == [
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        # the repeated 02:00 and 02:30 (+0100) add nothing
        "10-25 03:00+0100",
        "10-25 03:30+0100",
        "10-25 04:00+0100",
    ]


def test_counting_from_inside_the_repeated_hour_does_not_go_back() -> None:
    table = Timetable.parse("*/15 * * * *", "Europe/Paris")
    # 00:40 UTC is the second 02:40 (CET); the next fire is 03:00 CET, not a past one
    assert local(table, table.fire_times(utc(2026, 10, 25, 1, 40), 1)) == ["10-25 03:00+0100"]


def test_blackout_windows_leave_out_days_and_overnight_hours() -> None:
    table = Timetable.parse(
        "0 * * * *",
        "Europe/Paris",
        [{"days": ["sat", "sun"]}, {"start": "22:00", "end": "06:00"}],
    )
    # from Friday 2026-12-11 20:30 Paris: 21:00 fires; 22:00 Friday to Monday 06:00 is dark
    assert local(table, table.fire_times(utc(2026, 12, 11, 19, 30), 3)) == [
        "12-11 21:00+0100",
        "12-14 06:00+0100",
        "12-14 07:00+0100",
    ]
    assert table.blackout(utc(2026, 12, 12, 12, 0)) is not None  # Saturday noon
    assert table.blackout(utc(2026, 12, 14, 4, 0)) is not None  # Monday 05:00 Paris
    assert table.blackout(utc(2026, 12, 14, 9, 0)) is None


def test_a_window_on_named_days_past_midnight_belongs_to_the_day_it_starts() -> None:
    table = Timetable.parse(
        "0 * * * *", "UTC", [{"days": ["fri"], "start": "23:00", "end": "02:00"}]
    )
    assert table.blackout(utc(2026, 12, 11, 23, 30)) is not None  # Friday 23:30
    assert table.blackout(utc(2026, 12, 12, 1, 30)) is not None  # Saturday 01:30, Friday's
    assert table.blackout(utc(2026, 12, 13, 1, 30)) is None  # Sunday 01:30


@pytest.mark.parametrize(
    ("cron", "zone", "blackouts", "field"),
    [
        ("61 * * * *", "UTC", None, ["cron"]),
        ("* * * * * *", "UTC", None, ["cron"]),  # seconds are not one of the 5 fields
        ("@fortnightly", "UTC", None, ["cron"]),
        ("@every 0s", "UTC", None, ["cron"]),
        ("@every soon", "UTC", None, ["cron"]),
        ("0 * * * *", "Mars/Olympus_Mons", None, ["timeZone"]),
        ("0 * * * *", "../etc/passwd", None, ["timeZone"]),
        ("0 * * * *", "UTC", {"days": ["sat"]}, ["blackouts"]),
        ("0 * * * *", "UTC", [{"days": ["caturday"]}], ["blackouts", "0", "days", "0"]),
        ("0 * * * *", "UTC", [{}, {"start": "25:00", "end": "06:00"}], ["blackouts", "0", "days"]),
        ("0 * * * *", "UTC", [{"start": "25:00", "end": "06:00"}], ["blackouts", "0", "start"]),
        ("0 * * * *", "UTC", [{"start": "22:00"}], ["blackouts", "0", "end"]),
        ("0 * * * *", "UTC", [{"start": "22:00", "end": "22:00"}], ["blackouts", "0", "end"]),
        ("0 * * * *", "UTC", [{"days": ["sat"], "from": "1"}], ["blackouts", "0", "from"]),
    ],
)
def test_bad_timetables_are_refused_naming_the_field(
    cron: str, zone: str, blackouts: object, field: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Timetable.parse(cron, zone, blackouts)
    assert refused.value.field == field, refused.value


def test_fire_times_step_over_a_blackout_window_to_its_end() -> None:
    # every second, nightly window 22:00-06:00 in Paris: the next fire after 23:00 is 06:00
    table = Timetable.parse(
        "@every 1s",
        "Europe/Paris",
        [{"start": "22:00", "end": "06:00"}],
        anchor=utc(2026, 1, 1),
    )
    assert table.fire_times(utc(2026, 1, 5, 22, 0), 2) == [
        utc(2026, 1, 6, 5, 0, 0),  # 06:00 in Paris
        utc(2026, 1, 6, 5, 0, 1),
    ]


def test_a_timetable_its_windows_always_cover_has_no_fire_times() -> None:
    daily_in_window = Timetable.parse("0 3 * * *", "UTC", [{"start": "02:00", "end": "04:00"}])
    assert daily_in_window.fire_times(utc(2026, 1, 1), 5) == []
    every_day_blacked = Timetable.parse(
        "@every 1s", "UTC", [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}]
    )
    assert every_day_blacked.fire_times(utc(2026, 1, 1), 3) == []


def test_a_leap_day_schedule_is_found_years_ahead() -> None:
    table = Timetable.parse("0 12 29 2 *", "UTC")
    assert table.fire_times(utc(2026, 3, 1), 1) == [utc(2028, 2, 29, 12, 0)]
