"""Live updates for the staff pages: a PostgreSQL NOTIFY on the `claimdesk_live` channel, sent in the
transaction that stores a customer's message, a staff interaction or a new claim. PostgreSQL
delivers it when (and only if) that transaction commits, to every back-office process listening
(backoffice/web/live.py), so an open queue or card refreshes within a second whichever process
stored the change. The payload names the customer and, when known, the claim: never any text."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

LIVE_CHANNEL = "claimdesk_live"


def live_payload(*, kind: str, customer_id: int | None, claim_id: int | None = None) -> str:
    return json.dumps({"kind": kind, "customer_id": customer_id, "claim_id": claim_id}, separators=(",", ":"))


async def notify_live(
    session: AsyncSession, *, kind: str, customer_id: int | None, claim_id: int | None = None
) -> None:
    await session.execute(
        select(func.pg_notify(LIVE_CHANNEL, live_payload(kind=kind, customer_id=customer_id, claim_id=claim_id)))
    )
