"""The reports' periods: the presets of the reports page and the default both it and the API use."""

from __future__ import annotations

from datetime import date

import pytest

from shared.reports.periods import fill_range, preset_of, preset_range, twelve_months_to

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
    assert fill_range({}, TODAY) == {"from": date(2025, 3, 1), "to": TODAY}
    assert fill_range({"from": "", "to": ""}, TODAY) == {"from": date(2025, 3, 1), "to": TODAY}
    assert fill_range({"to": "2026-03-31"}, TODAY) == {"from": date(2025, 4, 1), "to": "2026-03-31"}
    assert fill_range({"date_from": "2026-01-05"}, TODAY) == {"date_from": "2026-01-05", "to": TODAY}
    assert fill_range({"from": "a", "to": "b"}, TODAY) == {"from": "a", "to": "b"}
    # An unreadable `to` is left for the model to refuse; no `from` is made up from it.
    assert fill_range({"to": "soon"}, TODAY) == {"to": "soon"}
