"""Soak (issue 13): the bot (webhook mode), the delivery worker and the back-office as processes of
their own, as `claimdesk bot`, `claimdesk worker` and `claimdesk backoffice` run in production, on
one fresh database, for `--minutes` of mixed load (default 10).

    .venv/bin/python bench/soak.py [--minutes 10] [--customers 30] [--staff 2]

This process plays Telegram (the Bot API emulator, delivering updates to the bot's webhook), the
customers and the staff:
- customers (`--customers`, each in a loop, 0.3-1.5 s between steps): file a claim through the
  bot's wizard (/new, description, files done, order skipped, a remedy, the phone the first time,
  submit), then write 2-4 messages about it, then again;
- staff (`--staff` loops over disjoint claims, through the API with a token): take each new claim
  (a Telegram reply to the customer, then in progress), resolve the claims in progress a few
  seconds later (the customer is told), and read a report every few seconds, each in turn.

Printed: per minute, what was done and each process's RSS (psutil); throughput over the run; errors
(the ERROR lines in each process's JSON log, HTTP answers other than 2xx, wizard steps the bot did
not answer in 30 s); lost and duplicated messages, checked against the database and the
emulator's record: every customer message stored once (one inbound interaction with its text),
every claim filed registered once, every outbox message sent and its text delivered as many times
as the outbox holds it, every staff reply delivered once; RSS growth after warm-up (the first 20%
of the run): the mean of the last three samples against the first three after warm-up. The bot's
and the worker's own counters are read from their METRICS_PORT endpoints at the end and set beside
the database's figures. Targets: zero errors, zero lost or duplicated messages, RSS growth under 10%.
Nothing is asserted: the figures are printed.

Database: a fresh `claimdesk_soak` on DATABASE_URL's server (or the embedded one), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOAK_DB = "claimdesk_soak"
TOKEN = "123456:SOAK-bench"
FIRST_USER = 610_000
STEP_TIMEOUT = 30.0  # seconds the bot may take to answer one wizard step under load
SAMPLE_EVERY = 15.0  # seconds between RSS samples
REPORTS = ("dynamics", "satisfaction", "structure", "response-times", "ratings")
PROCESSES = ("bot", "worker", "backoffice")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    """What the load did, per minute and in all."""

    started: float = field(default_factory=time.monotonic)
    minutes: dict[int, Counter[str]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)
    customer_texts: list[tuple[int, str]] = field(default_factory=list)  # (chat, text) sent
    claims_filed: list[tuple[int, str]] = field(default_factory=list)  # (chat, description) submitted
    replies: list[tuple[int, str]] = field(default_factory=list)  # (chat, text) staff replied

    def count(self, what: str, n: int = 1) -> None:
        minute = int((time.monotonic() - self.started) // 60)
        self.minutes.setdefault(minute, Counter())[what] += n

    def error(self, what: str, detail: str) -> None:
        self.errors[what] += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{what}: {detail[:300]}")


# -- the customers ---------------------------------------------------------------------------------
class Wizard:
    """One customer's side of the bot: waits for the bot's messages by their text (replies and
    notices the worker delivers meanwhile arrive in the same chat and are passed over)."""

    def __init__(self, emu: Any, user: Any, t: Any) -> None:
        self.emu, self.user, self.t = emu, user, t
        self.seen = 0

    async def next(self, predicate: Any) -> Any:
        chat = self.user.chat

        def find() -> Any:
            for index in range(self.seen, len(chat.sent)):
                if predicate(chat.sent[index]):
                    self.seen = index + 1
                    return chat.sent[index]
            return None

        try:
            return await self.emu.world.wait_for(find, STEP_TIMEOUT)
        except TimeoutError:
            last = chat.sent[-1].content if chat.sent else None
            raise TimeoutError(f"no answer in {STEP_TIMEOUT:.0f} s; the last message was {last!r}") from None

    def text_is(self, key: str) -> Any:
        wanted = self.t(key)
        return lambda m: m.text == wanted

    def has_button(self, key: str) -> Any:
        label = self.t(key)
        return lambda m: any(b.get("text") == label for b in m.buttons)

    async def file_claim(self, description: str) -> None:
        t, user = self.t, self.user
        self.seen = len(user.chat.sent)
        await user.send_text("/new")
        await self.next(self.text_is("bot.intake.ask_description"))
        await user.send_text(description)
        ask_files = await self.next(self.text_is("bot.intake.ask_files"))
        await user.press(ask_files, text=t("bot.intake.done"))
        ask_order = await self.next(self.text_is("bot.intake.ask_order"))
        await user.press(ask_order, text=t("bot.intake.skip"))
        ask_remedy = await self.next(self.text_is("bot.intake.ask_remedy"))
        await user.press(ask_remedy, text=t("remedy.refund"))
        step = await self.next(lambda m: m.text == t("bot.intake.ask_phone") or self.has_button("bot.intake.submit")(m))
        if step.text == t("bot.intake.ask_phone"):
            await user.send_contact(f"+7999{user.id:07d}"[-12:])
            step = await self.next(self.has_button("bot.intake.submit"))
        await user.press(step, text=t("bot.intake.submit"))
        # The text as the customer reads it: Telegram has turned the HTML tags into entities.
        prefix = re.sub(r"<[^>]+>", "", t("bot.intake.registered", number="\x00", hours=0).split("\x00")[0])
        await self.next(lambda m: (m.text or "").startswith(prefix))


async def customer(emu: Any, index: int, tally: Tally, stop: asyncio.Event) -> None:
    from shared.i18n import get_translator

    language = "ru" if index % 2 else "en"
    user = emu.user(FIRST_USER + index, first_name=f"Soak{index}", language_code=language)
    wizard = Wizard(emu, user, get_translator(language))
    rng = random.Random(index)
    round_ = 0
    while not stop.is_set():
        round_ += 1
        description = f"soak claim c{index} r{round_}: the kettle leaks"
        try:
            await wizard.file_claim(description)
        except (TimeoutError, LookupError) as exc:
            tally.error("wizard step unanswered", f"customer {index} round {round_}: {exc}")
            await user.send_text("/cancel")
            await asyncio.sleep(2)
            continue
        tally.claims_filed.append((user.id, description))
        tally.count("claims filed")
        for n in range(rng.randint(2, 4)):
            if stop.is_set():
                return
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            text = f"soak message c{index} r{round_} n{n}: any news?"
            await user.send_text(text)
            tally.customer_texts.append((user.id, text))
            tally.count("customer messages")
        await asyncio.sleep(rng.uniform(0.3, 1.5))


# -- the staff -------------------------------------------------------------------------------------
class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str, tally: Tally) -> None:
        self.http, self.base, self.tally = http, base, tally
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        started = time.perf_counter()
        async with self.http.request(method, self.base + path, json=body, headers=self.headers) as response:
            payload = await response.read()
            if response.status >= 300:
                self.tally.error(f"HTTP {response.status}", f"{method} {path}: {payload[:200]!r}")
                return None
        self.tally.count("API calls")
        self.tally.count("API seconds x1000", round((time.perf_counter() - started) * 1000))
        return json.loads(payload) if payload and response.content_type == "application/json" else payload


async def staff(api: Api, index: int, of: int, chats: dict[int, int], tally: Tally, stop: asyncio.Event) -> None:
    """Claims whose id % `of` == `index` are this staff member's: no two loops act on one claim."""
    taken: dict[int, float] = {}  # claim id -> when it was taken in progress
    turn = 0
    while not stop.is_set():
        turn += 1
        page = await api.call("GET", "/api/v1/claims?status=new&limit=50")
        for claim in (page or {}).get("items", []):
            if claim["id"] % of != index or stop.is_set():
                continue
            text = f"soak reply to claim {claim['id']}: we are on it"
            if await api.call(
                "POST", f"/api/v1/claims/{claim['id']}/interactions", {"channel": "telegram", "text": text}
            ):
                tally.replies.append((chats.get(claim["customer_id"], 0), text))
                tally.count("staff replies")
            if await api.call("POST", f"/api/v1/claims/{claim['id']}/transitions", {"to": "in_progress"}):
                taken[claim["id"]] = time.monotonic()
        now = time.monotonic()
        for claim_id, since in list(taken.items()):
            if now - since < 5 or stop.is_set():
                continue
            body = {"to": "resolved", "result": "satisfied", "resolution": "Refunded in full."}
            if await api.call("POST", f"/api/v1/claims/{claim_id}/transitions", body):
                tally.count("claims resolved")
            del taken[claim_id]
        if turn % 3 == 0:
            report = REPORTS[(turn // 3) % len(REPORTS)]
            if await api.call("GET", f"/api/v1/reports/{report}") is not None:
                tally.count("reports read")
        await asyncio.sleep(1.0)


async def refresh_chats(dsn: str, chats: dict[int, int], stop: asyncio.Event) -> None:
    """customer id -> Telegram chat, for the staff's replies (the customers are created by the bot)."""
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            for row in await conn.fetch("SELECT id, telegram_chat_id FROM customer WHERE telegram_chat_id IS NOT NULL"):
                chats[row["id"]] = row["telegram_chat_id"]
            await asyncio.sleep(1.0)
    finally:
        await conn.close()


# -- the processes ---------------------------------------------------------------------------------
@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log: Path
    metrics_port: int | None = None
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, MB)


async def start_child(name: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claimdesk", *args, cwd=ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    return Child(name, proc, log, int(env["METRICS_PORT"]) if env.get("METRICS_PORT") else None)


async def sample_rss(children: list[Child], started: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for child in children:
            try:
                rss = psutil.Process(child.proc.pid).memory_info().rss / 2**20
            except psutil.Error:
                continue
            child.rss.append((time.monotonic() - started, rss))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except TimeoutError:
            pass


def log_levels(path: Path) -> tuple[Counter[str], list[str]]:
    """Lines per level in a process's JSON log, and the first ERROR lines."""
    levels: Counter[str] = Counter()
    errors: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            levels["not JSON"] += 1
            if len(errors) < 3:
                errors.append(line[:300])
            continue
        level = record.get("level", "?")
        levels[level] += 1
        if level in ("ERROR", "CRITICAL") and len(errors) < 3:
            errors.append(f"{record.get('logger')}: {record.get('message')}"[:300])
    return levels, errors


async def scrape(http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    """The desk's counters and gauges at a metrics endpoint (sample name with labels -> value)."""
    from prometheus_client.parser import text_string_to_metric_families

    async with http.get(url, headers=headers) as response:
        text = await response.text()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith(
            ("claimdesk_bot", "claimdesk_claims", "claimdesk_deliveries", "claimdesk_outbox")
        ):
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") or (family.type == "gauge" and not sample.name.endswith("_created")):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


# -- the checks ------------------------------------------------------------------------------------
async def check_messages(dsn: str, emu: Any, tally: Tally) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        inbound = Counter(
            (r["tg_chat_id"], r["text"])
            for r in await conn.fetch(
                "SELECT tg_chat_id, text FROM interaction WHERE direction = 'inbound' AND text LIKE 'soak message %'"
            )
        )
        claims = Counter(
            r["description"]
            for r in await conn.fetch("SELECT description FROM claim WHERE description LIKE 'soak claim %'")
        )
        outbox = await conn.fetch("SELECT id, chat_id, status, tg_message_id FROM outbox_message ORDER BY id")
    finally:
        await conn.close()
    sent_texts = set(tally.customer_texts)
    result = {
        "customer messages sent": len(tally.customer_texts),
        "customer messages lost": sum(1 for key in sent_texts if inbound[key] == 0),
        "customer messages duplicated": sum(n - 1 for key, n in inbound.items() if n > 1),
        "claims filed": len(tally.claims_filed),
        "claims lost": sum(1 for _, description in tally.claims_filed if claims[description] == 0),
        "claims duplicated": sum(n - 1 for n in claims.values() if n > 1),
        "outbox messages": len(outbox),
        "outbox messages not sent": sum(1 for r in outbox if r["status"] != "sent"),
    }
    # Every sent outbox row is in the emulator's record of its chat, and each distinct text arrived
    # as many times as the outbox holds it: one more is a message sent twice.
    delivered_missing = 0
    held: Counter[tuple[int, str]] = Counter()
    for row in outbox:
        if row["status"] != "sent":
            continue
        message = next((m for m in emu.sent(row["chat_id"]) if m.message_id == row["tg_message_id"]), None)
        if message is None:
            delivered_missing += 1
            continue
        held[(row["chat_id"], message.content or "")] += 1
    arrived = Counter(
        (chat, m.content or "")
        for chat in {chat for chat, _ in held}
        for m in emu.sent(chat)
        if (chat, m.content or "") in held
    )
    result["outbox messages missing at Telegram"] = delivered_missing
    result["outbox messages delivered twice"] = sum(max(0, arrived[key] - n) for key, n in held.items())
    replies_arrived = Counter((chat, text) for chat, text in tally.replies for m in emu.sent(chat) if m.content == text)
    result["staff replies"] = len(tally.replies)
    result["staff replies lost"] = sum(1 for key in set(tally.replies) if replies_arrived[key] == 0)
    result["staff replies duplicated"] = sum(n - 1 for n in replies_arrived.values() if n > 1)
    return result


async def drain(dsn: str, emu: Any, timeout: float) -> float:
    """Wait until the webhook has nothing left to deliver and the outbox nothing left to send."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() - started < timeout:
            pending = await conn.fetchval("SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending')")
            if pending == 0 and not emu.world.updates:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return time.monotonic() - started


# -- the run ---------------------------------------------------------------------------------------
async def prepare(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    from shared import migrate
    from shared.db import asyncpg_dsn

    admin = asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{SOAK_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{SOAK_DB}"')
    finally:
        await conn.close()
    url = (
        make_url(server_url)
        .set(database=SOAK_DB, drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False)
    )
    await migrate.upgrade(url)
    return url


async def staff_token(url: str) -> str:
    from shared.db import create_engine, create_session_factory
    from shared.staff.service import create_user, issue_token

    engine = create_engine(url, pool_size=1)
    try:
        async with create_session_factory(engine).begin() as session:
            # An admin: the staff loops' calls, and /metrics at the end.
            user = await create_user(session, login="soak", password="soak-password-1", role="admin")
            token, _ = await issue_token(session, user_id=user.id, name="soak")
    finally:
        await engine.dispose()
    return token


def rss_table(children: list[Child], warmup: float) -> list[str]:
    lines = []
    ends = sorted({int(at // 60) for c in children for at, _ in c.rss})
    lines.append("  minute " + "".join(f"{c.name:>12s}" for c in children) + "   (RSS MB, last sample of the minute)")
    for minute in ends:
        cells = []
        for c in children:
            values = [mb for at, mb in c.rss if int(at // 60) == minute]
            cells.append(f"{values[-1]:12.1f}" if values else f"{'-':>12s}")
        lines.append(f"  {minute + 1:6d} " + "".join(cells))
    for c in children:
        after = [mb for at, mb in c.rss if at >= warmup]
        if len(after) >= 6:
            first, last = sum(after[:3]) / 3, sum(after[-3:]) / 3
            growth = (last - first) / first * 100
            lines.append(
                f"  {c.name:10s} RSS after warm-up {first:6.1f} MB -> end {last:6.1f} MB: growth {growth:+5.1f}%"
            )
        else:
            lines.append(f"  {c.name:10s} too few samples after warm-up for a growth figure")
    return lines


async def main_async(args: argparse.Namespace) -> int:
    from bot.sandbox import BotApiEmulator
    from shared.db import asyncpg_dsn, resolve_database_url
    from shared.settings import Settings

    server_url = await resolve_database_url(Settings())
    url = await prepare(server_url)
    dsn = asyncpg_dsn(url)
    token = await staff_token(url)
    emu = BotApiEmulator(token=TOKEN, sandbox_ui=False)
    await emu.start()
    logs = Path(tempfile.mkdtemp(prefix="claimdesk-soak-"))
    backoffice_port = free_port()
    base_env = {
        **os.environ,
        "DATABASE_URL": url,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emu.base_url,
        "CLAIMDESK_DB_POOL_SIZE": "5",
        "LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    base_env.pop("REDIS_URL", None)
    children = [
        await start_child(
            "bot",
            ["bot"],
            {**base_env, "BOT_MODE": "webhook", "WEBHOOK_PORT": str(free_port()), "METRICS_PORT": str(free_port())},
            logs,
        ),
        await start_child("worker", ["worker"], {**base_env, "METRICS_PORT": str(free_port())}, logs),
        await start_child("backoffice", ["backoffice"], {**base_env, "BACKOFFICE_PORT": str(backoffice_port)}, logs),
    ]
    tally = Tally()
    stop_load, stop_all = asyncio.Event(), asyncio.Event()
    chats: dict[int, int] = {}
    http = aiohttp.ClientSession()
    exit_codes: dict[str, int | None] = {}
    try:
        await emu.world.wait_for(lambda: emu.world.webhook is not None, 120)
        base = f"http://127.0.0.1:{backoffice_port}"
        for _ in range(240):
            try:
                async with http.get(base + "/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        load = os.getloadavg()
        print(
            f"soak: {args.minutes} min, {args.customers} customers, {args.staff} staff loops; processes "
            + ", ".join(f"{c.name} (pid {c.proc.pid})" for c in children)
            + f"; logs in {logs}; load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
            flush=True,
        )
        tally.started = time.monotonic()
        api = Api(http, base, token, tally)
        background = [
            asyncio.create_task(sample_rss(children, tally.started, stop_all)),
            asyncio.create_task(refresh_chats(dsn, chats, stop_all)),
        ]
        load_tasks = [asyncio.create_task(customer(emu, i, tally, stop_load)) for i in range(args.customers)]
        load_tasks += [
            asyncio.create_task(staff(api, i, args.staff, chats, tally, stop_load)) for i in range(args.staff)
        ]
        deadline = tally.started + args.minutes * 60
        minute = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(min(5.0, deadline - time.monotonic()))
            done = [c.name for c in children if c.proc.returncode is not None]
            if done:
                tally.error("process ended", ", ".join(done))
                break
            now_minute = int((time.monotonic() - tally.started) // 60)
            if now_minute > minute:
                counts = tally.minutes.get(minute, Counter())
                done_now = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if not k.startswith("API seconds"))
                errors_so_far = sum(tally.errors.values())
                backlog = await scrape(http, base + "/metrics", api.headers)
                print(
                    f"  minute {minute + 1}: {done_now}; load driver errors so far {errors_so_far}; outbox depth "
                    f"{backlog.get('claimdesk_outbox_depth{}', -1):.0f}, oldest "
                    f"{backlog.get('claimdesk_outbox_oldest_age_seconds{}', -1):.1f} s (/metrics)",
                    flush=True,
                )
                minute = now_minute
        stop_load.set()
        await asyncio.gather(*load_tasks, return_exceptions=True)
        elapsed = time.monotonic() - tally.started
        drained = await drain(dsn, emu, 120)
        await asyncio.sleep(3)  # a message sent twice would arrive now
        counters = {
            c.name: await scrape(http, f"http://127.0.0.1:{c.metrics_port}/metrics") for c in children if c.metrics_port
        }
        counters["backoffice"] = await scrape(http, base + "/metrics", api.headers)
        checks = await check_messages(dsn, emu, tally)
        stop_all.set()
        await asyncio.gather(*background, return_exceptions=True)
    finally:
        stop_load.set()
        stop_all.set()
        await http.close()
        for c in children:
            if c.proc.returncode is None:
                c.proc.send_signal(signal.SIGTERM)
        for c in children:
            try:
                exit_codes[c.name] = await asyncio.wait_for(c.proc.wait(), 30)
            except TimeoutError:
                c.proc.kill()
                exit_codes[c.name] = await c.proc.wait()
        await emu.stop()
        from sqlalchemy.engine import make_url

        admin = asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{SOAK_DB}" WITH (FORCE)')
        finally:
            await conn.close()

    load = os.getloadavg()
    totals: Counter[str] = Counter()
    for counts in tally.minutes.values():
        totals.update(counts)
    print(f"\nran {elapsed:.0f} s of load, then {drained:.1f} s until the webhook and the outbox were empty")
    print("throughput:")
    for what in ("claims filed", "customer messages", "staff replies", "claims resolved", "reports read", "API calls"):
        print(f"  {what:18s} {totals[what]:7d}  ({totals[what] / elapsed * 60:7.1f} a minute)")
    for what, name, series in (
        ("bot updates", "bot", "claimdesk_bot_updates_total"),
        ("deliveries sent", "worker", "claimdesk_deliveries_total{outcome=sent}"),
    ):
        n = sum(v for k, v in counters.get(name, {}).items() if k.startswith(series))
        print(f"  {what:18s} {n:7.0f}  ({n / elapsed:7.1f} a second, the {name}'s counter; drain included)")
    if totals["API calls"]:
        print(
            f"  API mean latency   {totals['API seconds x1000'] / totals['API calls']:7.1f} ms (the staff loops' view)"
        )
    print("errors:")
    log_errors = 0
    for c in children:
        levels, examples = log_levels(c.log)
        log_errors += levels["ERROR"] + levels["CRITICAL"] + levels["not JSON"]
        print(
            f"  {c.name:10s} log lines by level {dict(levels)}; exit code {exit_codes.get(c.name)}"
            + "".join(f"\n      {e}" for e in examples)
        )
    print(f"  load driver: {dict(tally.errors) or 'none'}" + "".join(f"\n      {e}" for e in tally.error_examples))
    print("messages (database and the emulator's record):")
    for what, n in checks.items():
        print(f"  {what:38s} {n}")
    print("the processes' own metrics (bot, worker: METRICS_PORT; back-office: /metrics, the outbox read then):")
    for name, values in counters.items():
        for key, value in sorted(values.items()):
            print(f"  {name:10s} {key} {value:.0f}")
    print("RSS over time:")
    warmup = args.minutes * 60 * 0.2
    for line in rss_table(children, warmup):
        print(line)
    lost = sum(n for k, n in checks.items() if "lost" in k or "missing" in k or "not sent" in k)
    dup = sum(n for k, n in checks.items() if "duplicated" in k or "twice" in k)
    errors = log_errors + sum(tally.errors.values())
    print(f"load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"summary: errors {errors}, lost {lost}, duplicated {dup} (targets: 0, 0, 0; RSS growth under 10%)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--staff", type=int, default=2)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
