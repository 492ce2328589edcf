"""Every report over the hand-built data set (tests/reports/dataset.py); the expected figures are
worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from shared.claims.filters import ClaimFilters
from shared.reports.dynamics import DynamicsParams, dynamics_report, periods_of
from shared.reports.ratings import RatingsParams, ratings_report
from shared.reports.response_times import ResponseTimesParams, response_times_report
from shared.reports.satisfaction import SatisfactionParams, satisfaction_report
from shared.reports.structure import StructureParams, structure_report
from tests.reports.conftest import MOSCOW

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


def counts(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


async def test_dynamics_by_month_puts_month_edges_in_moscow(db, dataset) -> None:
    async with db() as session:
        body = (await dynamics_report(session, params=DynamicsParams(**Q1), tz=MOSCOW)).as_json()
    # January: c1, c2, c3 (20:59 UTC = 23:59 local); c4 at 22:30 UTC on 31 Jan is February in Moscow.
    # March: c6, c8 (21:00 UTC on 28 Feb = 1 March local), c9. c7 (31 March 21:30 UTC) is April.
    assert body["rows"] == [
        {"period": "2026-01-01", "registered": 3, "resolved": 2, "unresolved": 1},
        {"period": "2026-02-01", "registered": 2, "resolved": 1, "unresolved": 1},
        {"period": "2026-03-01", "registered": 3, "resolved": 3, "unresolved": 0},
    ]
    assert body["total"] == {"registered": 8, "resolved": 6, "unresolved": 2}
    assert body["peak"] == "2026-01-01"  # a tie with March: the earlier period
    assert (body["from"], body["to"], body["granularity"], body["by"]) == ("2026-01-01", "2026-03-31", "month", "none")


async def test_dynamics_one_day_range_at_the_edge(db, dataset) -> None:
    async with db() as session:
        jan31 = await dynamics_report(
            session, params=DynamicsParams(**{"from": "2026-01-31", "to": "2026-01-31"}, granularity="day"), tz=MOSCOW
        )
        feb1 = await dynamics_report(
            session, params=DynamicsParams(**{"from": "2026-02-01", "to": "2026-02-01"}, granularity="day"), tz=MOSCOW
        )
    assert jan31.total.registered == 1  # c3 only
    assert feb1.total.registered == 1  # c4 only


async def test_dynamics_every_period_appears_with_zeros(db, dataset) -> None:
    async with db() as session:
        body = (
            await dynamics_report(
                session,
                params=DynamicsParams(**{"from": "2026-01-26", "to": "2026-02-15"}, granularity="week"),
                tz=MOSCOW,
            )
        ).as_json()
    # Weeks start on Monday: 26 Jan (c3, c4), 2 Feb (none), 9 Feb (c5 on Sunday the 15th).
    assert counts(body["rows"], "period", "registered") == [("2026-01-26", 2), ("2026-02-02", 0), ("2026-02-09", 1)]
    assert body["peak"] == "2026-01-26"


async def test_dynamics_empty_range(db, dataset) -> None:
    async with db() as session:
        body = (
            await dynamics_report(
                session, params=DynamicsParams(**{"from": "2025-06-01", "to": "2025-08-31"}), tz=MOSCOW
            )
        ).as_json()
        by_dept = (
            await dynamics_report(
                session,
                params=DynamicsParams(**{"from": "2025-06-01", "to": "2025-07-31"}, by="department"),
                tz=MOSCOW,
            )
        ).as_json()
    assert counts(body["rows"], "period", "registered") == [("2025-06-01", 0), ("2025-07-01", 0), ("2025-08-01", 0)]
    assert body["total"] == {"registered": 0, "resolved": 0, "unresolved": 0}
    assert body["peak"] is None
    assert [(r["period"], r["department"], r["registered"]) for r in by_dept["rows"]] == [
        ("2025-06-01", None, 0),
        ("2025-07-01", None, 0),
    ]


async def test_dynamics_by_department_with_top_folds_the_rest_into_other(db, dataset) -> None:
    async with db() as session:
        full = (await dynamics_report(session, params=DynamicsParams(**Q1, by="department"), tz=MOSCOW)).as_json()
        top = (await dynamics_report(session, params=DynamicsParams(**Q1, by="department", top=2), tz=MOSCOW)).as_json()
    # Totals: Доставка 4, Склад 2, Колл-центр 1, not set 1 (c4): named before "not set" on a tie.
    assert [r["department"] for r in full["rows"][:4]] == ["Доставка", "Склад", "Колл-центр", None]
    assert len(full["rows"]) == 12 and all("reason" not in r for r in full["rows"])
    assert counts(top["rows"], "period", "department", "registered", "resolved", "unresolved") == [
        ("2026-01-01", "Доставка", 2, 2, 0),
        ("2026-01-01", "Склад", 1, 0, 1),
        ("2026-01-01", "other", 0, 0, 0),
        ("2026-02-01", "Доставка", 1, 1, 0),
        ("2026-02-01", "Склад", 0, 0, 0),
        ("2026-02-01", "other", 1, 0, 1),
        ("2026-03-01", "Доставка", 1, 1, 0),
        ("2026-03-01", "Склад", 1, 1, 0),
        ("2026-03-01", "other", 1, 1, 0),
    ]
    assert top["total"] == full["total"] == {"registered": 8, "resolved": 6, "unresolved": 2}


async def test_dynamics_by_reason_and_filters(db, dataset) -> None:
    async with db() as session:
        body = (await dynamics_report(session, params=DynamicsParams(**Q1, by="reason", top=5), tz=MOSCOW)).as_json()
        reason_id = dataset.claims["c1"].reason_id
        filtered = await dynamics_report(
            session, params=DynamicsParams(**Q1), tz=MOSCOW, filters=ClaimFilters(reason_id=reason_id)
        )
        phone = await dynamics_report(
            session, params=DynamicsParams(**Q1), tz=MOSCOW, filters=ClaimFilters(channel="phone")
        )
    # Брак 3 and Опоздание 3 tie (alphabetical), then not set 2; top=5 folds nothing.
    assert [r["reason"] for r in body["rows"][:3]] == ["Брак", "Опоздание", None]
    assert all("department" not in r for r in body["rows"])
    assert filtered.total.registered == 3  # c1, c4, c5
    assert phone.total.registered == 1  # c2


async def test_satisfaction(db, dataset) -> None:
    async with db() as session:
        body = (await satisfaction_report(session, params=SatisfactionParams(**Q1), tz=MOSCOW)).as_json()
        april = await satisfaction_report(
            session, params=SatisfactionParams(**{"from": "2026-04-01", "to": "2026-04-30"}), tz=MOSCOW
        )
    # Decided in Jan-Mar with a result: c1 sat, c5 partial (Опоздание); c2 rej, c6 sat, c8 sat (Брак,
    # c8 at 23:00 local on 31 March); c9 rej (no reason). c4 was reopened: no result, not counted.
    assert body["rows"] == [
        {
            "reason": "Брак",
            "resolved": 3,
            "satisfied": 2,
            "partially_satisfied": 0,
            "rejected": 1,
            "satisfied_pct": 66.7,
            "partially_satisfied_pct": 0.0,
            "rejected_pct": 33.3,
        },
        {
            "reason": "Опоздание",
            "resolved": 2,
            "satisfied": 1,
            "partially_satisfied": 1,
            "rejected": 0,
            "satisfied_pct": 50.0,
            "partially_satisfied_pct": 50.0,
            "rejected_pct": 0.0,
        },
        {
            "reason": None,
            "resolved": 1,
            "satisfied": 0,
            "partially_satisfied": 0,
            "rejected": 1,
            "satisfied_pct": 0.0,
            "partially_satisfied_pct": 0.0,
            "rejected_pct": 100.0,
        },
    ]
    assert body["total"] == {
        "resolved": 6,
        "satisfied": 3,
        "partially_satisfied": 1,
        "rejected": 2,
        "satisfied_pct": 50.0,
        "partially_satisfied_pct": 16.7,
        "rejected_pct": 33.3,
    }
    assert april.rows == [] and april.total.resolved == 0 and april.total.satisfied_pct == 0.0


async def test_structure(db, dataset) -> None:
    async with db() as session:
        body = (await structure_report(session, params=StructureParams(**Q1), tz=MOSCOW)).as_json()
        empty = (
            await structure_report(
                session, params=StructureParams(**{"from": "2027-01-01", "to": "2027-01-31"}), tz=MOSCOW
            )
        ).as_json()
    assert body["total"] == 8
    assert body["by_department"] == [
        {"department": "Доставка", "count": 4, "share_pct": 50.0},
        {"department": "Склад", "count": 2, "share_pct": 25.0},
        {"department": "Колл-центр", "count": 1, "share_pct": 12.5},
        {"department": None, "count": 1, "share_pct": 12.5},
    ]
    assert body["by_reason"] == [
        {"reason": "Брак", "count": 3, "share_pct": 37.5},
        {"reason": "Опоздание", "count": 3, "share_pct": 37.5},
        {"reason": None, "count": 2, "share_pct": 25.0},
    ]
    petrov, ivanova = dataset.claims["c1"].culprit_employee_id, dataset.claims["c8"].culprit_employee_id
    assert body["by_employee"] == [
        {"employee_id": None, "employee": None, "department": None, "count": 5, "share_pct": 62.5},
        {"employee_id": petrov, "employee": "Петров", "department": "Доставка", "count": 2, "share_pct": 25.0},
        {"employee_id": ivanova, "employee": "Иванова", "department": "Склад", "count": 1, "share_pct": 12.5},
    ]
    assert counts(body["cells"], "department", "reason", "count") == [
        ("Доставка", "Опоздание", 2),
        ("Доставка", "Брак", 1),
        ("Доставка", None, 1),
        ("Колл-центр", "Брак", 1),
        ("Склад", "Брак", 1),
        ("Склад", None, 1),
        (None, "Опоздание", 1),
    ]
    assert empty == {
        "from": "2027-01-01",
        "to": "2027-01-31",
        "total": 0,
        "by_department": [],
        "by_reason": [],
        "by_employee": [],
        "cells": [],
    }


async def test_response_times_by_department(db, dataset) -> None:
    async with db() as session:
        body = (await response_times_report(session, params=ResponseTimesParams(**Q1), tz=MOSCOW)).as_json()
    rows = {r["department"]: r for r in body["rows"]}
    assert list(rows) == ["Доставка", "Склад", "Колл-центр", None]
    # Доставка: first response 2, 24, 2, 1 h -> median 2, p90 2 + 0.7 * 22 = 17.4; decisions 48, 384,
    # 24, 24 h -> median 36, p90 48 + 0.7 * 336 = 283.2; 3 of 4 within the 120 h SLA.
    assert rows["Доставка"] == {
        "department": "Доставка",
        "claims": 4,
        "responded": 4,
        "first_response_median_h": 2.0,
        "first_response_p90_h": 17.4,
        "first_response_within_sla_pct": 100.0,
        "resolved": 4,
        "resolution_median_h": 36.0,
        "resolution_p90_h": 283.2,
        "resolved_within_sla": 3,
        "resolved_within_sla_pct": 75.0,
        "overdue_now": 0,
    }
    # Склад: c3 is new and was due in February (overdue now); c8 took 743 h.
    assert (
        rows["Склад"]["resolution_median_h"],
        rows["Склад"]["resolved_within_sla_pct"],
        rows["Склад"]["overdue_now"],
    ) == (743.0, 0.0, 1)
    assert rows[None]["resolved"] == 0 and rows[None]["resolution_median_h"] is None and rows[None]["overdue_now"] == 1
    # All: first 0.5, 1, 2, 2, 2, 12, 24 -> median 2, p90 12 + 0.4 * 12 = 16.8;
    # decisions 24, 24, 24, 48, 384, 743 -> median 36, p90 384 + 0.5 * 359 = 563.5; 4 of 6 in SLA.
    total = body["total"]
    assert (total["claims"], total["first_response_median_h"], total["first_response_p90_h"]) == (8, 2.0, 16.8)
    assert (total["resolution_median_h"], total["resolution_p90_h"], total["resolved_within_sla_pct"]) == (
        36.0,
        563.5,
        66.7,
    )
    assert total["overdue_now"] == 2
    assert body["sla_hours"] == {"first_response": 24, "resolution": 120}


async def test_response_times_by_responsible(db, dataset) -> None:
    async with db() as session:
        body = (
            await response_times_report(session, params=ResponseTimesParams(**Q1, by="responsible"), tz=MOSCOW)
        ).as_json()
    assert [(r["responsible"], r["claims"]) for r in body["rows"]] == [("Анна Смирнова", 8)]


async def test_ratings(db, dataset) -> None:
    async with db() as session:
        body = (await ratings_report(session, params=RatingsParams(**Q1), tz=MOSCOW)).as_json()
        by_reason = (await ratings_report(session, params=RatingsParams(**Q1, by="reason"), tz=MOSCOW)).as_json()
    rows = {r["department"]: r for r in body["rows"]}
    assert rows["Доставка"] == {
        "department": "Доставка",
        "claims": 4,
        "rated": 2,
        "average": 4.0,
        "score_1": 0,
        "score_2": 0,
        "score_3": 1,
        "score_4": 0,
        "score_5": 1,
        "decided": 4,
        "disputed": 0,
        "disputed_pct": 0.0,
        "reopened": 1,
        "reopened_pct": 25.0,
    }
    # c4: rejected, then reopened by the customer: a dispute and a reopening, decided though no result now.
    assert (rows[None]["decided"], rows[None]["disputed_pct"], rows[None]["reopened_pct"]) == (1, 100.0, 100.0)
    assert rows["Склад"]["average"] is None and rows["Склад"]["decided"] == 1
    total = body["total"]
    # 8 claims, 7 decided (all but c3); ratings 5, 3, 4; one disputed (c4), two reopened (c4, c5).
    assert (total["claims"], total["rated"], total["average"], total["decided"]) == (8, 3, 4.0, 7)
    assert (total["disputed"], total["disputed_pct"], total["reopened"], total["reopened_pct"]) == (1, 14.3, 2, 28.6)
    assert {r["reason"]: r["reopened"] for r in by_reason["rows"]} == {"Опоздание": 2, "Брак": 0, None: 0}


def test_params_are_checked() -> None:
    with pytest.raises(ValidationError):
        DynamicsParams(**{"from": "2026-03-01", "to": "2026-01-01"})
    with pytest.raises(ValidationError):
        DynamicsParams(**Q1, granularity="year")
    with pytest.raises(ValidationError):
        DynamicsParams(**Q1, top=0)
    with pytest.raises(ValidationError):
        DynamicsParams(**{"from": "2000-01-01", "to": "2026-01-01"}, granularity="day")
    assert periods_of(date(2026, 1, 31), date(2026, 3, 1), "month") == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]


async def test_day_buckets_follow_daylight_saving_time(db) -> None:
    """Berlin moves to summer time at 01:00 UTC on 29 March 2026: local days are 24, 23, 24 hours."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from tests.factories import make_claim

    berlin = ZoneInfo("Europe/Berlin")
    async with db() as session:
        for moment in (
            datetime(2026, 3, 28, 22, 59, tzinfo=UTC),  # 23:59 CET on the 28th
            datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # 00:00 CET on the 29th
            datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # 23:59 CEST on the 29th
            datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
        ):  # 00:00 CEST on the 30th
            await make_claim(session, registered_at=moment)
        await session.commit()
        report = await dynamics_report(
            session,
            params=DynamicsParams(**{"from": "2026-03-28", "to": "2026-03-30"}, granularity="day"),
            tz=berlin,
        )
    assert [(r.period.isoformat(), r.registered) for r in report.rows] == [
        ("2026-03-28", 1),
        ("2026-03-29", 2),
        ("2026-03-30", 1),
    ]


async def test_a_disputed_event_counts_as_a_dispute_once(db, dataset) -> None:
    from shared.actors import Actor
    from shared.audit.service import log_claim_event

    async with db() as session:
        c2, c4 = dataset.claims["c2"], dataset.claims["c4"]
        # c2: a `disputed` event alone; c4 already counts (customer reopening) and gets one too.
        # A dispute reopens the claim and is written as that one event: c2 now counts as reopened.
        for claim in (c2, c4):
            await log_claim_event(
                session,
                claim_id=claim.id,
                actor=Actor.customer(claim.customer_id),
                kind="disputed",
                after={"reason": "не согласен"},
            )
        await session.commit()
        report = await ratings_report(session, params=RatingsParams(**Q1), tz=MOSCOW)
    assert (report.total.disputed, report.total.disputed_pct, report.total.reopened) == (2, 28.6, 3)
