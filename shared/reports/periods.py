"""The periods reports are asked for: the presets the reports page offers, and the one default
(the last 12 months) that the page and the API both use when `from`/`to` are not given.

Dates are local dates in TIMEZONE, both ends inclusive, as everywhere in the reports. A period
that runs "until now" ends today: the report then counts what happened so far.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared.clock import local_date, utcnow

Preset = Literal["this_month", "last_month", "this_quarter", "this_year", "last_12_months"]
PRESETS: tuple[Preset, ...] = ("this_month", "last_month", "this_quarter", "this_year", "last_12_months")
DEFAULT_PRESET: Preset = "last_12_months"


def local_today(tz: ZoneInfo) -> date:
    return local_date(utcnow(), tz)


def _months_back(day: date, months: int) -> date:
    """The first day of the month `months` before `day`'s month."""
    index = day.year * 12 + (day.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def twelve_months_to(day: date) -> date:
    """Where "the last 12 months" up to `day` begin: the 1st of the month eleven months before,
    so a monthly report shows twelve months, the current one so far."""
    return _months_back(day, 11)


def preset_range(preset: Preset, today: date) -> tuple[date, date]:
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        first = _months_back(today, 1)
        return first, today.replace(day=1) - timedelta(days=1)
    if preset == "this_quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    if preset == "this_year":
        return date(today.year, 1, 1), today
    if preset == "last_12_months":
        return twelve_months_to(today), today
    raise ValueError(f"unknown period {preset!r}; one of {', '.join(PRESETS)}")


def preset_of(date_from: date, date_to: date, today: date) -> Preset | None:
    """The preset a range is, if any (the page marks it as chosen); the default first, as two
    presets can coincide (in December "this year" is "the last 12 months")."""
    for preset in (DEFAULT_PRESET, *PRESETS):
        if preset_range(preset, today) == (date_from, date_to):
            return preset
    return None


def resolve_range(date_from: date | None, date_to: date | None, today: date) -> tuple[date, date]:
    """The range a report runs over when an end is left out: nothing given is the default period
    (the last 12 months up to today); only `to` given, the 12 months up to it; only `from` given,
    until today."""
    if date_to is None:
        date_to = today
    if date_from is None:
        date_from = twelve_months_to(date_to)
    return date_from, date_to
