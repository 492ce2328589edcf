"""The response-times total read from windows around sampled percentiles: exactly percentile_cont's
figures, whether the windows hold the positions or miss them (then PostgreSQL is asked)."""

from __future__ import annotations

import pytest
from sqlalchemy import Float, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, array

from shared.claims.models import Claim
from shared.reports import response_times
from shared.reports.common import range_conditions
from shared.reports.response_times import ResponseTimesParams, response_times_report
from tests.reports import test_response_time_hours as hours
from tests.reports.conftest import MOSCOW


@pytest.fixture
def whole_sample(monkeypatch):
    """Sample every block: the windows are used even on the few claims of a test."""
    monkeypatch.setattr(response_times, "SAMPLE_PERCENT", 100.0)
    monkeypatch.setattr(response_times, "SAMPLE_MIN", 10)


@pytest.mark.parametrize("by", ["department", "responsible"])
async def test_windows_give_the_rollup_figures(db, by: str, whole_sample) -> None:
    await hours.test_same_figures_as_the_single_rollup_over_date_part(db, by)


@pytest.mark.parametrize("windows", ["sampled", "missing", "none"])
async def test_total_percentiles_are_percentile_cont_to_the_last_bit(db, monkeypatch, whole_sample, windows) -> None:
    if windows == "missing":  # windows nowhere near the percentiles: the total comes from PostgreSQL
        monkeypatch.setattr(response_times, "_window", lambda sample, p: (-5.0, -4.0))
    elif windows == "none":  # too small a sample: no window at all
        monkeypatch.setattr(response_times, "SAMPLE_MIN", 10**9)
    asked = []
    fallback = response_times._fallback_totals

    async def spy(session, where, measures):
        asked.extend(measures)
        return await fallback(session, where, measures)

    monkeypatch.setattr(response_times, "_fallback_totals", spy)
    params = ResponseTimesParams(**hours.Q1)
    async with db() as session:
        for statement in hours.RANDOM_CLAIMS:
            await session.execute(text(statement))
        await session.commit()
        where = response_times._where(params, None, MOSCOW)
        windows_found, split = await response_times._windows(session, where, "department")
        query = response_times.response_times_query(params, None, MOSCOW, windows_found, split)
        _rows, totals = response_times.response_times_rows((await session.execute(query)).all())
        quantiles = array([0.5, 0.9])
        expected = (
            await session.execute(
                select(
                    func.percentile_cont(quantiles).within_group(Claim.first_response_hours).cast(ARRAY(Float)),
                    func.percentile_cont(quantiles).within_group(Claim.resolution_hours).cast(ARRAY(Float)),
                ).where(*range_conditions(Claim.registered_at, params.date_from, params.date_to, MOSCOW))
            )
        ).one()
        report = await response_times_report(session, params=params, tz=MOSCOW)
    if windows == "sampled":
        assert totals == [list(expected[0]), list(expected[1])]
        assert asked == []
    else:
        assert totals == [None, None] and asked == [0, 1]
    assert report.total.first_response_median_h == round(expected[0][0], 1)
    assert report.total.resolution_p90_h == round(expected[1][1], 1)
