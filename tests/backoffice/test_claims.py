"""Claims over HTTP: list/search/paginate, register, read, PATCH with ETags, transitions, events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.enums import Direction, InteractionChannel
from shared.interactions.service import log_interaction
from tests.backoffice.conftest import Api
from tests.factories import make_catalogs, make_claim, make_customer


async def _seed(api: Api) -> dict[str, int]:
    async with api.sessions() as session:
        _, _, reason = await make_catalogs(session)
        customer = await make_customer(session, name="Иван Сидоров")
        old = datetime(2026, 1, 10, 12, tzinfo=UTC)
        a = await make_claim(session, customer=customer, description="Курьер опоздал на три дня", registered_at=old)
        b = await make_claim(session, description="The parcel arrived damaged and wet")
        c = await make_claim(session, description="Не тот товар в заказе")
        a.reason_id = reason.id
        a.responsible_id = api.user_ids["operator"]
        await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="коробка была мокрая и разорвана",
            claim_id=c.id,
        )
        await session.commit()
        return {"a": a.id, "b": b.id, "c": c.id, "reason": reason.id, "customer": customer.id}


async def test_list_filters_search_sort_pagination(api: Api) -> None:
    ids = await _seed(api)
    page = await api.json("GET", "/api/v1/claims", as_="operator")
    assert page["total"] == 3 and [x["id"] for x in page["items"]] == [ids["c"], ids["b"], ids["a"]]
    assert page["next_cursor"] is None

    by_reason = await api.json("GET", f"/api/v1/claims?reason_id={ids['reason']}")
    assert [x["id"] for x in by_reason["items"]] == [ids["a"]] and by_reason["total"] == 1
    unassigned = await api.json("GET", "/api/v1/claims?unassigned=true&status=new,in_progress")
    assert {x["id"] for x in unassigned["items"]} == {ids["b"], ids["c"]}
    dated = await api.json("GET", "/api/v1/claims?registered_from=2026-01-10&registered_to=2026-01-10")
    assert [x["id"] for x in dated["items"]] == [ids["a"]]
    mine = await api.json("GET", f"/api/v1/claims?customer_id={ids['customer']}&channel=telegram")
    assert mine["total"] == 1

    # Russian word forms, English stemming, and the text of an interaction are all searched.
    assert [x["id"] for x in (await api.json("GET", "/api/v1/claims?q=опоздание"))["items"]] in ([ids["a"]], [])
    assert [x["id"] for x in (await api.json("GET", "/api/v1/claims?q=курьера"))["items"]] == [ids["a"]]
    assert [x["id"] for x in (await api.json("GET", "/api/v1/claims?q=damage"))["items"]] == [ids["b"]]
    assert [x["id"] for x in (await api.json("GET", "/api/v1/claims?q=мокрой"))["items"]] == [ids["c"]]

    first = await api.json("GET", "/api/v1/claims?limit=2&sort=registered_at")
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    second = await api.json("GET", f"/api/v1/claims?limit=2&sort=registered_at&cursor={first['next_cursor']}")
    assert [x["id"] for x in first["items"] + second["items"]] == [ids["a"], ids["b"], ids["c"]]
    assert second["next_cursor"] is None
    bad = await api.json("GET", f"/api/v1/claims?sort=number&cursor={first['next_cursor']}", expect=422)
    assert bad["errors"][0]["field"] == "cursor"
    invalid = await api.json("GET", "/api/v1/claims?status=bogus&limit=0", expect=422)
    assert {e["field"] for e in invalid["errors"]} == {"status.0", "limit"}


async def test_register_get_and_invalid_body(api: Api) -> None:
    created = await api.json(
        "POST",
        "/api/v1/claims",
        as_="operator",
        expect=201,
        json={
            "channel": "phone",
            "description": "Позвонила: холодильник не морозит",
            "customer_name": "Мария",
            "customer_phone": "+7 (912) 345-67-89",
            "amount_claimed": "1500.50",
        },
    )
    assert created["status"] == "new" and created["customer"]["phone"] == "+79123456789"
    assert created["allowed_transitions"] == ["in_progress"] and created["amount_claimed"] == "1500.50"
    response = await api.call("GET", f"/api/v1/claims/{created['id']}", as_="operator")
    assert response.status == 200 and response.headers["ETag"] == f'"v{created["version"]}"'
    again = await api.json(
        "POST",
        "/api/v1/claims",
        expect=201,
        json={"channel": "email", "description": "ещё", "customer_phone": "89123456789"},
    )
    assert again["customer"]["id"] == created["customer"]["id"]

    bad = await api.json(
        "POST",
        "/api/v1/claims",
        expect=422,
        json={"channel": "pigeon", "description": "", "amount_claimed": -1, "surprise": 1, "priority": "asap"},
    )
    fields = {e["field"] for e in bad["errors"]}
    assert fields == {"channel", "description", "amount_claimed", "surprise", "priority"}
    telegram = await api.json(
        "POST",
        "/api/v1/claims",
        expect=422,
        json={"channel": "telegram", "description": "x", "customer_phone": "+79000000000"},
    )
    assert telegram["errors"][0]["field"] == "channel"
    await api.json("GET", "/api/v1/claims/424242", expect=404)


async def test_two_patches_with_one_etag_one_wins(api: Api) -> None:
    ids = await _seed(api)
    response = await api.call("GET", f"/api/v1/claims/{ids['b']}")
    tag = response.headers["ETag"]

    async def patch(priority: str) -> int:
        r = await api.call(
            "PATCH", f"/api/v1/claims/{ids['b']}", headers={"If-Match": tag}, json={"priority": priority}
        )
        return r.status

    statuses = sorted(await asyncio.gather(patch("high"), patch("urgent")))
    assert statuses == [200, 412]
    stale = await api.json(
        "PATCH", f"/api/v1/claims/{ids['b']}", headers={"If-Match": tag}, json={"priority": "low"}, expect=412
    )
    assert stale["code"] == "stale_version"
    await api.json("PATCH", f"/api/v1/claims/{ids['b']}", json={"priority": "low"}, expect=428)
    async with api.sessions() as session:
        updates = await session.scalar(
            select(func.count())
            .select_from(ClaimEvent)
            .where(ClaimEvent.claim_id == ids["b"], ClaimEvent.kind == "updated")
        )
    assert updates == 1


async def test_patch_fields_and_reassignment_rule(api: Api) -> None:
    ids = await _seed(api)
    claim = await api.json("GET", f"/api/v1/claims/{ids['b']}")
    changed = await api.json(
        "PATCH",
        f"/api/v1/claims/{ids['b']}",
        as_="operator",
        headers={"If-Match": f'"v{claim["version"]}"'},
        json={
            "reason_id": ids["reason"],
            "subject": "Повреждение",
            "responsible_id": api.user_ids["operator"],
        },
    )
    assert changed["subject"] == "Повреждение" and changed["version"] == claim["version"] + 1
    assert changed["responsible_id"] == api.user_ids["operator"]
    # An operator cannot hand the claim to someone else; a manager can.
    refused = await api.json(
        "PATCH",
        f"/api/v1/claims/{ids['b']}",
        as_="operator",
        headers={"If-Match": f'"v{changed["version"]}"'},
        json={"responsible_id": api.user_ids["manager"]},
        expect=403,
    )
    assert refused["code"] == "forbidden"
    await api.json(
        "PATCH",
        f"/api/v1/claims/{ids['b']}",
        as_="manager",
        headers={"If-Match": f'"v{changed["version"]}"'},
        json={"responsible_id": api.user_ids["manager"]},
    )
    invalid = await api.json(
        "PATCH",
        f"/api/v1/claims/{ids['b']}",
        headers={"If-Match": '"v1"'},
        json={"reason_id": 999999, "due_at": "tomorrow"},
        expect=422,
    )
    assert {e["field"] for e in invalid["errors"]} == {"due_at"}
    unknown_ref = await api.json(
        "PATCH", f"/api/v1/claims/{ids['b']}", headers={"If-Match": '"v3"'}, json={"reason_id": 999999}, expect=422
    )
    assert unknown_ref["errors"][0]["field"] == "reason_id"


async def test_amount_granted_and_due_date_are_a_managers_with_a_reason(api: Api) -> None:
    """Fix 6: an operator set amount_granted and moved due_at a century ahead on a new claim,
    hiding it from overdue tracking. Now the amount is given when resolving (or by a manager), and
    the due date moves only by a manager who says why, to a date the tracking still sees."""
    ids = await _seed(api)
    url = f"/api/v1/claims/{ids['b']}"
    claim = await api.json("GET", url)
    tag = {"If-Match": f'"v{claim["version"]}"'}
    century = (datetime.now(UTC) + timedelta(days=36500)).isoformat()
    refused = await api.json("PATCH", url, as_="operator", headers=tag, json={"amount_granted": "10.5"}, expect=403)
    assert refused["code"] == "forbidden" and refused["errors"][0]["field"] == "amount_granted"
    refused = await api.json(
        "PATCH",
        url,
        as_="operator",
        headers={**tag, "Accept-Language": "ru"},
        json={"due_at": century, "due_reason": "так надо"},
        expect=403,
    )
    assert refused["detail"] == "Переносить срок рассмотрения может только руководитель (с причиной в due_reason)."
    three_days = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    no_reason = await api.json("PATCH", url, as_="manager", headers=tag, json={"due_at": three_days}, expect=422)
    assert no_reason["errors"][0]["field"] == "due_reason"
    assert no_reason["detail"] == "Say why the due date moves (due_reason): it is kept in the claim's history."
    too_far = await api.json(
        "PATCH", url, as_="manager", headers=tag, json={"due_at": century, "due_reason": "ждём суд"}, expect=422
    )
    assert too_far["errors"][0]["field"] == "due_at"
    cleared = await api.json(
        "PATCH", url, as_="manager", headers=tag, json={"due_at": None, "due_reason": "без срока"}, expect=422
    )
    assert cleared["errors"][0]["field"] == "due_at"
    unchanged = await api.json("GET", url)
    assert (unchanged["version"], unchanged["due_at"], unchanged["amount_granted"]) == (
        claim["version"],
        claim["due_at"],
        None,
    )

    moved = await api.json(
        "PATCH",
        url,
        as_="manager",
        headers=tag,
        json={"due_at": three_days, "due_reason": "ждём заключение экспертизы", "amount_granted": "10.5"},
    )
    assert moved["amount_granted"] == "10.50" and moved["due_at"] != claim["due_at"]
    events = await api.json("GET", f"{url}/events")
    (event,) = [e for e in events["items"] if e["kind"] == "updated"]
    assert event["actor_staff_id"] == api.user_ids["manager"]
    assert event["after"]["due_reason"] == "ждём заключение экспертизы"
    assert event["before"]["due_at"] is not None and event["after"]["due_at"] is not None

    # The amount granted goes with a decision, by anyone who may decide; not with other steps.
    transitions = f"{url}/transitions"
    early = await api.json(
        "POST", transitions, as_="operator", json={"to": "in_progress", "amount_granted": "5"}, expect=422
    )
    assert early["errors"][0]["field"] == "amount_granted"
    await api.json("POST", transitions, as_="operator", json={"to": "in_progress"})
    resolved = await api.json(
        "POST",
        transitions,
        as_="operator",
        json={"to": "resolved", "result": "partially_satisfied", "resolution": "Вернём часть", "amount_granted": "7"},
    )
    assert resolved["amount_granted"] == "7.00"


async def test_transitions_and_events(api: Api) -> None:
    ids = await _seed(api)
    url = f"/api/v1/claims/{ids['b']}/transitions"
    refused = await api.json("POST", url, json={"to": "closed"}, expect=409)
    assert refused["code"] == "transition_refused" and refused["allowed"] == ["in_progress"]
    assert "in_progress" in refused["detail"]
    await api.json("POST", url, as_="operator", json={"to": "in_progress"})
    missing = await api.json("POST", url, json={"to": "resolved"}, expect=422)
    assert missing["errors"][0]["field"] == "result"
    resolved = await api.json(
        "POST",
        url,
        json={"to": "resolved", "result": "satisfied", "resolution": "Вернули деньги", "amount_granted": "100"},
    )
    assert resolved["status"] == "resolved" and resolved["allowed_transitions"] == ["closed", "in_progress"]
    await api.json("POST", url, json={"to": "closed"}, headers={"If-Match": '"v1"'}, expect=412)
    closed = await api.json("POST", url, json={"to": "closed"}, headers={"If-Match": f'"v{resolved["version"]}"'})
    assert closed["allowed_transitions"] == []
    again = await api.json("POST", url, json={"to": "in_progress"}, expect=409)
    assert again["allowed"] == []
    await api.json("POST", url, json={"to": "nowhere"}, expect=422)

    events = await api.json("GET", f"/api/v1/claims/{ids['b']}/events", as_="operator")
    kinds = [e["kind"] for e in events["items"]]
    assert kinds == ["registered", "status_changed", "status_changed", "status_changed"]
    assert events["items"][1]["actor_kind"] == "staff"
    assert events["items"][1]["actor_staff_id"] == api.user_ids["operator"]
    await api.json("GET", "/api/v1/claims/999999/events", expect=404)


async def test_only_a_manager_registers_a_claim_for_someone_else(api: Api) -> None:
    claim = {
        "channel": "phone",
        "description": "Не пришёл заказ",
        "customer_name": "Ольга",
        "customer_phone": "+79120000001",
    }
    refused = await api.json(
        "POST", "/api/v1/claims", as_="operator", expect=403, json=claim | {"responsible_id": api.user_ids["manager"]}
    )
    assert refused["code"] == "forbidden"
    mine = await api.json(
        "POST", "/api/v1/claims", as_="operator", expect=201, json=claim | {"responsible_id": api.user_ids["operator"]}
    )
    assert mine["responsible_id"] == api.user_ids["operator"]
    assigned = await api.json(
        "POST", "/api/v1/claims", as_="manager", expect=201, json=claim | {"responsible_id": api.user_ids["operator"]}
    )
    assert assigned["responsible_id"] == api.user_ids["operator"]


@pytest.mark.parametrize(
    ("language", "unknown", "closed"),
    [
        ("ru", "reason_id: записи с id 999999 нет.", "Закрытую претензию изменить нельзя."),
        ("en", "reason_id: nothing with id 999999.", "A closed claim cannot be changed."),
    ],
)
async def test_service_refusals_are_told_in_the_staff_members_language(
    api: Api, language: str, unknown: str, closed: str
) -> None:
    """Issue 15: a service's refusal reaches staff in their language, in the detail and in the
    field's error alike (it was English only)."""
    ids = await _seed(api)
    url = f"/api/v1/claims/{ids['b']}"
    claim = await api.json("GET", url)
    lang = {"Accept-Language": language}
    tag = {**lang, "If-Match": f'"v{claim["version"]}"'}
    refused = await api.json("PATCH", url, headers=tag, json={"reason_id": 999999}, expect=422)
    assert refused["detail"] == unknown and refused["errors"] == [
        {"field": "reason_id", "message": unknown, "type": "domain"}
    ]
    for to, extra in (("in_progress", {}), ("resolved", {"result": "satisfied", "resolution": "ok"}), ("closed", {})):
        await api.json("POST", f"{url}/transitions", json={"to": to, **extra})
    claim = await api.json("GET", url)
    tag = {**lang, "If-Match": f'"v{claim["version"]}"'}
    refused = await api.json("PATCH", url, headers=tag, json={"subject": "new"}, expect=409)
    assert refused["detail"] == closed
