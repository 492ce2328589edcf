"""The reports' periods: the presets of the reports page and the default both it and the API use."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from shared.reports.dynamics import DynamicsParams
from shared.reports.periods import local_today, preset_of, preset_range, resolve_range, twelve_months_to
from shared.settings import get_settings

TODAY = date(2026, 2, 14)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("this_month", (date(2026, 2, 1), TODAY)),
        ("last_month", (date(2026, 1, 1), date(2026, 1, 31))),
        ("this_quarter", (date(2026, 1, 1), TODAY)),
        ("this_year", (date(2026, 1, 1), TODAY)),
        ("last_12_months", (date(2025, 3, 1), TODAY)),
    ],
)
def test_presets(preset: str, expected: tuple[date, date]) -> None:
    assert preset_range(preset, TODAY) == expected  # type: ignore[arg-type]


def test_presets_at_year_and_quarter_edges() -> None:
    assert preset_range("last_month", date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert preset_range("this_quarter", date(2026, 12, 31)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert preset_range("last_month", date(2024, 3, 31)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert twelve_months_to(date(2026, 12, 31)) == date(2026, 1, 1)


def test_a_range_is_named_by_its_preset() -> None:
    assert preset_of(date(2025, 3, 1), TODAY, TODAY) == "last_12_months"
    assert preset_of(date(2025, 3, 2), TODAY, TODAY) is None
    # Presets can coincide: the default is named first, then the list's order.
    december = date(2026, 12, 6)
    assert preset_of(*preset_range("this_year", december), december) == "last_12_months"
    assert preset_of(*preset_range("this_quarter", date(2026, 1, 20)), date(2026, 1, 20)) == "this_month"


def test_missing_ends_are_filled_by_the_one_rule() -> None:
    assert resolve_range(None, None, TODAY) == (date(2025, 3, 1), TODAY)
    assert resolve_range(None, date(2026, 3, 31), TODAY) == (date(2025, 4, 1), date(2026, 3, 31))
    assert resolve_range(date(2026, 1, 5), None, TODAY) == (date(2026, 1, 5), TODAY)
    assert resolve_range(date(2026, 1, 5), date(2026, 1, 6), TODAY) == (date(2026, 1, 5), date(2026, 1, 6))


def test_report_parameters_take_the_default() -> None:
    today = local_today(get_settings().tz)
    params = DynamicsParams()
    assert (params.date_from, params.date_to) == (twelve_months_to(today), today)
    # A `to` given as a midnight date-time is a date too (pydantic reads it so).
    params = DynamicsParams(**{"to": "2026-03-31T00:00:00"})
    assert (params.date_from, params.date_to) == (date(2025, 4, 1), date(2026, 3, 31))
    with pytest.raises(ValidationError):
        DynamicsParams(**{"to": "soon"})
    with pytest.raises(ValidationError):
        DynamicsParams(**{"from": "2026-03-01", "to": "2026-01-01"})
