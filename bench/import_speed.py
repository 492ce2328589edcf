"""How fast `claimdesk import claims` takes a big file (issue 6: 100,000 rows in under a minute).

Generates a CSV of --rows claims with a fixed seed (Cyrillic text, quoted multi-line descriptions,
`;` and cp1251 as Russian Excel writes them, 20 departments, 15 reasons, a third of the customers
known by Telegram id, numbers left to the desk), then imports it into an empty scratch database
through the same service the command uses, in one transaction, and prints the time of each phase.

    .venv/bin/python bench/import_speed.py [--rows 100000] [--keep]

Database: BENCH_DATABASE_URL, else DATABASE_URL's or TEST_DATABASE_URL's server, else the local
server at 127.0.0.1:5432; the scratch database `claimdesk_bench_import` is dropped at the end
unless --keep. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20260101
SCRATCH = "claimdesk_bench_import"
TZ = ZoneInfo("Europe/Moscow")


def generate_csv(rows: int) -> bytes:
    from shared.exchange.columns import COLUMNS

    rng = random.Random(SEED)
    start = datetime(2025, 1, 1, tzinfo=TZ)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=";")
    writer.writeheader()
    for i in range(rows):
        registered = start + timedelta(seconds=rng.randrange(365 * 86400))
        status = rng.choices(["new", "in_progress", "resolved", "closed"], [10, 15, 30, 45])[0]
        decided = status in ("resolved", "closed")
        resolved = registered + timedelta(hours=rng.randrange(1, 400)) if decided else None
        customer = rng.randrange(40_000)
        writer.writerow(
            {
                "registered_at": registered.strftime("%Y-%m-%d %H:%M:%S"),  # no offset: TIMEZONE
                "customer_name": f"Клиент {customer}",
                "customer_phone": f"+7 (900) {customer:07d}" if customer % 3 else "",
                "customer_telegram_id": str(100_000 + customer) if customer % 3 == 0 else "",
                "channel": rng.choice(["telegram", "phone", "email", "web"]),
                "subject": f"Претензия по заказу {i}",
                "description": f'Заказ {i} пришёл с опозданием;\nкурьер сказал "так бывает".\nПрошу вернуть деньги.',
                "requirement": rng.choice(["refund", "replacement", "", "Верните деньги"]),
                "reason": f"Причина {rng.randrange(15):02d}",
                "culprit_department": f"Подразделение {rng.randrange(20):02d}" if rng.random() < 0.9 else "",
                "culprit_employee": "",
                "responsible": "",
                "status": status,
                "result": rng.choice(["satisfied", "partially_satisfied", "rejected"]) if decided else "",
                "resolution": "Решение принято" if decided else "",
                "resolved_at": resolved.isoformat() if resolved else "",
                "closed_at": (resolved + timedelta(days=3)).isoformat() if status == "closed" else "",
                "amount_claimed": f"{rng.randrange(100, 100_000)},{rng.randrange(100):02d}",
                "amount_granted": "",
            }
        )
    return out.getvalue().encode("cp1251")


def server_url() -> str:
    from shared.db import libpq_to_asyncpg

    for name in ("BENCH_DATABASE_URL", "DATABASE_URL", "TEST_DATABASE_URL"):
        if os.environ.get(name):
            return libpq_to_asyncpg(os.environ[name], SCRATCH)
    return libpq_to_asyncpg("postgresql://postgres@127.0.0.1:5432/postgres", SCRATCH)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    os.environ.setdefault("TIMEZONE", TZ.key)

    import asyncpg
    from sqlalchemy.engine import make_url

    from shared import migrate
    from shared.actors import SYSTEM
    from shared.db import asyncpg_dsn, create_engine, create_session_factory, ensure_database
    from shared.exchange import import_claims
    from shared.exchange.importer import check_file

    url = server_url()
    admin = asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    await conn.close()
    await ensure_database(url)
    await migrate.upgrade(url)

    data = generate_csv(args.rows)
    print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB of cp1251 CSV (';', multi-line quoted fields)")

    started = time.perf_counter()
    checked = check_file(data, tz=TZ)
    check_s = time.perf_counter() - started
    assert not checked.errors, checked.errors[:3]

    engine = create_engine(url, pool_size=1)
    sessions = create_session_factory(engine)
    started = time.perf_counter()
    async with sessions() as session:
        summary = await import_claims(session, data=data, actor=SYSTEM, tz=TZ)
        written = time.perf_counter()
        await session.commit()
    committed = time.perf_counter()
    total_s = committed - started
    await engine.dispose()
    print(f"parse and check alone:          {check_s:6.1f} s")
    print(
        f"import (check + write + commit): {total_s:6.1f} s  ({args.rows / total_s:,.0f} rows/s; "
        f"commit {committed - written:.1f} s)"
    )
    print(f"added: {summary.as_dict()}")
    print(f"target: {args.rows:,} rows in under 60 s -> {'ok' if total_s < 60 else 'MISSED'}")
    if not args.keep:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
