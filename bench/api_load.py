"""Claims list under load: the back-office API next to a bare aiohttp handler running the same SQL, in
the same run.

    .venv/bin/python bench/api_load.py [--claims 100000] [--seconds 10] [--concurrency 8 32]

Loads the claims with set-based SQL into a fresh database (`claimdesk_bench` on DATABASE_URL's
server, or the embedded one), serves both apps from a child process (so the load generator does
not share a CPU core with them), and prints, per concurrency, requests/s, p50 and p99 of the list
with filters and with full-text search, the API/bare ratio, and the server process's CPU per
request (a figure a busy machine changes less than the others). Targets (issue 12): at concurrency
8 the API's p99 under 100 ms; at concurrency 32 the API at least 0.8 of the bare handler's req/s.

The floor, the bare handler: the plain aiohttp handler, no sign-in, no pydantic (the query string
read by hand, the rows dumped with json.dumps), running `shared.claims.queries.list_statement` on a
plain SQLAlchemy session of the same engine and in the same mode as the API's read-only route (no
transaction). So the ratio is what the API adds: sign-in by token (one more statement), parsing
and validating the query and the rows with pydantic, the middlewares. The load ends with
`VACUUM ANALYZE`, as autovacuum would leave a table that size. The machine is shared: the load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "claimdesk_bench"
TOKEN = "cdk_bench-token-0123456789"

# The same query strings go to both servers.
SCENARIOS = {
    "filters": [
        "status=in_progress&reason_id=3&limit=50",
        "status=new&unassigned=true&limit=50",
        "culprit_department_id=2&registered_from=2026-03-01&registered_to=2026-06-30&limit=50",
        "overdue=true&channel=phone&limit=50",
        "responsible_id=2&status=resolved,closed&sort=-updated_at&limit=50",
    ],
    "search": [
        "q=холодильник&limit=50",
        "q=laptop&status=in_progress&limit=50",
        "q=кофеварки&limit=50",
        "q=headphones refund&limit=50",
        "q=хамил&limit=50",
    ],
}

LOAD_SQL = [
    "INSERT INTO department (name) SELECT 'Отдел ' || g FROM generate_series(1, 10) g",
    "INSERT INTO reason (name) SELECT 'Причина ' || g FROM generate_series(1, 20) g",
    "INSERT INTO employee (name, department_id) SELECT 'Сотрудник ' || g, 1 + g % 10 FROM generate_series(1, 50) g",
    """INSERT INTO staff_user (login, full_name, password_hash, role, language)
       SELECT 'op' || g, 'Оператор ' || g, 'x', 'operator', 'ru' FROM generate_series(1, 10) g""",
    """INSERT INTO customer (name, phone, telegram_user_id, telegram_chat_id, language)
       SELECT 'Клиент ' || g, '+7900' || lpad(g::text, 7, '0'), 100000 + g, 100000 + g, 'ru'
       FROM generate_series(1, 20000) g""",
    # Descriptions combine a complaint with one of 60 products, so a product name finds about 1.7 %
    # of the claims (a realistic, selective search) and a complaint word about 8 %.
    """WITH words AS (
         SELECT ARRAY['курьер опоздал','не морозит','повреждена упаковка','не тот товар',
                      'arrived damaged','want a refund','грубый оператор','списали дважды',
                      'задержка доставки','сломан при сборке','wrong size delivered','нет чека'] AS w,
                ARRAY['холодильник','пылесос','чайник','телевизор','ноутбук','смартфон','наушники','утюг',
                      'микроволновка','кофеварка','блендер','миксер','тостер','фен','плойка','весы',
                      'обогреватель','кондиционер','вентилятор','увлажнитель','роутер','планшет','принтер',
                      'монитор','клавиатура','мышь','колонка','часы','фотоаппарат','объектив',
                      'fridge','vacuum','kettle','television','laptop','smartphone','headphones','iron',
                      'microwave','coffeemaker','blender','mixer','toaster','hairdryer','scales','heater',
                      'conditioner','fan','humidifier','router','tablet','printer','monitor','keyboard',
                      'mouse','speaker','watch','camera','lens','charger'] AS p)
       INSERT INTO claim (number, customer_id, channel, subject, description, currency, priority, status,
                          result, resolution, reason_id, culprit_department_id, culprit_employee_id,
                          responsible_id, registered_at, due_at, resolved_at, updated_at, version)
       SELECT 'B-' || g,
              1 + (g * 7919) % 20000,
              (ARRAY['telegram','phone','email','web'])[1 + g % 4],
              w[1 + g % 12] || ': ' || p[1 + (g / 12) % 60],
              w[1 + g % 12] || '. Товар: ' || p[1 + (g / 12) % 60] || '. Заказ ' || g,
              'RUB',
              (ARRAY['low','normal','high','urgent'])[1 + g % 4],
              s.status,
              CASE WHEN s.status IN ('resolved','closed') THEN 'satisfied' END,
              CASE WHEN s.status IN ('resolved','closed') THEN 'Решено' END,
              CASE WHEN g % 5 > 0 THEN 1 + g % 20 END,
              CASE WHEN g % 3 > 0 THEN 1 + g % 10 END,
              CASE WHEN g % 4 = 0 THEN 1 + g % 50 END,
              CASE WHEN g % 6 > 0 THEN 1 + g % 10 END,
              r.at,
              r.at + interval '5 days',
              CASE WHEN s.status IN ('resolved','closed') THEN r.at + interval '3 days' END,
              r.at + interval '1 day',
              1
       FROM generate_series(1, %(claims)s) g, words,
            LATERAL (SELECT (ARRAY['new','in_progress','resolved','closed'])[1 + (g / 7) % 4] AS status) s,
            LATERAL (SELECT timestamptz '2026-01-01' + (g * interval '1 minute') * (300000.0 / %(claims)s) AS at) r""",
    """INSERT INTO interaction (claim_id, customer_id, direction, channel, text, occurred_at)
       SELECT id, customer_id, 'inbound', 'telegram',
              'Добрый день! Жду ответа по заказу ' || number || CASE WHEN id % 50 = 0 THEN ', курьер хамил' ELSE '' END,
              registered_at FROM claim""",
    "VACUUM ANALYZE",
]


async def prepare(server_url: str, claims: int) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    from shared import migrate
    from shared.db import asyncpg_dsn
    from shared.staff.service import hash_token

    admin = asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    url = (
        make_url(server_url)
        .set(database=BENCH_DB, drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False)
    )
    await migrate.upgrade(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        for statement in LOAD_SQL:
            await conn.execute(statement.replace("%(claims)s", str(int(claims))))
        await conn.execute(
            "INSERT INTO staff_user (login, full_name, password_hash, role, language) "
            "VALUES ('bench-admin', 'Bench', 'x', 'admin', 'ru')"
        )
        await conn.execute(
            "INSERT INTO api_token (owner_id, name, token_hash) "
            "SELECT id, 'bench', $1 FROM staff_user WHERE login = 'bench-admin'",
            hash_token(TOKEN),
        )
        count = await conn.fetchval("SELECT count(*) FROM claim")
        print(f"loaded {count} claims in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()
    return url


async def serve(url: str, api_port: int, bare_port: int) -> None:
    """The child process: the API and the bare handler, one engine (one pool) between them."""
    from datetime import date

    from aiohttp import web

    from backoffice.app import create_app
    from shared.claims.filters import ClaimFilters
    from shared.claims.queries import TOTAL_LIMIT, list_statement
    from shared.db import DatabaseConfig, create_engine, create_session_factory
    from shared.runtime import Database
    from shared.settings import Settings

    settings = Settings(DATABASE_URL=url)
    config = DatabaseConfig.from_settings(settings, url)
    engine = create_engine(config)
    db = Database(url=url, engine=engine, sessions=create_session_factory(engine), config=config)
    # The API's read-only routes run without a transaction; the bare handler's session does too.
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def flag(value: str | None) -> bool | None:
        return None if value is None else value == "true"

    async def bare(request: web.Request) -> web.Response:
        q = request.query
        ints = {k: int(q[k]) for k in ("reason_id", "culprit_department_id", "responsible_id") if k in q}
        dates = {k: date.fromisoformat(q[k]) for k in ("registered_from", "registered_to") if k in q}
        filters = ClaimFilters(
            status=tuple(q["status"].split(",")) if "status" in q else (),
            channel=q.get("channel"),
            overdue=flag(q.get("overdue")),
            unassigned=flag(q.get("unassigned")),
            q=q.get("q"),
            **ints,
            **dates,
        )
        limit = int(q.get("limit", 50))
        statement = list_statement(filters, settings.tz, sort=q.get("sort", "-registered_at"), limit=limit)
        async with db.sessions(bind=autocommit) as session:
            rows = (await session.execute(statement)).mappings().all()
        total = rows[0]["total"] if rows else 0
        items = [{k: v for k, v in row.items() if k not in ("sort_key", "total")} for row in rows[:limit]]
        page = {"items": items, "total": min(total, TOTAL_LIMIT), "total_exact": total <= TOTAL_LIMIT}
        body = json.dumps(page, default=str)
        return web.Response(text=body, content_type="application/json")

    bare_app = web.Application()
    bare_app.router.add_get("/claims", bare)
    runners = [web.AppRunner(create_app(settings, db), access_log=None), web.AppRunner(bare_app, access_log=None)]
    for runner, port in zip(runners, (api_port, bare_port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for runner in runners:
        await runner.cleanup()
    await engine.dispose()


def _cpu(pid: int) -> float:
    """CPU seconds a process has used (user + system)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def load(
    base: str, queries: list[str], *, seconds: float, concurrency: int, headers: dict[str, str], server_pid: int
) -> dict:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as client:

        async def worker(n: int, deadline: float, record: bool) -> None:
            nonlocal errors
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with client.get(f"{base}?{queries[i % len(queries)]}") as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                if record:
                    latencies.append(time.perf_counter() - started)
                i += 1

        warm = time.perf_counter() + 2
        await asyncio.gather(*(worker(n, warm, False) for n in range(concurrency)))
        cpu = _cpu(server_pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(n, started + seconds, True) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = _cpu(server_pid) - cpu
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        # The server process's CPU per request: what the handler costs in Python, whatever else
        # runs on the machine (PostgreSQL's share is not in it).
        "cpu_ms": cpu / len(latencies) * 1000,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "n": len(latencies),
        "errors": errors,
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace) -> int:
    from shared.db import resolve_database_url
    from shared.settings import Settings

    server_url = await resolve_database_url(Settings())
    url = await prepare(server_url, args.claims)
    api_port, bare_port = 18431, 18432
    child = subprocess.Popen(  # noqa: ASYNC220 - a server that lives for the whole run
        [sys.executable, __file__, "--serve", url, str(api_port), str(bare_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            print("the servers did not start", file=sys.stderr)
            return 1
        print(
            f"{args.claims:,} claims, {args.seconds:.0f} s per run, one pool for both servers "
            f"(CLAIMDESK_DB_POOL_SIZE {os.environ['CLAIMDESK_DB_POOL_SIZE']}); load average {_load()}\n"
        )
        print(
            f"{'conc':>4} {'scenario':<9} {'server':<5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
            f"{'cpu ms/req':>10}"
        )
        for concurrency in args.concurrency:
            for name, queries in SCENARIOS.items():
                figures = {}
                for server, base, headers in (
                    ("bare", f"http://127.0.0.1:{bare_port}/claims", {}),
                    ("api", f"http://127.0.0.1:{api_port}/api/v1/claims", {"Authorization": f"Bearer {TOKEN}"}),
                ):
                    figures[server] = result = await load(
                        base,
                        queries,
                        seconds=args.seconds,
                        concurrency=concurrency,
                        headers=headers,
                        server_pid=child.pid,
                    )
                    print(
                        f"{concurrency:>4} {name:<9} {server:<5} {result['rps']:>8.1f} {result['p50']:>8.1f} "
                        f"{result['p99']:>8.1f} {result['errors']:>7} {result['cpu_ms']:>10.2f}",
                        flush=True,
                    )
                ratio = figures["api"]["rps"] / figures["bare"]["rps"]
                p99 = figures["api"]["p99"]
                verdicts = [f"api/bare req/s {ratio:.2f}"]
                if concurrency == 8:
                    verdicts.append(f"api p99 {p99:.1f} ms: {'ok' if p99 < 100 else 'MISSED'} (< 100 ms)")
                if concurrency == 32:
                    verdicts.append(f"{'ok' if ratio >= 0.8 else 'MISSED'} (>= 0.8)")
                print(f"{concurrency:>4} {name:<9} {'; '.join(verdicts)}\n", flush=True)
        print(f"load average {_load()}")
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--serve", nargs=3, metavar=("URL", "API_PORT", "BARE_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        url, api_port, bare_port = args.serve
        asyncio.run(serve(url, int(api_port), int(bare_port)))
        return 0
    os.environ.setdefault("CLAIMDESK_DB_POOL_SIZE", "10")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
