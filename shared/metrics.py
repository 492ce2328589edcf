"""The desk's Prometheus series, named in one place.

- Counted where the work is done, in prometheus_client's default registry of the process: updates
  the bot handled (by kind and outcome), claims registered (by channel; counted when their
  transaction commits, so a registration rolled back is not), deliveries (by outcome). Each
  process exposes its own: the back-office at `/metrics` (with its request counts and latencies,
  kept in its app's registry), the bot and the worker on METRICS_PORT (`claimdesk.observability`).
  In `claimdesk run` all three are one process, and `/metrics` shows them all.
- Read from the database when scraped (`exposition`): the outbox's depth and the age of its oldest
  unsent message. They describe the desk, not a process, and stay true whichever process sent.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.outbox.backlog import outbox_backlog

UPDATES = Counter(
    "claimdesk_bot_updates",
    "Telegram updates the bot handled, by kind (message, callback_query, ...) and outcome "
    "(handled; redelivered: the database was out, Telegram sends it again; failed)",
    ["kind", "outcome"],
)
CLAIMS_REGISTERED = Counter(
    "claimdesk_claims_registered",
    "Claims registered by the bot, staff or the API (once their transaction committed; imports are not), by channel",
    ["channel"],
)
DELIVERIES = Counter(
    "claimdesk_deliveries",
    "Delivery attempts of outbox messages, by outcome: sent; retried (later: 429, 5xx, network); "
    "failed (for good); lease_lost (sent, but another worker had taken the message over)",
    ["outcome"],
)

_AFTER_COMMIT = "claimdesk.metrics.after_commit"


def count_after_commit(session: AsyncSession, counter: Any) -> None:
    """Count `counter` (a labelled child) once the session's transaction commits; never if it
    rolls back. The services never commit: this is how they count what they did."""
    session.info.setdefault(_AFTER_COMMIT, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter in session.info.pop(_AFTER_COMMIT, ()):
        counter.inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


async def exposition(session: AsyncSession, *registries: CollectorRegistry) -> bytes:
    """The Prometheus text of `registries`, the process's default registry and the outbox's
    backlog, read with `session` now."""
    backlog = await outbox_backlog(session)
    backlog_registry = CollectorRegistry()
    Gauge(
        "claimdesk_outbox_depth", "Outbox messages not sent yet (pending or being sent)", registry=backlog_registry
    ).set(backlog.depth)
    Gauge(
        "claimdesk_outbox_oldest_age_seconds",
        "Age in seconds of the oldest outbox message not sent yet (0: none)",
        registry=backlog_registry,
    ).set(backlog.oldest_age_seconds)
    return b"".join(generate_latest(registry) for registry in (*registries, REGISTRY, backlog_registry))
