"""The claims list: its JSON is ClaimList's, its search follows interactions however they are written
(ORM or set-based SQL; moved, edited, deleted), its totals are exact up to 10,000 and capped beyond,
counted with every page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, text, update

from backoffice.api.claims import ClaimList, ClaimSummary, _overdue
from shared.actors import Actor
from shared.claims.counts import count_by_status
from shared.claims.filters import ClaimFilters
from shared.claims.queries import list_claims
from shared.enums import Direction, InteractionChannel
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction
from shared.settings import get_settings
from tests.backoffice.conftest import Api
from tests.factories import make_claim


async def _found(api: Api, q: str) -> list[int]:
    return [x["id"] for x in (await api.json("GET", f"/api/v1/claims?q={q}"))["items"]]


async def test_list_json_is_the_models_json(api: Api) -> None:
    async with api.sessions() as session:
        claim = await make_claim(session, description="Чайник протекает")
        claim.due_at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        await make_claim(session, description="Фен не греет")
        await session.commit()
    raw = await (await api.call("GET", "/api/v1/claims?limit=1")).text()
    async with api.sessions() as session:
        page = await list_claims(session, filters=ClaimFilters(), tz=ZoneInfo("UTC"), limit=1)
    items = [
        ClaimSummary.model_validate({**row, "overdue": _overdue(row["status"], row["due_at"])}) for row in page.items
    ]
    expected = ClaimList(
        items=items, total=page.total, total_exact=page.total_exact, next_cursor=page.next_cursor
    ).model_dump_json()
    assert json.loads(raw) == json.loads(expected)
    second = await api.json("GET", "/api/v1/claims?limit=1&sort=due_at")
    assert second["items"][0]["due_at"] == "2026-01-02T03:04:05.678901Z" and second["total"] == 2
    assert second["total_exact"] is True
    # The OpenAPI document describes the page as the API writes it.
    schema = (await api.json("GET", "/api/openapi.json", as_=None))["components"]["schemas"]["ClaimList"]
    assert {"items", "total", "total_exact", "next_cursor"} <= set(schema["properties"])
    assert (
        schema["properties"]["total_exact"]["type"] == "boolean"
        and "10,000" in schema["properties"]["total"]["description"]
    )


async def test_search_follows_interactions_added_moved_edited_deleted(api: Api) -> None:
    async with api.sessions() as session:
        first = await make_claim(session, description="Телевизор не включается")
        second = await make_claim(session, description="Пылесос шумит")
        note, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INTERNAL,
            channel=InteractionChannel.NOTE,
            text="клиент прислал видео с гудением",
            claim_id=first.id,
        )
        await session.commit()
    assert await _found(api, "гудение") == [first.id]

    async with api.sessions() as session:  # set-based SQL, as the bot's ingest and bulk loads write
        await session.execute(
            text(
                "INSERT INTO interaction (claim_id, customer_id, direction, channel, text) "
                "SELECT id, customer_id, 'inbound', 'telegram', 'the remote control is missing' "
                "FROM claim WHERE id = :id"
            ),
            {"id": second.id},
        )
        await session.commit()
    assert await _found(api, "remote") == [second.id]
    assert await _found(api, "гудение") == [first.id]  # appending kept the earlier words

    async with api.sessions() as session:  # re-linked to the other claim
        await session.execute(update(Interaction).where(Interaction.id == note.id).values(claim_id=second.id))
        await session.commit()
    assert await _found(api, "гудение") == [second.id]

    async with api.sessions() as session:
        await session.execute(update(Interaction).where(Interaction.id == note.id).values(text="позвонить вечером"))
        await session.commit()
    assert await _found(api, "гудение") == []
    assert await _found(api, "вечером") == [second.id]

    async with api.sessions() as session:
        await session.execute(delete(Interaction).where(Interaction.id == note.id))
        await session.commit()
    assert await _found(api, "вечером") == []
    assert await _found(api, "remote") == [second.id]


async def test_overdue_and_unassigned_totals(api: Api) -> None:
    now = datetime.now(UTC)
    async with api.sessions() as session:
        late = await make_claim(session, description="a")
        late_email = await make_claim(session, description="b")
        on_time = await make_claim(session, description="c")
        late.due_at = late_email.due_at = now - timedelta(days=1)
        late_email.channel = "email"
        on_time.due_at = now + timedelta(days=1)
        await session.commit()
    overdue = await api.json("GET", "/api/v1/claims?overdue=true")
    assert overdue["total"] == 2 and {x["id"] for x in overdue["items"]} == {late.id, late_email.id}
    assert all(x["overdue"] for x in overdue["items"])
    phone = await api.json("GET", "/api/v1/claims?overdue=true&channel=telegram")
    assert phone["total"] == 1 and [x["id"] for x in phone["items"]] == [late.id]
    not_late = await api.json("GET", "/api/v1/claims?overdue=false")
    assert [x["id"] for x in not_late["items"]] == [on_time.id]
    queue = await api.json("GET", "/api/v1/claims?unassigned=true&status=new&limit=2")
    assert queue["total"] == 3 and len(queue["items"]) == 2 and queue["next_cursor"]
    rest = await api.json("GET", f"/api/v1/claims?unassigned=true&status=new&limit=2&cursor={queue['next_cursor']}")
    assert rest["total"] == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_search_with_filters_pages_claims_matched_by_interactions(api: Api) -> None:
    # The filters are checked on the rows the search found: claims matched by their own words, by an
    # interaction, or both, with status, channel, customer, overdue and a cursor, on every sort.
    now = datetime.now(UTC)
    async with api.sessions() as session:
        claims = []
        for n in range(8):
            own = n % 3 != 1  # 1, 4, 7 match only through an interaction
            claim = await make_claim(
                session,
                description="Телевизор гудит" if own else "Пылесос шумит",
                registered_at=now - timedelta(hours=n),
            )
            claim.status = "in_progress" if n % 2 else "new"
            claim.channel = "phone" if n < 5 else "email"
            claim.due_at = now - timedelta(days=1) if n % 4 else now + timedelta(days=n + 1)
            if n % 3 != 2:
                await log_interaction(
                    session,
                    actor=Actor.system(),
                    direction=Direction.INTERNAL,
                    channel=InteractionChannel.NOTE,
                    text="телевизор гудит по ночам" if n % 3 == 1 or n == 0 else "перезвонить",
                    claim_id=claim.id,
                )
            claims.append(claim)
        await make_claim(session, description="Чайник течёт")
        await session.commit()
    customer = claims[4].customer_id
    cases = {
        "status=in_progress": lambda n: n % 2 == 1,
        "status=new&channel=phone": lambda n: n % 2 == 0 and n < 5,
        f"customer_id={customer}": lambda n: n == 4,
        f"customer_id={customer}&status=in_progress": lambda n: False,
        "overdue=true": lambda n: n % 4 != 0,
        "overdue=false&channel=email": lambda n: n % 4 == 0 and n >= 5,
        "": lambda n: True,
    }
    for query, wanted in cases.items():
        expected = [claims[n] for n in range(8) if wanted(n)]
        for sort in ("-registered_at", "registered_at", "due_at", "-id"):
            orders = {
                "-registered_at": sorted(expected, key=lambda c: c.registered_at, reverse=True),
                "registered_at": sorted(expected, key=lambda c: c.registered_at),
                "due_at": sorted(expected, key=lambda c: (c.due_at, c.id)),
                "-id": sorted(expected, key=lambda c: c.id, reverse=True),
            }
            got, cursor = [], None
            while True:
                path = f"/api/v1/claims?q=телевизор&{query}&sort={sort}&limit=2"
                path += f"&cursor={cursor}" if cursor else ""
                page = await api.json("GET", path)
                assert page["total"] == len(expected), (query, sort)
                got += [x["id"] for x in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert got == [c.id for c in orders[sort]], (query, sort)


# Claims inserted set-based (as an import writes them), all of one reason: 10,000 by Telegram (two of
# them in progress, the rest new) and three new ones by phone.
MANY_CLAIMS = [
    "INSERT INTO customer (name, phone, language) VALUES ('Много', '+79000000001', 'ru')",
    "INSERT INTO reason (name) VALUES ('Опоздание')",
    """INSERT INTO claim (number, customer_id, channel, subject, description, currency, priority, status,
                          reason_id, registered_at, due_at, updated_at, version)
       SELECT 'M-' || i, (SELECT max(id) FROM customer), CASE WHEN i > 10000 THEN 'phone' ELSE 'telegram' END,
              'Курьер опоздал', 'Курьер опоздал, заказ ' || i, 'RUB', 'normal',
              CASE WHEN i IN (1, 2) THEN 'in_progress' ELSE 'new' END,
              (SELECT max(id) FROM reason), now() - i * interval '1 minute', now() + interval '5 days', now(), 1
       FROM generate_series(1, 10003) i""",
    "ANALYZE claim",
]


async def test_totals_are_exact_up_to_10000_and_capped_beyond(api: Api) -> None:
    async with api.sessions() as session:
        for statement in MANY_CLAIMS:
            await session.execute(text(statement))
        await session.commit()
    everything = await api.json("GET", "/api/v1/claims?limit=3")
    assert (everything["total"], everything["total_exact"], len(everything["items"])) == (10_000, False, 3)
    # The next pages say the same (each page counts again).
    second = await api.json("GET", f"/api/v1/claims?limit=3&cursor={everything['next_cursor']}")
    assert (second["total"], second["total_exact"]) == (10_000, False)
    assert [x["id"] for x in second["items"]] != [x["id"] for x in everything["items"]]
    for query, total, exact in (
        ("status=new&channel=telegram", 9_998, True),  # below the cap: exact
        ("status=new", 10_000, False),  # 10,001: one more than is counted
        ("channel=telegram", 10_000, True),  # exactly 10,000 is still exact
        ("status=new,in_progress", 10_000, False),
        ("status=in_progress", 2, True),
        ("q=опоздал", 10_000, False),  # a search counts the same way
        ("q=опоздал&channel=phone", 3, True),
    ):
        page = await api.json("GET", f"/api/v1/claims?{query}&limit=2")
        assert (page["total"], page["total_exact"]) == (total, exact), query
    async with api.sessions() as session:
        reason = await session.scalar(text("SELECT max(id) FROM reason"))
    by_reason = await api.json("GET", f"/api/v1/claims?reason_id={reason}&sort=registered_at&limit=2")
    assert (by_reason["total"], by_reason["total_exact"]) == (10_000, False)
    # The queue's counts by status follow the same rule, each status counted up to the cap.
    async with api.sessions() as session:
        counts = await count_by_status(session, filters=ClaimFilters(), tz=get_settings().tz)
        by_phone = await count_by_status(session, filters=ClaimFilters(channel="phone"), tz=get_settings().tz)
    assert counts == {"new": (10_000, False), "in_progress": (2, True), "resolved": (0, True), "closed": (0, True)}
    assert by_phone["new"] == (3, True)


async def test_each_page_counts_again_even_an_empty_one(api: Api) -> None:
    async with api.sessions() as session:
        claims = [await make_claim(session, description=f"Фен не греет {n}") for n in range(3)]
        await session.commit()
    first = await api.json("GET", "/api/v1/claims?limit=2&sort=id")
    assert first["total"] == 3 and [x["id"] for x in first["items"]] == [claims[0].id, claims[1].id]
    async with api.sessions() as session:  # the claim after the cursor goes, another one comes before it
        await session.execute(delete(Interaction).where(Interaction.claim_id == claims[2].id))
        await session.execute(text("DELETE FROM claim_event WHERE claim_id = :id"), {"id": claims[2].id})
        await session.execute(text("DELETE FROM claim WHERE id = :id"), {"id": claims[2].id})
        await session.execute(text("UPDATE claim SET status = 'in_progress' WHERE id = :id"), {"id": claims[0].id})
        await session.commit()
    rest = await api.json("GET", f"/api/v1/claims?limit=2&sort=id&cursor={first['next_cursor']}")
    assert (rest["items"], rest["total"], rest["total_exact"], rest["next_cursor"]) == ([], 2, True, None)
    new_only = await api.json("GET", f"/api/v1/claims?status=new&limit=1&sort=id&cursor={first['next_cursor']}")
    assert (new_only["items"], new_only["total"]) == ([], 1)
