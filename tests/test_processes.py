"""Several processes on one PostgreSQL, proven on loopback (issue 13, build): two bot processes in
webhook mode (conversation state in Redis) behind a round-robin balancer, two delivery workers and
two back-offices, all started as `python -m claimdesk ...`. Customers go through the claim wizard
at once, their updates alternating between the two bots; staff reply through both back-offices;
halfway one process of each kind is killed with SIGKILL. Then: every claim complete and
registered once, every customer message stored once, every reply delivered once, and a session
opened on one back-office valid on the other.

The kills happen between the customers' steps (each customer waits for the bot's answer before
the next step) and once the replies queued so far are delivered, so what is proven is that the
survivors take over the updates, the sending and the requests. Not proven here: a worker killed
between Telegram accepting a message and recording it (milliseconds) sends that message again
after its lease; Telegram has no idempotency key that would let anyone do better. An update cut
in the middle of its transaction is covered by tests/bot/test_robustness.py.
Marked `processes` (deselect with `-m "not processes"`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from bot.sandbox.users import UserDriver
from shared.claims.models import Claim
from shared.enums import Role
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.outbox.models import OutboxMessage
from shared.staff.service import create_user, issue_token
from tests.bot.test_messages import seed
from tests.test_cli import _free_port, clean_env

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:PROCESSES-test"
SECRET = "processes-test-secret"
PASSWORD = "a long enough password"
WIZARDS = 6  # customers filing a claim each
WRITERS = 3  # customers with a claim, writing; staff answer them
PATH = "/telegram/webhook"


class Balancer:
    """Round robin over the bots' webhook endpoints; a backend that does not answer is skipped
    (as a load balancer's health check would), and none answering is a 502 (Telegram retries)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.turn = 0
        self.client: aiohttp.ClientSession | None = None
        self.served: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        assert self.client is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("content-type", "x-telegram"))}
        self.turn += 1
        for i in range(len(self.backends)):
            backend = self.backends[(self.turn + i) % len(self.backends)]
            try:
                async with self.client.post(backend, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    self.served[backend] += 1
                    return web.Response(status=resp.status, body=answer, content_type=resp.content_type)
            except (aiohttp.ClientError, TimeoutError):
                continue
        return web.Response(status=502)

    @contextlib.asynccontextmanager
    async def serving(self, port: int) -> AsyncIterator[str]:
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post(PATH, self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}{PATH}"
        finally:
            await runner.cleanup()
            await self.client.close()


async def _start(name: str, *args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """`python -m claimdesk ...`, its log in `cwd/<name>.log` (a pipe nobody reads would fill)."""
    with (cwd / f"{name}.log").open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claimdesk", *args, cwd=cwd, env=env, stdout=log, stderr=log
        )


def _says(path: Path, words: str) -> bool:
    return words in path.read_text(errors="replace")


async def _logged(path: Path, words: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _says(path, words):
        assert loop.time() < deadline, f"{path.name}: no '{words}' in {timeout} s"
        await asyncio.sleep(0.2)


async def _listening(port: int, path: str = "/", timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as client:
        while loop.time() < deadline:
            try:
                async with client.get(f"http://127.0.0.1:{port}{path}") as resp:
                    if resp.status < 500 or path == "/":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"nothing answers on port {port}")


async def _wizard(user: UserDriver, n: int, t, halfway: asyncio.Event, go_on: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    """One customer files a claim; after the third step they wait for the kills (`go_on`)."""
    await user.send_text("/start")
    (greeting,) = await user.wait_for_messages(timeout=30)
    await user.press(greeting, text=t("bot.menu.new"))
    await user.wait_for_messages(timeout=30)
    await user.send_text(f"Broken kettle number {n}")
    (ask_files,) = await user.wait_for_messages(timeout=30)
    await _barrier(halfway, go_on)
    await user.press(ask_files, text=t("bot.intake.done"))
    (ask_order,) = await user.wait_for_messages(timeout=30)
    await user.press(ask_order, text=t("bot.intake.skip"))
    (ask_remedy,) = await user.wait_for_messages(timeout=30)
    await user.press(ask_remedy, text=t("remedy.refund"))
    (ask_amount,) = await user.wait_for_messages(timeout=30)  # how much: skipped
    await user.press(ask_amount, text=t("bot.intake.skip"))
    await user.wait_for_messages(timeout=30)  # the phone is asked
    await user.send_text(f"+7912345670{n}")
    _, summary = await user.wait_for_messages(2, timeout=30)
    await user.press(summary, text=t("bot.intake.submit"))
    await user.wait_for_messages(timeout=30)  # registered


async def _all_delivered(db: async_sessionmaker[AsyncSession]) -> bool:
    async with db() as session:
        rows = (await session.scalars(select(OutboxMessage.status))).all()
    return bool(rows) and all(status == "sent" for status in rows)


async def _until(predicate, failure: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, failure
        await asyncio.sleep(0.3)


async def _barrier(arrived: asyncio.Event, go_on: asyncio.Event) -> None:
    arrived.set()
    await go_on.wait()


async def test_two_of_each_process_survive_one_of_each_killed(
    db: async_sessionmaker[AsyncSession], database_url: str, redis_url: str, tmp_path: Path
) -> None:
    t = get_translator("en")
    emu = BotApiEmulator(token=TOKEN, sandbox_ui=False)
    await emu.start()
    wizards = [emu.user(7600 + n, first_name=f"W{n}", language_code="en") for n in range(WIZARDS)]
    writers = [emu.user(7700 + n, first_name=f"R{n}", language_code="en") for n in range(WRITERS)]
    claims = {}
    for writer in writers:
        _, (claim,) = await seed(db, writer.id, lang="en")
        claims[writer.id] = claim.id
    async with db() as session:
        staff = await create_user(session, login="olga", password=PASSWORD, role=Role.OPERATOR)
        bearer, _ = await issue_token(session, user_id=staff.id, name="tests")
        await session.commit()

    bot_ports, office_ports, lb_port = [_free_port(), _free_port()], [_free_port(), _free_port()], _free_port()
    balancer = Balancer([f"http://127.0.0.1:{port}{PATH}" for port in bot_ports])
    base = clean_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=emu.base_url,
        BOT_MODE="webhook",
        WEBHOOK_SECRET=SECRET,
        CLAIMDESK_DATA_DIR=str(tmp_path),
        CLAIMDESK_DB_POOL_SIZE="3",
        DEFAULT_LANGUAGE="en",
    )
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        async with balancer.serving(lb_port) as lb_url:
            for i, port in enumerate(bot_ports):
                env = {**base, "WEBHOOK_URL": lb_url, "WEBHOOK_PORT": str(port)}
                procs[f"bot{i}"] = await _start(f"bot{i}", "bot", env=env, cwd=tmp_path)
            for i in range(2):
                procs[f"worker{i}"] = await _start(
                    f"worker{i}", "worker", "--no-sweep", "--lease-seconds", "5", "--poll", "2", env=base, cwd=tmp_path
                )
                if i == 0:  # the first one holds the sending lock: it is the one killed
                    await _logged(tmp_path / "worker0.log", "sending for bot")
            for i, port in enumerate(office_ports):
                office_env = {**base, "BACKOFFICE_PORT": str(port)}
                procs[f"office{i}"] = await _start(f"office{i}", "backoffice", env=office_env, cwd=tmp_path)
            for port in bot_ports:
                await _listening(port)
            for port in office_ports:
                await _listening(port, "/readyz")
            await emu.world.wait_for(lambda: emu.world.webhook is not None, 30)

            async with aiohttp.ClientSession() as staff_client:
                # A session opened on one back-office is valid on the other.
                async with staff_client.post(
                    f"http://127.0.0.1:{office_ports[0]}/api/v1/auth/login",
                    json={"login": "olga", "password": PASSWORD},
                    headers={"Origin": f"http://127.0.0.1:{office_ports[0]}"},
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    cookies = {c.key: c.value for c in resp.cookies.values()}
                async with aiohttp.ClientSession(cookies=cookies) as other:
                    async with other.get(f"http://127.0.0.1:{office_ports[1]}/api/v1/auth/me") as resp:
                        assert resp.status == 200, await resp.text()
                        assert (await resp.json())["login"] == "olga"

                async def reply(office: int, writer: UserDriver, text: str) -> None:
                    url = f"http://127.0.0.1:{office_ports[office]}/api/v1/claims/{claims[writer.id]}/interactions"
                    async with staff_client.post(
                        url, json={"channel": "telegram", "text": text}, headers={"Authorization": f"Bearer {bearer}"}
                    ) as resp:
                        assert resp.status == 201, await resp.text()

                halfway = [asyncio.Event() for _ in wizards]
                go_on = asyncio.Event()
                customers = asyncio.gather(*(_wizard(user, n, t, halfway[n], go_on) for n, user in enumerate(wizards)))
                for k in range(3):
                    for n, writer in enumerate(writers):
                        await writer.send_text(f"{writer.id} before #{k}")
                        await reply((n + k) % 2, writer, f"reply to {writer.id} before #{k}")
                for event in halfway:
                    await event.wait()
                await _until(lambda: _all_delivered(db), "the first replies were not delivered")

                # Halfway: one of each kind killed, the way a machine or the OOM killer would.
                for name in ("bot0", "worker0", "office0"):
                    procs[name].send_signal(signal.SIGKILL)
                    await procs[name].wait()
                go_on.set()
                for k in range(3):
                    for writer in writers:
                        await writer.send_text(f"{writer.id} after #{k}")
                        await reply(1, writer, f"reply to {writer.id} after #{k}")
                await asyncio.wait_for(customers, 120)
                await _logged(tmp_path / "worker1.log", "sending for bot")  # the stand-by took over

                await _until(lambda: _all_delivered(db), "the surviving worker did not deliver everything")
                await asyncio.sleep(1.0)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            assert name.endswith("0") or proc.returncode == 0, (name, proc.returncode)
        await emu.stop()

    async with db() as session:
        registered = (await session.scalars(select(Claim).order_by(Claim.id))).all()
        inbound = (await session.scalars(select(Interaction.text).where(Interaction.direction == "inbound"))).all()
    by_description = Counter(c.description for c in registered if c.description.startswith("Broken kettle"))
    assert by_description == {f"Broken kettle number {n}": 1 for n in range(WIZARDS)}
    assert {c.remedy for c in registered if c.description.startswith("Broken kettle")} == {"refund"}
    said = Counter(inbound)
    for writer in writers:
        for when in ("before", "after"):
            for k in range(3):
                assert said[f"{writer.id} {when} #{k}"] == 1
                # A staff answer arrives under its claim's number; each reply exactly once.
                texts = [m.text.splitlines()[-1] for m in writer.messages if m.text]
                assert texts.count(f"reply to {writer.id} {when} #{k}") == 1, texts
    assert all(served for served in balancer.served.values()) and len(balancer.served) == 2
