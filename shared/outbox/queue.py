"""The database side of delivery: claim due messages under a lease, record what happened.

Every function runs in its own short transaction (the caller passes a session factory) and the
row lock taken by `FOR UPDATE SKIP LOCKED` lives only inside `claim_batch`: the worker commits the
lease before it talks to Telegram, so no lock is ever held across a network call.

Fencing: `claim_batch` increments `attempts`; every later write names the attempt it belongs to
(`WHERE attempts = :attempt AND status = 'sending'`). A worker whose lease expired and whose
message was taken over by another worker therefore cannot overwrite the newer outcome.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.interactions.service import response_delivered
from shared.outbox.service import NOTIFY_CHANNEL
from shared.topics.posts import delivery_failed

UNFINISHED = ("pending", "sending")

# A message is claimable when it is due (pending and its time has come, or sending under an
# expired lease) and it is the oldest unfinished message of its chat: message N+1 of a chat is
# never taken while N is pending, being sent or waiting for a retry.
_CLAIM = text(
    """
    WITH due AS (
        SELECT o.id
        FROM outbox_message o
        WHERE ((o.status = 'pending' AND o.next_attempt_at <= clock_timestamp())
               OR (o.status = 'sending' AND o.lease_until < clock_timestamp()))
          AND NOT EXISTS (
              SELECT 1 FROM outbox_message p
              WHERE p.chat_id = o.chat_id AND p.id < o.id AND p.status IN ('pending', 'sending'))
        ORDER BY o.next_attempt_at, o.id
        LIMIT :limit
        FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE outbox_message m
    SET status = 'sending',
        attempts = m.attempts + 1,
        lease_until = clock_timestamp() + make_interval(secs => :lease)
    FROM due
    WHERE m.id = due.id
    RETURNING m.id, m.chat_id, m.method, m.payload, m.interaction_id, m.attempts
    """
)

_FILES = text(
    """
    SELECT interaction_id, id, kind, tg_file_id, storage_path, file_name, mime_type
    FROM attachment WHERE interaction_id = ANY(:ids) ORDER BY interaction_id, id
    """
)

# Seconds until the earliest head-of-chat message becomes claimable (negative: already due).
_NEXT_DUE = text(
    """
    SELECT EXTRACT(EPOCH FROM min(CASE WHEN o.status = 'pending' THEN o.next_attempt_at ELSE o.lease_until END)
                               - clock_timestamp())
    FROM outbox_message o
    WHERE o.status IN ('pending', 'sending')
      AND NOT EXISTS (
          SELECT 1 FROM outbox_message p
          WHERE p.chat_id = o.chat_id AND p.id < o.id AND p.status IN ('pending', 'sending'))
    """
)


@dataclass(frozen=True, slots=True)
class FileRef:
    attachment_id: int
    kind: str
    tg_file_id: str | None
    storage_path: str | None
    file_name: str | None
    mime_type: str | None


@dataclass(slots=True)
class LeasedMessage:
    """One outbox row this worker holds a lease on; `attempt` is its fencing token."""

    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    interaction_id: int | None
    attempt: int
    files: list[FileRef] = field(default_factory=list)


Sessions = async_sessionmaker[AsyncSession]


async def claim_batch(sessions: Sessions, *, limit: int, lease_seconds: float) -> list[LeasedMessage]:
    """Lease up to `limit` due messages (one per chat at most) and commit the lease."""
    if limit <= 0:
        return []
    async with sessions() as session, session.begin():
        rows = (await session.execute(_CLAIM, {"limit": limit, "lease": lease_seconds})).all()
        leased = [
            LeasedMessage(
                id=r.id,
                chat_id=r.chat_id,
                method=r.method,
                payload=dict(r.payload or {}),
                interaction_id=r.interaction_id,
                attempt=r.attempts,
            )
            for r in rows
        ]
        with_files = [m.interaction_id for m in leased if m.interaction_id is not None]
        if with_files:
            files: dict[int, list[FileRef]] = {}
            for f in (await session.execute(_FILES, {"ids": with_files})).all():
                files.setdefault(f.interaction_id, []).append(
                    FileRef(f.id, f.kind, f.tg_file_id, f.storage_path, f.file_name, f.mime_type)
                )
            for m in leased:
                m.files = files.get(m.interaction_id or 0, [])
    leased.sort(key=lambda m: m.id)
    return leased


async def seconds_until_due(sessions: Sessions) -> float | None:
    """When the next message becomes claimable; None when nothing is left to send."""
    async with sessions() as session:
        value = await session.scalar(_NEXT_DUE)
    return None if value is None else float(value)


async def _wake_others(session: AsyncSession) -> None:
    # A finished message may unblock the next one of its chat for any worker: wake them all.
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


async def mark_sent(
    sessions: Sessions,
    message: LeasedMessage,
    *,
    tg_message_id: int | None,
    note: str | None = None,
) -> bool:
    """Record a delivery on the outbox row and on its interaction (and, when staff spoke, the
    claim's first response at the delivery time); False when the lease was lost."""
    async with sessions() as session, session.begin():
        sent = (
            await session.execute(
                text(
                    """
                    UPDATE outbox_message
                    SET status = 'sent', sent_at = clock_timestamp(), lease_until = NULL,
                        tg_message_id = :mid, last_error = :note
                    WHERE id = :id AND status = 'sending' AND attempts = :attempt
                    RETURNING coalesce(interaction_id, 0), sent_at
                    """
                ),
                {"id": message.id, "attempt": message.attempt, "mid": tg_message_id, "note": note},
            )
        ).one_or_none()
        if sent is None:
            return False
        interaction_id, sent_at = sent
        if interaction_id:
            await response_delivered(session, interaction_id=interaction_id, at=sent_at)
            # The Telegram reference is unique per (chat, message, edit); should another row ever
            # hold it, the delivery is still recorded, without the reference. A reply a staff member
            # wrote in the claim's topic keeps the reference of that message: it is how the same
            # message, delivered to the bot again, is recognised (shared/topics/service.py).
            params = {"iid": interaction_id, "chat": message.chat_id, "mid": tg_message_id}
            updated = await session.execute(
                text(
                    """
                    UPDATE interaction
                    SET delivery_state = 'sent', delivered_at = clock_timestamp(), delivery_error = NULL,
                        tg_chat_id = coalesce(tg_chat_id, :chat),
                        tg_message_id = CASE WHEN tg_chat_id IS NULL THEN :mid ELSE tg_message_id END
                    WHERE id = :iid AND NOT EXISTS (
                        SELECT 1 FROM interaction x
                        WHERE x.tg_chat_id = :chat AND x.tg_message_id = :mid AND x.tg_edit_date = 0
                          AND x.id <> :iid)
                    """
                ),
                params,
            )
            if not updated.rowcount:  # type: ignore[attr-defined]
                await session.execute(
                    text(
                        "UPDATE interaction SET delivery_state = 'sent', delivered_at = clock_timestamp(), "
                        "delivery_error = NULL WHERE id = :iid"
                    ),
                    params,
                )
        await _wake_others(session)
    return True


async def mark_failed(
    sessions: Sessions,
    message: LeasedMessage,
    *,
    reason: str,
    blocked: bool = False,
) -> bool:
    """A permanent failure: the row and its interaction say why; a 403 marks the customer."""
    async with sessions() as session, session.begin():
        interaction_id = await session.scalar(
            text(
                """
                UPDATE outbox_message
                SET status = 'failed', failed_at = clock_timestamp(), lease_until = NULL, last_error = :reason
                WHERE id = :id AND status = 'sending' AND attempts = :attempt
                RETURNING coalesce(interaction_id, 0)
                """
            ),
            {"id": message.id, "attempt": message.attempt, "reason": reason},
        )
        if interaction_id is None:
            return False
        if interaction_id:
            await session.execute(
                text(
                    "UPDATE interaction SET delivery_state = 'failed', delivery_error = :reason, delivered_at = NULL "
                    "WHERE id = :iid"
                ),
                {"iid": interaction_id, "reason": reason},
            )
            await delivery_failed(session, interaction_id=interaction_id, reason=reason)  # said in its topic
        if blocked:
            await session.execute(
                text(
                    """
                    UPDATE customer SET bot_blocked_at = coalesce(bot_blocked_at, clock_timestamp())
                    WHERE id = (SELECT customer_id FROM interaction WHERE id = :iid)
                       OR (:iid = 0 AND telegram_chat_id = :chat)
                    """
                ),
                {"iid": interaction_id, "chat": message.chat_id},
            )
        await _wake_others(session)
    return True


async def mark_retry(
    sessions: Sessions,
    message: LeasedMessage,
    *,
    delay: float,
    error: str,
    progress: dict[str, Any] | None = None,
) -> bool:
    """Give the message back to the queue, due again in `delay` seconds (still the head of its chat)."""
    async with sessions() as session, session.begin():
        done = await session.scalar(
            text(
                """
                UPDATE outbox_message
                SET status = 'pending', lease_until = NULL, last_error = :error,
                    next_attempt_at = clock_timestamp() + make_interval(secs => :delay),
                    payload = payload || CAST(:progress AS jsonb)
                WHERE id = :id AND status = 'sending' AND attempts = :attempt
                RETURNING id
                """
            ),
            {
                "id": message.id,
                "attempt": message.attempt,
                "delay": max(0.0, delay),
                "error": error,
                "progress": json.dumps(progress or {}),
            },
        )
    return done is not None


async def save_progress(
    sessions: Sessions, message: LeasedMessage, *, progress: dict[str, Any], lease_seconds: float
) -> bool:
    """After each part of a multi-part message: what is already sent, and a fresh lease."""
    async with sessions() as session, session.begin():
        done = await session.scalar(
            text(
                """
                UPDATE outbox_message
                SET payload = payload || CAST(:progress AS jsonb),
                    lease_until = clock_timestamp() + make_interval(secs => :lease)
                WHERE id = :id AND status = 'sending' AND attempts = :attempt
                RETURNING id
                """
            ),
            {"id": message.id, "attempt": message.attempt, "progress": json.dumps(progress), "lease": lease_seconds},
        )
    return done is not None


async def release(sessions: Sessions, messages: Sequence[LeasedMessage]) -> int:
    """Hand leased messages back untouched (a worker stopping cleanly before sending them)."""
    if not messages:
        return 0
    async with sessions() as session, session.begin():
        result = await session.execute(
            text(
                """
                UPDATE outbox_message o
                SET status = 'pending', lease_until = NULL
                FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[])) AS t(id, attempt)
                WHERE o.id = t.id AND o.attempts = t.attempt AND o.status = 'sending'
                """
            ),
            {"ids": [m.id for m in messages], "attempts": [m.attempt for m in messages]},
        )
        await _wake_others(session)
    return result.rowcount or 0  # type: ignore[attr-defined]


async def release_expired_leases(session: AsyncSession) -> int:
    """Messages leased by a worker that died: back to pending (claim_batch takes them anyway;
    this keeps the status honest for staff looking at the queue)."""
    result = await session.execute(
        text(
            "UPDATE outbox_message SET status = 'pending', lease_until = NULL "
            "WHERE status = 'sending' AND lease_until < clock_timestamp()"
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(text("SELECT status, count(*) FROM outbox_message GROUP BY status"))
    return {status: count for status, count in rows.all()}
