"""The staff pages under load: the queue page (`/`) and the claim card (`/claims/{id}`) rendered for
100,000 claims, each beside the JSON API's figure for the same data in the same run (the claims
list `/api/v1/claims` with the same filters; one claim `/api/v1/claims/{id}`).

    flock /tmp/claimdesk-bench.lock .venv/bin/python bench/ui_load.py [--claims 100000] [--seconds 10] [--concurrency 8]

Loads the claims with the set-based SQL of bench/api_load.py into a fresh database
(`claimdesk_bench` on DATABASE_URL's server, or the embedded one), opens a staff sign-in session
(the pages' cookie) and an API token for the same admin, serves the back-office (pages and API in
one app, as `claimdesk backoffice` does) from a child process, and prints requests/s, p50 and p99
per page and per API counterpart, with the server's CPU time per request. Target: p99 < 150 ms for
each page at concurrency 8.

A page that answers 404 (the claim card is built on another branch) is skipped with one line
saying so. The machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import TOKEN, prepare  # noqa: E402  (after the path is set)

PORT = 18441
TARGET_P99_MS = 150.0
# The queue's views as bookmarked URLs; the API gets the same query strings.
QUEUE_QUERIES = [
    "",
    "status=new",
    "status=in_progress&reason_id=3",
    "unassigned=true",
    "overdue=true",
    "culprit_department_id=2&status=resolved,closed",
    "q=холодильник",
]


async def open_staff_session(url: str) -> tuple[str, int, int]:
    """A sign-in session of the bench's admin (what the sign-in form opens), as the cookie value."""
    import asyncpg

    from shared.db import asyncpg_dsn
    from shared.staff.service import hash_token

    session_id = secrets.token_urlsafe(32)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(
            "INSERT INTO staff_session (id_hash, user_id, expires_at, last_seen_at, csrf_token) "
            "SELECT $1, id, now() + interval '1 day', now(), $2 FROM staff_user WHERE login = 'bench-admin'",
            hash_token(session_id),
            secrets.token_urlsafe(32),
        )
        count = await conn.fetchval("SELECT count(*) FROM claim")
        first, last = await conn.fetchrow("SELECT min(id), max(id) FROM claim")
    finally:
        await conn.close()
    print(f"{count} claims (ids {first}..{last}); staff session opened", flush=True)
    return session_id, first, last


async def serve(url: str, port: int) -> None:
    """The child process: the back-office app (pages and API) on one port."""
    from aiohttp import web

    from backoffice.app import create_app
    from shared.db import create_engine, create_session_factory
    from shared.runtime import Database
    from shared.settings import Settings

    settings = Settings(DATABASE_URL=url)
    engine = create_engine(url)
    db = Database(url=url, engine=engine, sessions=create_session_factory(engine))
    runner = web.AppRunner(create_app(settings, db), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    await runner.cleanup()
    await engine.dispose()


async def load(urls: list[str], *, seconds: float, concurrency: int, headers: dict[str, str]) -> dict:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as client:

        async def worker(n: int, deadline: float, record: bool) -> None:
            nonlocal errors
            i = n * 7919
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with client.get(urls[i % len(urls)], allow_redirects=False) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                if record:
                    latencies.append(time.perf_counter() - started)
                i += 1

        warm = time.perf_counter() + 2
        await asyncio.gather(*(worker(n, warm, False) for n in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(n, started + seconds, True) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "count": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "errors": errors,
    }


async def status_of(url: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession(headers=headers) as client:
        async with client.get(url, allow_redirects=False) as response:
            await response.read()
            return response.status


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace) -> int:
    from backoffice.auth import SESSION_COOKIE
    from shared.db import resolve_database_url
    from shared.settings import Settings

    server_url = await resolve_database_url(Settings())
    url = await prepare(server_url, args.claims)
    session_id, first, last = await open_staff_session(url)
    child = subprocess.Popen(  # noqa: ASYNC220 - a server that lives for the whole run
        [sys.executable, __file__, "--serve", url, str(PORT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{PORT}"
    page_headers = {"Cookie": f"{SESSION_COOKIE}={session_id}"}
    api_headers = {"Authorization": f"Bearer {TOKEN}"}
    # Cards of claims spread over the whole table.
    ids = [first + (n * 7919) % (last - first + 1) for n in range(500)]
    runs = {
        "queue": (
            [f"{base}/?{q}" for q in QUEUE_QUERIES],
            [f"{base}/api/v1/claims?{q}" for q in QUEUE_QUERIES],
        ),
        "card": ([f"{base}/claims/{i}" for i in ids], [f"{base}/api/v1/claims/{i}" for i in ids]),
    }
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            print("the server did not start", file=sys.stderr)
            return 1
        print(f"concurrency {args.concurrency}, {args.seconds:.0f} s per run; load average {_load_average()}\n")
        print(f"{'page':<6} {'server':<5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>11}")
        server_process = psutil.Process(child.pid)
        failed = False
        for name, (pages, api) in runs.items():
            status = await status_of(pages[0], page_headers)
            if status == 404:
                path = pages[0].removeprefix(base)
                print(f"{name:<6} skipped: {path} answers 404 (the page is not built on this branch)")
                continue
            if status != 200:
                print(f"{name:<6} skipped: {pages[0].removeprefix(base)} answers {status}, not 200")
                failed = True
                continue
            figures = {}
            for server, urls, headers in (("page", pages, page_headers), ("api", api, api_headers)):
                cpu_before = sum(server_process.cpu_times()[:2])
                figures[server] = result = await load(
                    urls, seconds=args.seconds, concurrency=args.concurrency, headers=headers
                )
                # The server's own CPU time per request (user + system; the warm-up's requests
                # included in the time but not in the count, so a slight overestimate): the figure
                # that depends least on how busy the shared machine is.
                cpu_ms = (sum(server_process.cpu_times()[:2]) - cpu_before) * 1000 / max(result["count"], 1)
                print(
                    f"{name:<6} {server:<5} {result['rps']:>8.1f} {result['p50']:>8.1f} {result['p99']:>8.1f} "
                    f"{result['errors']:>7} {cpu_ms:>11.2f}",
                    flush=True,
                )
            page_p99 = figures["page"]["p99"]
            verdict = "met" if page_p99 < TARGET_P99_MS else "NOT met"
            print(
                f"{name:<6} page p99 {page_p99:.1f} ms (target < {TARGET_P99_MS:.0f} ms: {verdict}); "
                f"page/api p99 = {page_p99 / figures['api']['p99']:.2f}\n"
            )
        print(f"load average {_load_average()}")
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        url, port = args.serve
        asyncio.run(serve(url, int(port)))
        return 0
    os.environ.setdefault("CLAIMDESK_DB_POOL_SIZE", "10")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
