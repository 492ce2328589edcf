"""The starter set of a fresh desk: once, in the desk's language, audited; never over own entries."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from shared.actors import Actor
from shared.audit.models import DeskEvent
from shared.catalogs.models import Department, Reason
from shared.catalogs.service import create_entry, update_entry
from shared.catalogs.starter import DEPARTMENTS, REASONS, add_starter_set, catalogs_empty
from shared.errors import Conflict
from shared.i18n import get_translator
from tests.factories import make_staff


async def test_the_starter_set_fills_empty_catalogs_once(db) -> None:
    async with db() as session:
        staff = await make_staff(session)
        assert await catalogs_empty(session)
        chosen = await add_starter_set(session, actor=Actor.staff(staff.id), language="ru")
        await session.commit()
    assert chosen.departments[0] == "Доставка" and len(chosen.reasons) == len(REASONS)
    async with db() as session:
        assert sorted(await session.scalars(select(Department.name))) == sorted(chosen.departments)
        assert sorted(await session.scalars(select(Reason.name))) == sorted(chosen.reasons)
        (event,) = (await session.scalars(select(DeskEvent))).all()
        assert (event.kind, event.actor_staff_id, event.details["language"]) == ("starter_set_added", staff.id, "ru")
        with pytest.raises(Conflict):
            await add_starter_set(session, actor=Actor.staff(staff.id), language="ru")
        # Deactivated entries still count: the set never comes back over a desk's own history.
        for department in await session.scalars(select(Department)):
            await update_entry(session, Department, department.id, {"active": False})
        assert not await catalogs_empty(session)


async def test_english_names_and_not_over_a_desks_own_entries(db) -> None:
    en = get_translator("en")
    async with db() as session:
        await create_entry(session, Reason, name="Опоздание курьера")
        with pytest.raises(Conflict):
            await add_starter_set(session, actor=Actor.system(), language="en")
        await session.rollback()
    async with db() as session:
        chosen = await add_starter_set(session, actor=Actor.system(), language="en")
        await session.commit()
    assert chosen.departments == [en(f"starter.department.{k}") for k in DEPARTMENTS]
    assert "Late delivery" in chosen.reasons and all(not name.startswith("starter.") for name in chosen.reasons)


async def test_two_at_once_create_it_once(db) -> None:
    async def press() -> bool:
        async with db() as session:
            try:
                await add_starter_set(session, actor=Actor.system(), language="ru")
            except Conflict:
                return False
            await session.commit()
            return True

    results = await asyncio.gather(press(), press())
    assert sorted(results) == [False, True]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Department)) == len(DEPARTMENTS)
