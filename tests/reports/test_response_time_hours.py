"""The hours stored on the claim (first_response_hours, resolution_hours) and the response-times
query built on them: PostgreSQL's own percentile_cont figures, per group and in total, to the last
bit, and the same report as the single ROLLUP over date_part(...) it replaced."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Float, and_, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, array

from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES
from shared.clock import utcnow
from shared.reports.common import (
    GROUPS,
    REPORT_PLAN_CACHE_MODE,
    REPORT_WORK_MEM,
    filter_conditions,
    range_conditions,
    rollup_rows,
)
from shared.reports.response_times import (
    ResponseTimes,
    ResponseTimesDepartmentRow,
    ResponseTimesParams,
    ResponseTimesResponsibleRow,
    _times,
    response_times_query,
    response_times_report,
)
from shared.settings import get_settings
from tests.reports.conftest import MOSCOW

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}

HOURS = {
    "first_response_hours": "date_part('epoch', first_response_at - registered_at) / 3600",
    "resolution_hours": "date_part('epoch', resolved_at - registered_at) / 3600",
}


async def test_stored_hours_are_the_expression_and_follow_the_times(db, dataset) -> None:
    async with db() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT first_response_hours IS NOT DISTINCT FROM "
                    f"{HOURS['first_response_hours']}, resolution_hours IS NOT DISTINCT FROM "
                    f"{HOURS['resolution_hours']}, first_response_hours IS NOT NULL FROM claim"
                )
            )
        ).all()
        assert len(rows) == 9 and all(same_first and same_resolution for same_first, same_resolution, _ in rows)
        assert sum(answered for *_, answered in rows) == 7  # c3 and c7 are new: nobody answered

        claim = dataset.claims["c2"]  # registered 01-20 12:00 UTC, in progress a day later, decided 02-05
        hours = (
            await session.execute(
                select(Claim.first_response_hours, Claim.resolution_hours).where(Claim.id == claim.id)
            )
        ).one()
        assert tuple(hours) == (24.0, 384.0)
        # Written by PostgreSQL whenever the times change: a reopened claim has no decision time.
        await session.execute(
            text("UPDATE claim SET resolved_at = NULL, status = 'in_progress', result = NULL WHERE id = :id"),
            {"id": claim.id},
        )
        assert await session.scalar(select(Claim.resolution_hours).where(Claim.id == claim.id)) is None


async def test_report_plans_each_run_and_sorts_in_memory(db, dataset) -> None:
    async with db() as session:
        await response_times_report(session, params=ResponseTimesParams(**Q1), tz=MOSCOW)
        settings = (
            await session.execute(text("SELECT current_setting('plan_cache_mode'), current_setting('work_mem')"))
        ).one()
        assert tuple(settings) == (REPORT_PLAN_CACHE_MODE, REPORT_WORK_MEM)
        await session.rollback()
        # SET LOCAL: the next transaction of the pooled connection is back to the server's defaults.
        assert await session.scalar(text("SELECT current_setting('plan_cache_mode')")) == "auto"


def _reference_query(params: ResponseTimesParams):
    """The query the report ran before the stored hours: one ROLLUP over per-row date_part."""
    settings = get_settings()
    gid = GROUPS[params.by][0]
    quantiles = array([literal(0.5), literal(0.9)])

    def hours(interval):
        return func.date_part("epoch", interval) / 3600.0

    deadline = func.coalesce(Claim.due_at, Claim.registered_at + timedelta(hours=settings.sla_resolution_hours))
    return (
        select(
            gid,
            func.grouping(gid),
            func.count(),
            func.count(Claim.first_response_at),
            func.percentile_cont(quantiles)
            .within_group(hours(Claim.first_response_at - Claim.registered_at))
            .cast(ARRAY(Float)),
            func.count().filter(
                Claim.first_response_at <= Claim.registered_at + timedelta(hours=settings.sla_first_response_hours)
            ),
            func.count(Claim.resolved_at),
            func.percentile_cont(quantiles)
            .within_group(hours(Claim.resolved_at - Claim.registered_at))
            .cast(ARRAY(Float)),
            func.count().filter(Claim.resolved_at <= deadline),
            func.count().filter(and_(Claim.status.in_([s.value for s in OPEN_STATUSES]), Claim.due_at < utcnow())),
        )
        .where(and_(*range_conditions(Claim.registered_at, params.date_from, params.date_to, MOSCOW)))
        .group_by(func.rollup(gid))
    )


# Random claims in 2026: some never answered, some answered before registration (imported data),
# open ones overdue or not, no due date on some, a department or a responsible missing on some.
RANDOM_CLAIMS = [
    "SELECT setseed(0.42)",
    "INSERT INTO department (name) SELECT 'D' || i FROM generate_series(1, 4) i",
    """INSERT INTO staff_user (login, full_name, password_hash, role, language)
       SELECT 's' || i, 'Staff ' || i, 'x', 'operator', 'ru' FROM generate_series(1, 3) i""",
    "INSERT INTO customer (name, phone, language) VALUES ('C', '+79000000000', 'ru')",
    """INSERT INTO claim (number, customer_id, channel, subject, description, currency, priority, status, result,
                          culprit_department_id, responsible_id, registered_at, first_response_at, due_at,
                          resolved_at, updated_at, version)
       SELECT 'R-' || i, 1, 'web', 's', 'd', 'RUB', 'normal', s.status,
              CASE WHEN s.status IN ('resolved', 'closed') THEN 'satisfied' END,
              CASE WHEN random() < 0.85 THEN 1 + floor(random() * 4)::int END,
              CASE WHEN random() < 0.8 THEN 1 + floor(random() * 3)::int END,
              s.registered_at,
              CASE WHEN random() < 0.8 THEN s.registered_at + (random() * 60 - 2) * interval '1 hour'
                                                            + floor(random() * 3) * interval '1 day' END,
              CASE WHEN random() < 0.9 THEN s.registered_at + interval '120 hours' END,
              CASE WHEN s.status IN ('resolved', 'closed')
                   THEN s.registered_at + random() * interval '400 hours' + interval '1 microsecond' END,
              now(), 1
       FROM generate_series(1, 1500) i
       CROSS JOIN LATERAL (
           SELECT (ARRAY['new', 'in_progress', 'resolved', 'closed'])[1 + floor(random() * 4)::int] AS status,
                  timestamptz '2026-01-01 00:00+03' + random() * interval '100 days' + i * interval '0'
                      AS registered_at
       ) AS s""",
]


@pytest.mark.parametrize("by", ["department", "responsible"])
async def test_same_figures_as_the_single_rollup_over_date_part(db, by: str) -> None:
    params = ResponseTimesParams(**Q1, by=by)
    async with db() as session:
        for statement in RANDOM_CLAIMS:
            await session.execute(text(statement))
        await session.commit()
        body = (await response_times_report(session, params=params, tz=MOSCOW)).as_json()
        result = (await session.execute(_reference_query(params))).all()
        row_type = ResponseTimesDepartmentRow if by == "department" else ResponseTimesResponsibleRow
        rows, total = await rollup_rows(
            session, result, by=by, values=_times, row_type=row_type, total_type=ResponseTimes
        )
    assert total.claims > 1000 and total.responded < total.claims and len(rows) > 3
    assert body["rows"] == [r.model_dump(mode="json") for r in rows]
    assert body["total"] == total.model_dump(mode="json")


@pytest.mark.parametrize(
    "by, filters",
    [
        ("department", None),
        ("responsible", None),
        ("department", ClaimFilters(status=("resolved", "closed"))),
        ("responsible", ClaimFilters(unassigned=False, overdue=False)),
    ],
)
async def test_percentiles_are_postgresqls_own_per_group_and_in_total(db, by: str, filters) -> None:
    """Each group's and the total's [median, p90] are exactly what percentile_cont gives when
    PostgreSQL is asked for that group (or all claims of the range) alone."""
    params = ResponseTimesParams(**Q1, by=by)
    gid = GROUPS[by][0]
    quantiles = array([literal(0.5), literal(0.9)])
    async with db() as session:
        for statement in RANDOM_CLAIMS:
            await session.execute(text(statement))
        await session.commit()
        rows = (await session.execute(response_times_query(params, filters, MOSCOW))).all()
        where = [
            *range_conditions(Claim.registered_at, params.date_from, params.date_to, MOSCOW),
            *filter_conditions(filters, MOSCOW),
        ]
        assert sum(1 for row in rows if row[1] == 1) == 1 and len(rows) > 3
        for row in rows:
            group = [] if row[1] == 1 else [gid.is_(None) if row[0] is None else gid == row[0]]
            expected = (
                await session.execute(
                    select(
                        func.count(),
                        func.percentile_cont(quantiles).within_group(Claim.first_response_hours).cast(ARRAY(Float)),
                        func.percentile_cont(quantiles).within_group(Claim.resolution_hours).cast(ARRAY(Float)),
                    ).where(*where, *group)
                )
            ).one()
            assert (row[2], row[4], row[7]) == tuple(expected), row
