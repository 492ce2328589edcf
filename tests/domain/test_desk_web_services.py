"""Services the staff pages added: a reply leaves the claim's version alone (the next status change
of someone who read the claim before is not stale), messages outside any claim filed as a claim or
onto an open claim (audited), plan items moved, counts by status, claims by number, the live
NOTIFY sent on commit only."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from sqlalchemy import select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.claims.counts import count_by_status
from shared.claims.desk import attach_message_to_claim, register_claim_from_message
from shared.claims.filters import ClaimFilters
from shared.claims.lookup import claims_by_number
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.db import asyncpg_dsn
from shared.enums import AttachmentKind, Direction, InteractionChannel
from shared.errors import Conflict, NotFound
from shared.interactions.service import AttachmentIn, log_interaction, reply_to_customer
from shared.live import LIVE_CHANNEL
from shared.plans.service import add_plan_item, move_plan_item
from shared.settings import get_settings
from tests.factories import make_claim, make_customer, make_staff


async def test_a_reply_does_not_make_the_next_status_change_stale(db) -> None:
    async with db() as session:
        claim = await make_claim(session)
        staff = Actor.staff((await make_staff(session)).id)
        await session.commit()
        read_version = claim.version
    async with db() as session:
        await reply_to_customer(session, claim_id=claim.id, actor=staff, text="Разбираемся", author_id=staff.id)
        await log_interaction(
            session,
            actor=staff,
            direction=Direction.INTERNAL,
            channel=InteractionChannel.NOTE,
            text="note",
            claim_id=claim.id,
        )
        # A call reached the customer when it happened: it is the first response (the Telegram
        # reply counts once delivered), set without touching the claim's version either.
        await log_interaction(
            session,
            actor=staff,
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            text="Позвонили, извинились",
            claim_id=claim.id,
        )
        await session.commit()
    async with db() as session:
        stored = await session.get_one(Claim, claim.id)
        assert stored.version == read_version and stored.first_response_at is not None
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff, expected_version=read_version)
        await session.commit()


async def _loose(session, customer, text: str = "Ещё одно"):
    message, _ = await log_interaction(
        session,
        actor=Actor.customer(customer.id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=text,
        customer_id=customer.id,
        attachments=[AttachmentIn(kind=AttachmentKind.PHOTO, tg_file_id="F1")],
    )
    return message


async def test_messages_outside_claims_are_filed(db) -> None:
    async with db() as session:
        customer = await make_customer(session)
        other = await make_customer(session)
        staff = Actor.staff((await make_staff(session)).id)
        first, second, third = [await _loose(session, customer, t) for t in ("раз", "два", "три")]
        claim = await register_claim_from_message(session, interaction_id=first.id, actor=staff)
        assert (claim.customer_id, claim.description, first.claim_id) == (customer.id, "раз", claim.id)
        await attach_message_to_claim(session, interaction_id=second.id, claim_id=claim.id, actor=staff)
        assert second.claim_id == claim.id
        with pytest.raises(Conflict):
            await attach_message_to_claim(session, interaction_id=second.id, claim_id=claim.id, actor=staff)
        foreign = await make_claim(session, customer=other)
        with pytest.raises(NotFound):
            await attach_message_to_claim(session, interaction_id=third.id, claim_id=foreign.id, actor=staff)
        events = (
            await session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id))
        ).all()
        assert [e.kind for e in events] == ["registered", "interaction_added", "interaction_added"]
        assert events[1].after["attachments"] == 1 and events[1].actor_staff_id == staff.id


async def test_plan_items_move(db) -> None:
    async with db() as session:
        claim = await make_claim(session)
        staff = Actor.staff((await make_staff(session)).id)
        a, b, c = [await add_plan_item(session, claim_id=claim.id, actor=staff, title=t) for t in "abc"]
        await move_plan_item(session, item_id=c.id, actor=staff, offset=-1)
        assert [a.position, c.position, b.position] == [0, 1, 2]
        await move_plan_item(session, item_id=a.id, actor=staff, offset=-1)  # already first
        assert a.position == 0


async def test_counts_by_status_and_claims_by_number(db) -> None:
    async with db() as session:
        staff = Actor.staff((await make_staff(session)).id)
        claims = [await make_claim(session) for _ in range(3)]
        await transition(session, claim_id=claims[0].id, to="in_progress", actor=staff)
        counts = await count_by_status(session, filters=ClaimFilters(status=("new",)), tz=get_settings().tz)
        assert counts == {"new": (2, True), "in_progress": (1, True), "resolved": (0, True), "closed": (0, True)}
        number = claims[1].number
        for q in (number, number.split("-")[1], number.split("-")[1].lstrip("0")):
            assert [c.id for c, _ in await claims_by_number(session, q=q)] == [claims[1].id]
        assert await claims_by_number(session, q="anna") == []


async def test_live_notification_is_sent_on_commit_only(db, database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    got: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(LIVE_CHANNEL, lambda *args: got.put_nowait(args[-1]))
    try:
        async with db() as session:
            customer = await make_customer(session)
            await session.commit()
        async with db() as session:
            await _loose(session, customer)
            await session.rollback()
        await asyncio.sleep(0.2)
        assert got.empty()
        async with db() as session:
            await _loose(session, customer)
            await session.commit()
        payload = json.loads(await asyncio.wait_for(got.get(), 2))
        assert payload == {"kind": "message", "customer_id": customer.id, "claim_id": None}
    finally:
        await conn.close()
