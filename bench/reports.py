"""How fast the reports are on a million claims (issues 6 and 12).

Generates 1,000,000 claims over 12 months with a fixed seed (not timed; SQL generate_series, in
a scratch database kept for the next run), then times, on one connection in the same run:

* each report over the 12 months as JSON (query + names + pydantic + json.dumps), next to the
  same figures as the plain SQL a DBA would write, sent through the raw asyncpg connection (the
  floor). The hand-written dynamics converts each claim's time (`date_trunc(... AT TIME ZONE ...)`);
  the report buckets by `width_bucket` over the periods' UTC starts instead, hence a ratio below 1;
* the XLSX of the dynamics by month x 20 departments (query + workbook).

Printed: best of --repeat runs in ms, side by side, the ratio to the SQL, and the targets (issue
12: each report < 1.5 s and within 1.5x its SQL; the XLSX < 2 s); the load average before and
after. Nothing is asserted.

    .venv/bin/python bench/reports.py [--claims 1000000] [--repeat 5] [--regenerate] [--drop]
                                      [--database NAME] [--generate-only]

Database: BENCH_DATABASE_URL, else DATABASE_URL's or TEST_DATABASE_URL's server, else the local
server at 127.0.0.1:5432; the scratch database is `claimdesk_bench_reports` unless --database names
another (one per worktree when branches with different migrations share a server).
`--generate-only` prepares the data and exits: generate outside a benchmark lock, time inside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 0.20260101
TZ = "Europe/Moscow"
DATE_FROM, DATE_TO = "2025-01-01", "2025-12-31"
SCRATCH = "claimdesk_bench_reports"


def server_url(scratch: str = SCRATCH) -> str:
    from shared.db import libpq_to_asyncpg

    for name in ("BENCH_DATABASE_URL", "DATABASE_URL", "TEST_DATABASE_URL"):
        if os.environ.get(name):
            return libpq_to_asyncpg(os.environ[name], scratch)
    return libpq_to_asyncpg("postgresql://postgres@127.0.0.1:5432/postgres", scratch)


GENERATE = [
    "SELECT setseed({seed})",
    """INSERT INTO department (name) SELECT 'Подразделение ' || lpad(i::text, 2, '0') FROM generate_series(1, 20) i""",
    """INSERT INTO reason (name) SELECT 'Причина ' || lpad(i::text, 2, '0') FROM generate_series(1, 15) i""",
    """INSERT INTO employee (name, department_id)
       SELECT 'Сотрудник ' || i, 1 + (i % 20) FROM generate_series(1, 60) i""",
    """INSERT INTO staff_user (login, full_name, password_hash, role, language)
       SELECT 'staff' || i, 'Сотрудник офиса ' || i, 'x', 'operator', 'ru' FROM generate_series(1, 12) i""",
    """INSERT INTO customer (name, phone, language)
       SELECT 'Клиент ' || i, '+7900' || lpad(i::text, 7, '0'), 'ru' FROM generate_series(1, 50000) i""",
    # Skewed department and reason choices (power of random()) so `top` and sorting have work to do.
    """INSERT INTO claim (number, customer_id, channel, subject, description, currency, priority, status, result,
                          resolution, reason_id, culprit_department_id, culprit_employee_id, responsible_id,
                          registered_at, first_response_at, due_at, resolved_at, closed_at, satisfaction_score,
                          updated_at, version)
       SELECT 'B-' || g.i, 1 + (g.i % 50000), (ARRAY['telegram','phone','email','web'])[1 + (g.i % 4)],
              'Претензия ' || g.i, 'Претензия ' || g.i, 'RUB', 'normal', s.status,
              CASE WHEN s.status IN ('resolved', 'closed')
                   THEN (ARRAY['satisfied','partially_satisfied','rejected'])[1 + floor(random() * 3)::int] END,
              CASE WHEN s.status IN ('resolved', 'closed') THEN 'Решение' END,
              CASE WHEN random() < 0.9 THEN 1 + floor(power(random(), 2) * 15)::int END,
              s.dept, CASE WHEN random() < 0.5 THEN s.dept + 20 * floor(random() * 3)::int END,
              CASE WHEN random() < 0.8 THEN 1 + floor(random() * 12)::int END,
              s.registered_at,
              CASE WHEN s.status <> 'new' THEN s.registered_at + random() * interval '48 hours' END,
              s.registered_at + interval '120 hours',
              CASE WHEN s.status IN ('resolved', 'closed') THEN s.registered_at + s.took END,
              CASE WHEN s.status = 'closed' THEN s.registered_at + s.took + interval '3 days' END,
              CASE WHEN s.status = 'closed' AND random() < 0.6 THEN 1 + floor(random() * 5)::int END,
              now(), 1
       FROM generate_series(1, {claims}) AS g(i)
       CROSS JOIN LATERAL (
           SELECT CASE WHEN r < 0.10 THEN 'new' WHEN r < 0.25 THEN 'in_progress'
                       WHEN r < 0.55 THEN 'resolved' ELSE 'closed' END AS status,
                  timestamptz '2025-01-01 00:00:00+03' + random() * interval '365 days' AS registered_at,
                  CASE WHEN random() < 0.95 THEN 1 + floor(power(random(), 1.6) * 20)::int END AS dept,
                  random() * interval '300 hours' AS took
           FROM (SELECT random() + g.i * 0 AS r) AS x
       ) AS s""",
    """INSERT INTO claim_event (claim_id, actor_kind, actor_customer_id, kind, after, at)
       SELECT id, 'customer', customer_id, 'registered', jsonb_build_object('number', number), registered_at
       FROM claim""",
    # About 4% of the decided claims were reopened, half of them by the customer (a dispute: the bot
    # writes `disputed` next to the customer's `reopened`).
    """INSERT INTO claim_event (claim_id, actor_kind, actor_customer_id, actor_staff_id, kind, at)
       SELECT id, CASE WHEN id % 2 = 0 THEN 'customer' ELSE 'staff' END,
              CASE WHEN id % 2 = 0 THEN customer_id END, CASE WHEN id % 2 = 1 THEN 1 END,
              'reopened', resolved_at - interval '1 hour'
       FROM claim WHERE result IS NOT NULL AND id % 25 = 0""",
    """INSERT INTO claim_event (claim_id, actor_kind, actor_customer_id, kind, at)
       SELECT id, 'customer', customer_id, 'disputed', resolved_at - interval '1 hour'
       FROM claim WHERE result IS NOT NULL AND id % 50 = 0""",
]

# The same aggregates, hand-written: what a DBA would type. $1, $2: the UTC bounds of the range.
HAND_SQL = {
    "dynamics": f"""
        WITH counts AS (
            SELECT date_trunc('month', registered_at AT TIME ZONE '{TZ}')::date AS period, count(*) AS registered,
                   count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved
            FROM claim WHERE registered_at >= $1 AND registered_at < $2 GROUP BY 1)
        SELECT p::date, coalesce(c.registered, 0), coalesce(c.resolved, 0)
        FROM generate_series(timestamp '{DATE_FROM}', timestamp '{DATE_TO}', interval '1 month') AS p
        LEFT JOIN counts c ON c.period = p::date ORDER BY 1""",
    "dynamics_by_department": f"""
        WITH counts AS (
            SELECT date_trunc('month', registered_at AT TIME ZONE '{TZ}')::date AS period,
                   culprit_department_id AS gid, count(*) AS registered,
                   count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS resolved
            FROM claim WHERE registered_at >= $1 AND registered_at < $2 GROUP BY 1, 2)
        SELECT p::date, c.gid, d.name, coalesce(c.registered, 0), coalesce(c.resolved, 0)
        FROM generate_series(timestamp '{DATE_FROM}', timestamp '{DATE_TO}', interval '1 month') AS p
        LEFT JOIN counts c ON c.period = p::date LEFT JOIN department d ON d.id = c.gid ORDER BY 1""",
    "satisfaction": """
        SELECT r.name, count(*), count(*) FILTER (WHERE result = 'satisfied'),
               count(*) FILTER (WHERE result = 'partially_satisfied'), count(*) FILTER (WHERE result = 'rejected')
        FROM claim c LEFT JOIN reason r ON r.id = c.reason_id
        WHERE c.result IS NOT NULL AND c.resolved_at >= $1 AND c.resolved_at < $2
        GROUP BY r.name ORDER BY 2 DESC""",
    "structure": """
        SELECT culprit_department_id, reason_id, culprit_employee_id, count(*)
        FROM claim WHERE registered_at >= $1 AND registered_at < $2
        GROUP BY GROUPING SETS ((culprit_department_id), (reason_id), (culprit_employee_id),
                                (culprit_department_id, reason_id))""",
    # What a DBA types: percentile_cont per group and for all claims, one GROUP BY ROLLUP.
    "response_times": """
        SELECT culprit_department_id, grouping(culprit_department_id), count(*), count(first_response_at),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response_hours),
               count(*) FILTER (WHERE first_response_at <= registered_at + interval '24 hours'),
               count(resolved_at),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_hours),
               count(*) FILTER (WHERE resolved_at <= coalesce(due_at, registered_at + interval '120 hours')),
               count(*) FILTER (WHERE status IN ('new', 'in_progress') AND due_at < now())
        FROM claim WHERE registered_at >= $1 AND registered_at < $2
        GROUP BY ROLLUP (culprit_department_id)""",
    "ratings": """
        WITH trail AS (
            SELECT claim_id, bool_or(kind IN ('reopened', 'disputed')) AS reopened,
                   bool_or(kind = 'disputed' OR (kind = 'reopened' AND actor_kind = 'customer')) AS disputed
            FROM claim_event WHERE kind IN ('disputed', 'reopened') GROUP BY claim_id)
        SELECT c.culprit_department_id, count(*), count(c.satisfaction_score), avg(c.satisfaction_score),
               count(*) FILTER (WHERE c.satisfaction_score = 1), count(*) FILTER (WHERE c.satisfaction_score = 2),
               count(*) FILTER (WHERE c.satisfaction_score = 3), count(*) FILTER (WHERE c.satisfaction_score = 4),
               count(*) FILTER (WHERE c.satisfaction_score = 5),
               count(*) FILTER (WHERE c.result IS NOT NULL OR t.reopened),
               count(*) FILTER (WHERE t.disputed), count(*) FILTER (WHERE t.reopened)
        FROM claim c LEFT JOIN trail t ON t.claim_id = c.id
        WHERE c.registered_at >= $1 AND c.registered_at < $2
        GROUP BY ROLLUP (c.culprit_department_id)""",
}

CASES = [
    # (label, report, extra params, hand SQL key)
    ("dynamics (month)", "dynamics", {}, "dynamics"),
    ("dynamics (month x department)", "dynamics", {"by": "department"}, "dynamics_by_department"),
    ("satisfaction", "satisfaction", {}, "satisfaction"),
    ("structure", "structure", {}, "structure"),
    ("response times (department)", "response_times", {"by": "department"}, "response_times"),
    ("ratings (department)", "ratings", {"by": "department"}, "ratings"),
]


async def prepare(url: str, claims: int, regenerate: bool) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    from shared import migrate
    from shared.db import asyncpg_dsn, ensure_database

    await ensure_database(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        before = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL") and await conn.fetchval(
            "SELECT version_num FROM alembic_version"
        )
        await migrate.upgrade(url)
        have = await conn.fetchval("SELECT count(*) FROM claim")
        if have == claims and not regenerate:
            print(f"using the {have:,} claims generated earlier in {make_url(url).database}")
            if before != await conn.fetchval("SELECT version_num FROM alembic_version"):
                # A migration rewrote tables or indexes: statistics and the visibility map (which
                # index-only scans need) are gone until the next VACUUM.
                await conn.execute("VACUUM ANALYZE")
            return
        print(f"generating {claims:,} claims (seed {SEED}) ...", flush=True)
        started = time.perf_counter()
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        await conn.execute("TRUNCATE " + ", ".join(f'"{t[0]}"' for t in tables) + " RESTART IDENTITY CASCADE")
        async with conn.transaction():
            for statement in GENERATE:
                await conn.execute(statement.format(seed=SEED, claims=claims))
        await conn.execute("VACUUM ANALYZE")
        print(f"generated in {time.perf_counter() - started:.0f} s (not part of any figure)")
    finally:
        await conn.close()


async def best_of(repeat: int, action) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return min(times)


async def measure(url: str, repeat: int) -> None:
    from sqlalchemy import text

    from shared.clock import start_of_local_day
    from shared.db import create_engine, create_session_factory
    from shared.reports import REPORTS, render, run_report
    from shared.reports.common import REPORT_PLAN_CACHE_MODE, REPORT_WORK_MEM

    tz = ZoneInfo(TZ)
    from datetime import date, timedelta

    lo = start_of_local_day(date.fromisoformat(DATE_FROM), tz)
    hi = start_of_local_day(date.fromisoformat(DATE_TO) + timedelta(days=1), tz)
    engine = create_engine(url, pool_size=1)
    sessions = create_session_factory(engine)
    rows = []
    async with sessions() as session:
        await session.execute(text("SELECT 1"))  # begin the transaction the raw connection then joins
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection  # the same connection, both sides
        # The reports raise work_mem and plan each run for its own range (shared.reports.common: a
        # prepared statement's generic plan, chosen after five runs, does not know the range); the
        # hand-written SQL, prepared by asyncpg too, gets the same settings in the same transaction,
        # so the comparison is like for like.
        await raw.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        await raw.execute(f"SET LOCAL plan_cache_mode = {REPORT_PLAN_CACHE_MODE}")
        for label, name, extra, sql_key in CASES:
            params = REPORTS[name].params(**{"from": DATE_FROM, "to": DATE_TO}, **extra)

            async def ours(name=name, params=params) -> None:
                report = await run_report(session, name, params, tz=tz)
                json.dumps(report.as_json(), ensure_ascii=False)

            async def hand(sql_key=sql_key) -> None:
                await raw.fetch(HAND_SQL[sql_key], lo, hi)

            await ours()  # warm caches and the statement cache, both sides
            await hand()
            ours_s, hand_s = await best_of(repeat, ours), await best_of(repeat, hand)
            rows.append((label, ours_s, hand_s))

        params = REPORTS["dynamics"].params(**{"from": DATE_FROM, "to": DATE_TO}, by="department")

        async def xlsx() -> None:
            report = await run_report(session, "dynamics", params, tz=tz)
            body = render(report, "xlsx", "ru").body
            xlsx.size = len(body)

        await xlsx()
        xlsx_s = await best_of(repeat, xlsx)
        claims = await raw.fetchval(
            "SELECT count(*) FROM claim WHERE registered_at >= $1 AND registered_at < $2", lo, hi
        )
    await engine.dispose()

    print(
        f"\n{claims:,} claims registered in {DATE_FROM} .. {DATE_TO}; best of {repeat}; target < 1500 ms and "
        f"<= 1.5x SQL; load average {_load()}"
    )
    print(f"{'report (JSON)':34} {'ours ms':>9} {'SQL ms':>9} {'ratio':>7}  verdict")
    for label, ours_s, hand_s in rows:
        ratio = ours_s / hand_s
        verdict = "ok" if ours_s < 1.5 and ratio <= 1.5 else "MISSED"
        print(f"{label:34} {ours_s * 1000:9.1f} {hand_s * 1000:9.1f} {ratio:7.2f}  {verdict}")
    verdict = "ok" if xlsx_s < 2 else "MISSED"
    print(
        f"{'xlsx: 12 months x 20 departments':34} {xlsx_s * 1000:9.1f} {'':>9} {'':>7}  {verdict} (< 2000 ms, "
        f"{xlsx.size:,} bytes)"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def drop(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    from shared.db import asyncpg_dsn

    admin = asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true", help="generate the claims again")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    parser.add_argument("--database", default=SCRATCH, help=f"the scratch database (default {SCRATCH})")
    parser.add_argument("--generate-only", action="store_true", help="prepare the data, time nothing")
    args = parser.parse_args()
    os.environ.setdefault("TIMEZONE", TZ)
    url = server_url(args.database)
    await prepare(url, args.claims, args.regenerate)
    if args.generate_only:
        return
    print(f"load average {_load()}")
    await measure(url, args.repeat)
    print(f"load average {_load()}")
    if args.drop:
        await drop(url)


if __name__ == "__main__":
    asyncio.run(main())
