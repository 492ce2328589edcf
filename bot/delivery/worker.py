"""The delivery worker: the only code that talks to Telegram on the desk's behalf.

Loop: lease due messages (shared.outbox.queue, one per chat, committed before any network call),
send each in its own task paced by `Pacer`, record the outcome; sleep until a NOTIFY on
`claimdesk_outbox`, a finished send, the next due time or the slow poll, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import FSInputFile, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.pacing import Pacer
from bot.delivery.render import Step, plan_steps, to_plain
from bot.delivery.topics import TopicSender
from shared.db import DatabaseConfig, connect
from shared.metrics import DELIVERIES
from shared.outage import MAX_PAUSE, OutageLog, is_outage, wait_for_database
from shared.outbox import queue
from shared.outbox.queue import LeasedMessage
from shared.outbox.service import NOTIFY_CHANNEL
from shared.topics.posts import LANE as TOPIC_LANE

log = logging.getLogger("claimdesk.delivery")

# What staff read on the claim when a message could not be delivered.
REASON_BLOCKED = "the customer blocked the bot"
REASON_DEACTIVATED = "the customer blocked the bot (the Telegram account is deleted)"
NOTE_PLAIN = "sent as plain text: Telegram could not parse the formatting"

TRANSIENT = (TelegramServerError, TelegramNetworkError, TelegramUnauthorizedError, aiohttp.ClientError, TimeoutError)


@dataclass
class WorkerConfig:
    lease_seconds: float = 60.0
    poll_interval: float = 30.0  # the fallback when no NOTIFY arrives (listener down)
    max_in_flight: int = 64  # about two seconds of the global budget: leases never run out waiting
    total_per_second: float = 30.0
    # Telegram's 1 message/s per chat, measured at arrival: a little margin absorbs network jitter.
    chat_interval: float = 1.02
    # Telegram's ~20 messages a minute into one group (the staff group's topics), with the same margin.
    group_interval: float = 3.06
    max_attempts: int = 8  # network errors, 5xx and timeouts; then the message fails
    backoff_base: float = 2.0
    backoff_max: float = 900.0
    files_dir: Path | None = None  # where attachments' storage_path is relative to
    stop_grace: float = 10.0
    name: str = "worker"


@dataclass
class WorkerStats:
    counts: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, key: str) -> int:
        return self.counts[key]


class _Outcome(Exception):
    """Ends the delivery of one message early (retry scheduled or failure recorded)."""


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        bot: Bot,
        listen: DatabaseConfig | None,
        config: WorkerConfig | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.sessions = sessions
        self.bot = bot
        self.listen = listen  # the LISTEN connection's database (None: poll only)
        self.config = config or WorkerConfig()
        self.pacer = pacer or Pacer(
            total_per_second=self.config.total_per_second,
            chat_interval=self.config.chat_interval,
            group_interval=self.config.group_interval,
        )
        self.stats = WorkerStats()
        self.topics = TopicSender(sessions, bot=bot, pacer=self.pacer, counts=self.stats.counts)
        self._wake = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], LeasedMessage] = {}
        self._listener: asyncpg.Connection | None = None
        self._listener_retry_at = 0.0
        # The database away: said once (claims, reads, LISTEN and bookkeeping alike).
        self.outages = OutageLog(f"delivery {self.config.name}", logger=log)
        # Messages Telegram took whose bookkeeping waits for the database: nothing new is claimed
        # meanwhile, so an expired lease of one of them is never taken and sent again here.
        self._unrecorded: set[int] = set()
        self.on_idle: Callable[[], None] | None = None  # tests: called when nothing is due

    # ------------------------------------------------------------------ the loop
    async def run(self, stop: asyncio.Event, *, final: asyncio.Event | None = None) -> None:
        """Deliver until `stop`. When `final` is given and not set as the loop ends (the sending
        lock was lost, not the process stopping), sends in flight go on (their bookkeeping
        waits for the database) and `close()` finishes them later."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        log.info(
            "%s: delivering (%.0f msg/s, 1 per %.2f s per chat)", cfg.name, cfg.total_per_second, cfg.chat_interval
        )
        try:
            while not stop.is_set():
                await self._ensure_listener(loop.time())
                self._wake.clear()
                free = 0 if self._unrecorded else cfg.max_in_flight - len(self._tasks)
                leased = await self._claim(free)
                for message in leased:
                    task = asyncio.create_task(self._deliver(message), name=f"deliver-{message.id}")
                    self._tasks[task] = message
                    task.add_done_callback(self._finished)
                if free > 0 and len(leased) == free:
                    continue  # there may be more due right now
                if len(self._tasks) >= cfg.max_in_flight or self._unrecorded:
                    timeout: float = cfg.poll_interval  # a finished send wakes us
                else:
                    timeout = await self._idle_timeout()
                    if not self._tasks and timeout >= cfg.poll_interval and self.on_idle:
                        self.on_idle()
                if self._listener is None and self.listen is not None:
                    timeout = min(timeout, max(0.05, self._listener_retry_at - loop.time()))
                await self._sleep(stop, timeout)
        finally:
            if final is None or final.is_set():
                await self.close()
            else:
                await self._close_listener()

    async def _claim(self, free: int) -> list[LeasedMessage]:
        if free <= 0:
            return []
        try:
            leased = await queue.claim_batch(self.sessions, limit=free, lease_seconds=self.config.lease_seconds)
        except Exception as exc:  # the loop must survive the database going away
            if is_outage(exc):
                self.outages.failed(exc, "not sending")
            else:
                log.warning("%s: cannot claim messages: %s", self.config.name, exc)
            return []
        self.outages.recovered()
        return leased

    async def _idle_timeout(self) -> float:
        try:
            due = await queue.seconds_until_due(self.sessions)
        except Exception as exc:
            if is_outage(exc):
                self.outages.failed(exc, "not sending")
            else:
                log.warning("%s: cannot read the queue: %s", self.config.name, exc)
            return min(MAX_PAUSE, self.config.poll_interval)
        if due is None:
            return self.config.poll_interval
        # Due already but not claimed: another worker is taking it right now; look again shortly.
        return min(self.config.poll_interval, max(0.05, due + 0.01))

    async def _sleep(self, stop: asyncio.Event, timeout: float) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: delivery task crashed", self.config.name, exc_info=task.exception())

    async def _ensure_listener(self, now: float) -> None:
        """LISTEN on its own connection; when that connection goes (the server restarted), the
        loop is woken at once and listens again as soon as the database answers, rather than
        waiting for the slow poll (a NOTIFY sent meanwhile is not lost: the claim after
        listening again finds what it announced)."""
        if self.listen is None:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = None
        if now < self._listener_retry_at:
            return
        self._listener_retry_at = now + 1.0
        try:
            conn = await connect(self.listen)
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if is_outage(exc):
                self.outages.failed(exc, "not sending")
            else:
                log.warning(
                    "%s: LISTEN unavailable, polling every %.0f s: %s", self.config.name, self.config.poll_interval, exc
                )
            return
        conn.add_termination_listener(self._listener_lost)
        self._listener = conn
        self._wake.set()  # what was queued while not listening is claimed now

    def _listener_lost(self, *_: Any) -> None:
        self._listener_retry_at = 0.0
        self._wake.set()

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Stop cleanly: let sends in flight finish, hand back what was leased but not sent."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.config.stop_grace)
        leftover = list(self._tasks.items())
        for task, _ in leftover:
            task.cancel()
        for task, _ in leftover:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        unrecorded = sorted(self._unrecorded)
        if unrecorded:
            log.error(
                "%s: stopped with messages %s sent but not recorded (the database is away): they may be sent again",
                self.config.name,
                unrecorded,
            )
        if leftover:
            with contextlib.suppress(Exception):
                await queue.release(self.sessions, [m for _, m in leftover if m.id not in self._unrecorded])
        await self._close_listener()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    # ------------------------------------------------------------------ one message
    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** max(0, attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, never immediate

    async def _deliver(self, message: LeasedMessage) -> None:
        if message.payload.get("lane") == TOPIC_LANE:
            await self._deliver_topic(message)
            return
        progress = dict(message.payload.get("_progress") or {})
        done = int(progress.get("done", 0))
        ids: list[int] = list(progress.get("ids", []))
        steps = plan_steps(message.payload, [f.kind for f in message.files])
        note: str | None = progress.get("note")
        if message.method != "sendMessage" or not steps:
            await self._fail(message, f"cannot deliver: unsupported message ({message.method}, {len(steps)} parts)")
            return
        try:
            while done < len(steps):
                step = steps[done]
                sent, plain = await self._send_step(message, step, done=done, ids=ids)
                if plain:
                    note = NOTE_PLAIN
                ids.append(sent.message_id)
                done += 1
                if done < len(steps):
                    progress = {"_progress": {"done": done, "ids": ids, "note": note}}
                    saved = await self._record(
                        message,
                        partial(
                            queue.save_progress,
                            self.sessions,
                            message,
                            progress=progress,
                            lease_seconds=self.config.lease_seconds,
                        ),
                    )
                    if not saved:
                        log.warning("%s: lost the lease of message %s mid-way", self.config.name, message.id)
                        return
        except _Outcome:
            return
        recorded = await self._record(
            message, partial(queue.mark_sent, self.sessions, message, tg_message_id=ids[0], note=note)
        )
        if recorded:
            self.stats.counts["sent"] += 1
            DELIVERIES.labels("sent").inc()
        else:
            self.stats.counts["lease_lost"] += 1
            DELIVERIES.labels("lease_lost").inc()
            log.warning("%s: message %s was sent but its lease had been taken over", self.config.name, message.id)

    async def _deliver_topic(self, message: LeasedMessage) -> None:
        """A row of the staff group's topics (bot/delivery/topics.py), under the same error policy."""
        try:
            mid, note = await self.topics.deliver(message)
        except TelegramRetryAfter as exc:
            self.stats.counts["rate_limited"] += 1
            await self._retry(message, exc.retry_after, f"429: retry after {exc.retry_after} s", {})
            return
        except TRANSIENT as exc:
            self.stats.counts["transient"] += 1
            what = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            if message.attempt >= self.config.max_attempts:
                await self._fail(
                    message, f"Telegram did not take the message after {message.attempt} attempts ({what})"
                )
            else:
                await self._retry(message, self._backoff(message.attempt), what, {})
            return
        except TelegramAPIError as exc:
            await self._fail(message, f"Telegram refused the message: {exc.message}")
            return
        # The bookkeeping after Telegram answered, retried through an outage like a customer's
        # message: a post Telegram accepted is never posted again.
        if await self._record(message, partial(queue.mark_sent, self.sessions, message, tg_message_id=mid, note=note)):
            self.stats.counts["sent"] += 1
            self.stats.counts["topic_sent"] += 1
            DELIVERIES.labels("sent").inc()

    async def _send_step(
        self, message: LeasedMessage, step: Step, *, done: int, ids: list[int]
    ) -> tuple[Message, bool]:
        """Send one part; returns it and whether it went as plain text. Raises _Outcome when the
        message must stop here (retry scheduled, or failed)."""
        plain = False
        progress = {"_progress": {"done": done, "ids": ids}}
        while True:
            await self.pacer.turn(message.chat_id)
            try:
                return await self._call(message, step), plain
            except TelegramRetryAfter as exc:
                self.stats.counts["rate_limited"] += 1
                if message.attempt >= self.config.max_attempts * 3:
                    await self._fail(message, f"Telegram kept refusing with 429 after {message.attempt} attempts")
                else:
                    await self._retry(message, exc.retry_after, f"429: retry after {exc.retry_after} s", progress)
                raise _Outcome from None
            except TelegramForbiddenError as exc:
                reason = REASON_DEACTIVATED if "deactivated" in exc.message.lower() else REASON_BLOCKED
                await self._fail(message, reason, blocked=True)
                raise _Outcome from None
            except TelegramBadRequest as exc:
                if step.kind == "text" and step.parse_mode and "can't parse entities" in exc.message.lower():
                    # The formatting is at fault, not the content: the same words, without markup.
                    self.stats.counts["plain_fallback"] += 1
                    step = Step("text", to_plain(step.text or "", step.parse_mode), None, step.reply_markup)
                    plain = True
                    continue
                await self._fail(message, f"Telegram refused the message: {exc.message}")
                raise _Outcome from None
            except TRANSIENT as exc:
                self.stats.counts["transient"] += 1
                what = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
                if message.attempt >= self.config.max_attempts:
                    await self._fail(
                        message, f"Telegram did not take the message after {message.attempt} attempts ({what})"
                    )
                else:
                    await self._retry(message, self._backoff(message.attempt), what, progress)
                raise _Outcome from None
            except TelegramAPIError as exc:
                await self._fail(message, f"Telegram refused the message: {exc.message}")
                raise _Outcome from None
            except FileNotFoundError as exc:
                await self._fail(message, f"the attached file is missing: {exc.filename}")
                raise _Outcome from None

    async def _call(self, message: LeasedMessage, step: Step) -> Message:
        markup = _markup(step.reply_markup)
        if step.kind == "text":
            return await self.bot.send_message(
                message.chat_id, step.text or "", parse_mode=step.parse_mode, reply_markup=markup
            )
        assert step.file_index is not None
        ref = message.files[step.file_index]
        source: Any
        if ref.tg_file_id:
            source = ref.tg_file_id
        elif ref.storage_path:
            path = Path(ref.storage_path)
            if not path.is_absolute() and self.config.files_dir is not None:
                path = self.config.files_dir / path
            if not path.is_file():
                raise FileNotFoundError(2, "missing", ref.file_name or ref.storage_path)
            source = FSInputFile(path, filename=ref.file_name or path.name)
        else:
            raise FileNotFoundError(2, "missing", ref.file_name or f"attachment {ref.attachment_id}")
        if step.kind == "photo":
            return await self.bot.send_photo(message.chat_id, source, reply_markup=markup)
        return await self.bot.send_document(message.chat_id, source, reply_markup=markup)

    async def _retry(self, message: LeasedMessage, delay: float, error: str, progress: dict[str, Any]) -> None:
        self.stats.counts["retried"] += 1
        DELIVERIES.labels("retried").inc()
        log.info(
            "%s: message %s attempt %s: %s; again in %.1f s",
            self.config.name,
            message.id,
            message.attempt,
            error,
            delay,
        )
        await self._record(
            message, partial(queue.mark_retry, self.sessions, message, delay=delay, error=error, progress=progress)
        )

    async def _fail(self, message: LeasedMessage, reason: str, *, blocked: bool = False) -> None:
        self.stats.counts["failed"] += 1
        DELIVERIES.labels("failed").inc()
        log.info("%s: message %s failed: %s", self.config.name, message.id, reason)
        await self._record(message, partial(queue.mark_failed, self.sessions, message, reason=reason, blocked=blocked))

    async def _record(self, message: LeasedMessage, write: Callable[[], Awaitable[bool]]) -> bool:
        """Write what Telegram answered; while the database is away, keep the answer and write it
        when it is back (never send a message again because its bookkeeping failed)."""
        try:
            return await write()
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.outages.failed(exc, "keeping what Telegram answered")
            self._unrecorded.add(message.id)
        try:
            return await wait_for_database(write, self.outages, doing="keeping what Telegram answered")
        finally:
            self._unrecorded.discard(message.id)


def _markup(raw: dict[str, Any] | None) -> Any:
    if not raw:
        return None
    if "inline_keyboard" in raw:
        return InlineKeyboardMarkup.model_validate(raw)
    from aiogram.types import ForceReply, ReplyKeyboardMarkup, ReplyKeyboardRemove

    if "keyboard" in raw:
        return ReplyKeyboardMarkup.model_validate(raw)
    if raw.get("remove_keyboard"):
        return ReplyKeyboardRemove.model_validate(raw)
    if raw.get("force_reply"):
        return ForceReply.model_validate(raw)
    return None
