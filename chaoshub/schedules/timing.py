"""When a schedule fires: cron (5 fields or an ``@hourly``-style descriptor, via croniter) or
``@every <duration>``, in an IANA time zone, minus blackout windows.

Cron is evaluated on the zone's wall clock, then each wall-clock time is placed on the UTC
line. Daylight-saving edges are decided here, once:

- a wall-clock time that a spring-forward skips (02:30 when clocks jump from 02:00 to 03:00)
  fires at the instant the clock jumps (03:00 local), once: every tick in the gap and a tick
  at the jump itself are one fire;
- a wall-clock time that a fall-back repeats (01:30 twice) fires once, at its first
  occurrence; the repeated hour adds no fires.

``@every`` counts fixed intervals of real time from the schedule's anchor (when its timetable
was saved) and knows nothing of zones; blackout windows still apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from chaoshub.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MIN_EVERY = timedelta(seconds=1)
MAX_EVERY = timedelta(days=366)
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str, field: list[str | int]) -> timedelta:
    """``90s``, ``5m``, ``1h30m``, ``2d`` (Go-style units ms s m h, and d)."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise InvalidInput(
            f"@every needs a duration such as 90s, 5m or 1h30m; got {text!r}", field=field
        )
    every = timedelta(seconds=sum(float(n) * _UNIT[u] for n, u in parts))
    if not (MIN_EVERY <= every <= MAX_EVERY):
        raise InvalidInput(
            f"@every must be between {MIN_EVERY.total_seconds():g}s and "
            f"{MAX_EVERY.days} days; got {text!r}",
            field=field,
        )
    return every


def zone(name: str, field: list[str | int] | None = None) -> ZoneInfo:
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Paris or UTC",
            field=field or ["timeZone"],
        ) from None


@dataclass(frozen=True)
class Blackout:
    """No start in this window: on ``days`` (all day, or from ``start`` on those days), or
    every day from ``start`` to ``end``; a window whose end is before its start runs past
    midnight and belongs to the day it starts on."""

    days: tuple[int, ...]
    start: time | None
    end: time | None

    def covers(self, local: datetime) -> bool:
        day, clock = local.weekday(), local.time()
        if self.start is None or self.end is None:
            return self._on(day)
        if self.start < self.end:
            return self._on(day) and self.start <= clock < self.end
        return (clock >= self.start and self._on(day)) or (
            clock < self.end and self._on((day - 1) % 7)
        )

    def _on(self, day: int) -> bool:
        return not self.days or day in self.days

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in self.days) if self.days else "every day"
        if self.start is None or self.end is None:
            return days
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_blackouts(value: Any, field: str = "blackouts") -> list[Blackout]:
    """Validate blackout windows, naming the path of the first wrong part."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("blackouts must be a list of windows", field=[field])
    out: list[Blackout] = []
    for i, window in enumerate(value):
        where: list[str | int] = [field, i]
        if not isinstance(window, dict):
            raise InvalidInput(
                'a blackout window is an object: {days: [sat, sun]} or {start: "22:00", '
                'end: "06:00"}',
                field=where,
            )
        for key in window:
            if key not in ("days", "start", "end"):
                raise InvalidInput(
                    f"unknown field {key!r} (a window has days, start, end)", field=[*where, key]
                )
        days_in = window.get("days") or []
        if not isinstance(days_in, list):
            raise InvalidInput("days is a list such as [sat, sun]", field=[*where, "days"])
        days: list[int] = []
        for j, d in enumerate(days_in):
            if not isinstance(d, str) or d.strip().lower()[:3] not in DAYS:
                raise InvalidInput(
                    f"unknown day {d!r}: use {', '.join(DAYS)}", field=[*where, "days", j]
                )
            days.append(DAYS.index(d.strip().lower()[:3]))
        clocks: dict[str, time] = {}
        for key in ("start", "end"):
            if key in window:
                text = window[key]
                m = _CLOCK.match(text) if isinstance(text, str) else None
                if m is None:
                    raise InvalidInput(
                        f"{key} is a 24-hour HH:MM time such as 22:00; got {text!r}",
                        field=[*where, key],
                    )
                clocks[key] = time(int(m.group(1)), int(m.group(2)))
        if len(clocks) == 1:
            missing = "end" if "start" in clocks else "start"
            raise InvalidInput(
                "a window with a time of day needs both start and end", field=[*where, missing]
            )
        if not clocks and not days:
            raise InvalidInput(
                "a window needs days, or start and end, or both", field=[*where, "days"]
            )
        if clocks and clocks["start"] == clocks["end"]:
            raise InvalidInput(
                "start and end are the same time; leave both out for whole days",
                field=[*where, "end"],
            )
        out.append(Blackout(tuple(sorted(set(days))), clocks.get("start"), clocks.get("end")))
    return out


#: how far ahead :meth:`Timetable.fire_times` looks: a year, and a leap day's schedule
FIRE_TIMES_HORIZON = timedelta(days=366 * 4 + 1)


@dataclass(frozen=True)
class Timetable:
    """A checked cron (or ``@every``) expression in a zone, with its blackout windows."""

    cron: str
    zone: ZoneInfo
    every: timedelta | None
    anchor: datetime
    blackouts: tuple[Blackout, ...] = ()

    @classmethod
    def parse(
        cls,
        cron: str,
        time_zone: str = "UTC",
        blackouts: Any = None,
        anchor: datetime | None = None,
    ) -> Timetable:
        tz = zone(time_zone)
        text = " ".join((cron or "").split())
        every: timedelta | None = None
        if text.lower().startswith("@every"):
            every = parse_duration(text[len("@every") :].strip(), ["cron"])
        elif text.startswith("@"):
            if text.lower() not in DESCRIPTORS:
                raise InvalidInput(
                    f"unknown descriptor {text!r}: use {', '.join(DESCRIPTORS)} or @every "
                    "<duration>",
                    field=["cron"],
                )
            text = text.lower()
        else:
            fields = text.split(" ")
            if len(fields) != 5 or not croniter.is_valid(text):
                raise InvalidInput(
                    f"not a cron expression: {cron!r} (5 fields: minute hour day-of-month "
                    "month day-of-week, or @hourly, @daily..., or @every 5m)",
                    field=["cron"],
                )
        start = (anchor or datetime.now(UTC)).astimezone(UTC)
        return cls(text, tz, every, start, tuple(parse_blackouts(blackouts)))

    # -- the UTC line ------------------------------------------------------------------------

    def ticks(self, after: datetime) -> Iterator[datetime]:
        """Every tick strictly after ``after`` (UTC), in order, blackouts included."""
        after = after.astimezone(UTC)
        if self.every is not None:
            n = max(0, int((after - self.anchor) / self.every))
            while True:
                at = self.anchor + n * self.every
                if at > after:
                    yield at
                n += 1
            return
        # on the wall clock from ``after``'s reading; a repeated (fall-back) reading places
        # its ticks on their first occurrence, before ``after``, and they are dropped
        it = croniter(self.cron, after.astimezone(self.zone).replace(tzinfo=None))
        last: datetime | None = None
        while True:
            at = self._place(it.get_next(datetime))
            if at > after and at != last:
                last = at
                yield at

    def _place(self, wall: datetime) -> datetime:
        """A wall-clock time of the zone as a UTC instant (the DST rules above)."""
        first = wall.replace(tzinfo=self.zone, fold=0)
        at = first.astimezone(UTC)
        if at.astimezone(self.zone).replace(tzinfo=None) == wall:
            return at  # it exists (once, or first of two)
        # skipped by a spring-forward: the instant the clock jumps lies between the two readings
        low = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        high = at
        if low > high:
            low, high = high, low
        before = low.astimezone(self.zone).utcoffset()
        while high - low > timedelta(seconds=1):
            mid = low + (high - low) / 2
            if mid.astimezone(self.zone).utcoffset() == before:
                low = mid
            else:
                high = mid
        return high.replace(microsecond=0) if high.microsecond else high

    def blackout(self, at: datetime) -> Blackout | None:
        local = at.astimezone(self.zone)
        return next((b for b in self.blackouts if b.covers(local)), None)

    def fire_times(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` ticks after ``after`` that fall in no blackout window, looked
        for over :data:`FIRE_TIMES_HORIZON` at most (fewer, or none, for a timetable whose
        windows cover its ticks for that long).

        A tick inside a window skips the timetable to the window's end rather than stepping
        through every tick the window covers, so the cost grows with the windows met, not
        with the ticks (``@every 1s`` under a nightly window is a few steps a night)."""
        out: list[datetime] = []
        horizon = after.astimezone(UTC) + FIRE_TIMES_HORIZON
        cursor = after
        while len(out) < count:
            for at in self.ticks(cursor):
                if at > horizon:
                    return out
                window = self.blackout(at)
                if window is None:
                    out.append(at)
                    if len(out) >= count:
                        return out
                    continue
                cursor = max(at, self._window_end(window, at) - timedelta(microseconds=1))
                break
        return out

    def _window_end(self, window: Blackout, at: datetime) -> datetime:
        """The instant the window covering ``at`` ends (a whole-day window: at midnight)."""
        local = at.astimezone(self.zone).replace(tzinfo=None)
        day = local.date()
        if window.start is None or window.end is None:
            wall = datetime.combine(day + timedelta(days=1), time(0))
        elif window.start < window.end or local.time() < window.end:
            wall = datetime.combine(day, window.end)
        else:  # past midnight's window, before midnight: it ends tomorrow
            wall = datetime.combine(day + timedelta(days=1), window.end)
        return self._place(wall)

    def next_tick(self, after: datetime) -> datetime:
        return next(self.ticks(after))
