"""Time in one place: UTC for storage, the organisation's zone (TIMEZONE) for what people see."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def start_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in the organisation's zone."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
