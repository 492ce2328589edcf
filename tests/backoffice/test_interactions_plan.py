"""Interactions (a Telegram reply is queued in the outbox), attachments through the Bot API
emulator with the disk cache, and the investigation plan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backoffice.app import create_app
from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.enums import AttachmentKind, Direction, InteractionChannel, Role
from shared.interactions.models import Attachment
from shared.interactions.service import AttachmentIn, log_interaction
from shared.outbox.models import OutboxMessage
from shared.runtime import Database
from shared.settings import SANDBOX_TOKEN
from shared.staff.service import create_user, issue_token
from tests.backoffice.conftest import PASSWORD, Api, make_settings
from tests.factories import make_catalogs, make_claim, make_customer

TOKEN = "123456:API-test"


async def _claim(api: Api, *, telegram: bool = True) -> int:
    async with api.sessions() as session:
        customer = await make_customer(session, telegram=telegram)
        claim = await make_claim(session, customer=customer)
        await session.commit()
        return claim.id


async def test_telegram_reply_is_queued_and_calls_are_recorded(api: Api) -> None:
    claim_id = await _claim(api)
    url = f"/api/v1/claims/{claim_id}/interactions"
    reply = await api.json(
        "POST", url, as_="operator", expect=201, json={"channel": "telegram", "text": "Здравствуйте! Разбираемся."}
    )
    assert reply["direction"] == "outbound" and reply["delivery_state"] == "queued"
    call = await api.json(
        "POST",
        url,
        expect=201,
        json={
            "channel": "phone",
            "direction": "inbound",
            "text": "Клиент перезвонил",
            "counterpart_name": "Анна",
            "counterpart_role": "покупатель",
            "occurred_at": "2026-03-01T10:00:00+03:00",
        },
    )
    assert call["counterpart_name"] == "Анна"
    assert datetime.fromisoformat(call["occurred_at"]) == datetime(2026, 3, 1, 7, tzinfo=UTC)
    note = await api.json("POST", url, expect=201, json={"channel": "note", "text": "внутренняя заметка"})
    assert note["direction"] == "internal"
    bad = await api.json("POST", url, expect=422, json={"channel": "fax", "text": ""})
    assert {e["field"] for e in bad["errors"]} == {"channel", "text"}
    await api.json("POST", url, expect=422, json={"channel": "note", "direction": "inbound", "text": "x"})

    listed = await api.json("GET", url, as_="operator")
    assert [i["channel"] for i in listed["items"]] == ["phone", "telegram", "note"]  # by occurred_at
    async with api.sessions() as session:
        outbox = (await session.scalars(select(OutboxMessage))).all()
    assert len(outbox) == 1 and outbox[0].interaction_id == reply["id"] and outbox[0].method == "sendMessage"
    events = await api.json("GET", f"/api/v1/claims/{claim_id}/events")
    assert [e["kind"] for e in events["items"]].count("interaction_added") == 3
    await api.json("GET", "/api/v1/claims/999999/interactions", expect=404)


async def test_telegram_reply_without_chat_is_refused(api: Api) -> None:
    claim_id = await _claim(api, telegram=False)
    bad = await api.json(
        "POST", f"/api/v1/claims/{claim_id}/interactions", expect=422, json={"channel": "telegram", "text": "hi"}
    )
    assert bad["errors"][0]["field"] == "channel"


@pytest.fixture
async def emulator() -> Any:
    emu = BotApiEmulator(token=TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def settings_extra(request: pytest.FixtureRequest) -> dict[str, Any]:
    if "emulator" not in request.fixturenames:
        return {}
    emu = request.getfixturevalue("emulator")
    return {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": emu.base_url}


async def test_attachment_is_fetched_once_then_cached(api: Api, emulator: BotApiEmulator, tmp_path: Path) -> None:
    data = b"%PDF-1.4 receipt " * 1000
    stored = emulator.world.files.add(data, "document", file_name="чек.pdf", mime_type="application/pdf")
    claim_id = await _claim(api)
    async with api.sessions() as session:
        interaction, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="",
            claim_id=claim_id,
            attachments=[
                AttachmentIn(
                    kind=AttachmentKind.DOCUMENT,
                    tg_file_id=stored.file_id,
                    tg_file_unique_id=stored.file_unique_id,
                    file_name="чек.pdf",
                    mime_type="application/pdf",
                    size=len(data),
                )
            ],
        )
        await session.commit()
        attachment_id = interaction.attachments[0].id
    listed = await api.json("GET", f"/api/v1/claims/{claim_id}/interactions")
    assert listed["items"][0]["attachments"][0]["url"] == f"/api/v1/attachments/{attachment_id}"

    for _ in range(2):
        response = await api.call("GET", f"/api/v1/attachments/{attachment_id}", as_="operator")
        assert response.status == 200 and await response.read() == data
        assert response.headers["Content-Type"] == "application/pdf"
        assert "filename*=UTF-8''%D1%87%D0%B5%D0%BA.pdf" in response.headers["Content-Disposition"]
    assert len(emulator.calls_of("getFile")) == 1
    async with api.sessions() as session:
        row = await session.get(Attachment, attachment_id)
        assert row is not None and row.storage_path is not None
    assert (tmp_path / "files" / row.storage_path).read_bytes() == data

    async with api.sessions() as session:
        interaction, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="",
            claim_id=claim_id,
            attachments=[AttachmentIn(kind=AttachmentKind.PHOTO, tg_file_id="gone")],
        )
        await session.commit()
        missing_id = interaction.attachments[0].id
    failed = await api.json("GET", f"/api/v1/attachments/{missing_id}", expect=502)
    assert failed["code"] == "file_unavailable"
    await api.json("GET", "/api/v1/attachments/999999", expect=404)


@pytest.fixture
async def sandbox() -> Any:
    """The local emulator as `claimdesk run` starts it without BOT_TOKEN (its token, a port)."""
    emu = BotApiEmulator(token=SANDBOX_TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


async def test_attachment_without_bot_token_comes_from_the_sandbox(
    db: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    sandbox: BotApiEmulator,
) -> None:
    """Without BOT_TOKEN the customers' photos live in the sandbox emulator: staff can open them."""
    data = b"\xff\xd8\xff photo " * 500
    stored = sandbox.world.files.add(data, "photo", mime_type="image/jpeg")
    port = int(sandbox.base_url.rsplit(":", 1)[1])
    settings = make_settings(database_url, tmp_path, SANDBOX_PORT=port)
    assert settings.bot_api.sandbox
    app = create_app(settings, Database(url=database_url, engine=engine, sessions=db))
    async with db() as session:
        user = await create_user(session, login="olga", password=PASSWORD, role=Role.OPERATOR, full_name="Olga")
        token, _ = await issue_token(session, user_id=user.id, name="tests")
        customer = await make_customer(session)
        claim = await make_claim(session, customer=customer)
        interaction, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="",
            claim_id=claim.id,
            attachments=[AttachmentIn(kind=AttachmentKind.PHOTO, tg_file_id=stored.file_id, mime_type="image/jpeg")],
        )
        await session.commit()
    async with TestClient(TestServer(app)) as client:
        response = await client.get(
            f"/api/v1/attachments/{interaction.attachments[0].id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 200, await response.text()
        assert await response.read() == data


async def test_plan_crud(api: Api) -> None:
    claim_id = await _claim(api)
    async with api.sessions() as session:
        _, employee, _ = await make_catalogs(session)
        await session.commit()
    url = f"/api/v1/claims/{claim_id}/plan"
    first = await api.json(
        "POST",
        url,
        as_="operator",
        expect=201,
        json={"title": "Запросить видео со склада", "owner_id": employee.id, "due_date": "2026-12-01"},
    )
    second = await api.json("POST", url, expect=201, json={"title": "Позвонить курьеру"})
    assert (first["position"], second["position"]) == (0, 1)
    bad = await api.json("POST", url, expect=422, json={"title": "", "owner_id": 0, "due_date": "someday"})
    assert {e["field"] for e in bad["errors"]} == {"title", "owner_id", "due_date"}
    await api.json("POST", url, expect=422, json={"title": "x", "owner_id": 999999})

    def tag(item: dict) -> dict[str, str]:
        return {"If-Match": item["etag"]}

    done = await api.json(
        "PATCH",
        f"/api/v1/plan-items/{first['id']}",
        as_="operator",
        headers=tag(first),
        json={"done": True, "outcome": "Видео получено"},
    )
    assert done["done"] and done["outcome"] == "Видео получено"
    moved = await api.json(
        "PATCH", f"/api/v1/plan-items/{second['id']}", headers=tag(second), json={"position": 0, "owner_id": None}
    )
    assert moved["position"] == 0
    undone = await api.json("PATCH", f"/api/v1/plan-items/{first['id']}", headers=tag(done), json={"done": False})
    assert not undone["done"]
    await api.json("DELETE", f"/api/v1/plan-items/{second['id']}", as_="operator", headers=tag(moved), expect=204)
    plan = await api.json("GET", url, as_="operator")
    assert [i["id"] for i in plan["items"]] == [first["id"]] and plan["items"][0]["etag"] == undone["etag"]
    events = await api.json("GET", f"/api/v1/claims/{claim_id}/events")
    assert [e["kind"] for e in events["items"]][1:] == [
        "plan_item_added",
        "plan_item_added",
        "plan_item_done",
        "plan_item_changed",
        "plan_item_undone",
        "plan_item_removed",
    ]
    await api.json("PATCH", "/api/v1/plan-items/999999", json={"done": True}, headers={"If-Match": "*"}, expect=404)
    await api.json("DELETE", "/api/v1/plan-items/999999", headers={"If-Match": "*"}, expect=404)
    await api.json("GET", "/api/v1/claims/999999/plan", expect=404)


async def test_plan_items_need_their_current_etag_to_change(api: Api) -> None:
    claim_id = await _claim(api)
    url = f"/api/v1/claims/{claim_id}/plan"
    response = await api.call("POST", url, json={"title": "Запросить видео"})
    item = await response.json()
    assert response.status == 201 and response.headers["ETag"] == item["etag"]
    path = f"/api/v1/plan-items/{item['id']}"
    missing = await api.json("PATCH", path, json={"title": "x"}, expect=428)
    assert missing["code"] == "precondition_required"
    await api.json("DELETE", path, expect=428)

    # Two people read the item; the first change wins, the second is refused instead of overwriting it.
    changed = await api.call("PATCH", path, headers={"If-Match": item["etag"]}, json={"title": "Видео со склада"})
    assert changed.status == 200 and changed.headers["ETag"] == (await changed.json())["etag"] != item["etag"]
    stale = await api.json("PATCH", path, headers={"If-Match": item["etag"]}, json={"outcome": "нет видео"}, expect=412)
    assert stale["code"] == "stale_version"
    await api.json("DELETE", path, headers={"If-Match": item["etag"]}, expect=412)
    await api.json("PATCH", path, headers={"If-Match": '"p-never-issued"'}, json={"title": "y"}, expect=412)
    current = (await api.json("GET", url))["items"][0]
    assert current["title"] == "Видео со склада" and current["outcome"] is None

    # Concurrently with one ETag: exactly one wins (the row is locked while its tag is checked).
    async def patch(title: str) -> int:
        r = await api.call("PATCH", path, headers={"If-Match": current["etag"]}, json={"title": title})
        return r.status

    assert sorted(await asyncio.gather(patch("A"), patch("B"))) == [200, 412]
    latest = (await api.json("GET", url))["items"][0]
    await api.json("DELETE", path, headers={"If-Match": latest["etag"]}, expect=204)


@pytest.mark.parametrize("unique_id", [".", "..", "../../etc", "a\\b"])
async def test_attachment_ids_naming_a_directory_are_not_found(
    api: Api, emulator: BotApiEmulator, unique_id: str
) -> None:
    stored = emulator.world.files.add(
        b"<html><script>alert(1)</script>", "document", file_name="x.jpg", mime_type="image/jpeg"
    )
    claim_id = await _claim(api)
    async with api.sessions() as session:
        interaction, _ = await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="",
            claim_id=claim_id,
            attachments=[
                AttachmentIn(kind=AttachmentKind.DOCUMENT, tg_file_id=stored.file_id, tg_file_unique_id=unique_id),
                AttachmentIn(
                    kind=AttachmentKind.DOCUMENT,
                    tg_file_id=stored.file_id,
                    tg_file_unique_id=stored.file_unique_id,
                    mime_type="image/jpeg",
                ),
            ],
        )
        await session.commit()
        ids = {a.tg_file_unique_id: a.id for a in interaction.attachments}
        bad, good = ids[unique_id], ids[stored.file_unique_id]
    await api.json("GET", f"/api/v1/attachments/{bad}", expect=404)
    response = await api.call("GET", f"/api/v1/attachments/{good}")
    assert response.status == 200 and response.headers["X-Content-Type-Options"] == "nosniff"
