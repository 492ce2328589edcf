"""Departments, employees and reasons: create, rename, deactivate. Nothing referenced is deleted;
deactivating hides an entry from new choices and keeps history intact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.catalogs.models import Department, Employee, Reason
from shared.errors import Conflict, InvalidValue, NotFound

CatalogModel = TypeVar("CatalogModel", Department, Employee, Reason)

FIELDS: dict[type, tuple[str, ...]] = {
    Department: ("name", "active"),
    Employee: ("name", "department_id", "position", "active"),
    Reason: ("name", "parent_id", "active"),
}


def _name(value: Any) -> str:
    name = (value or "").strip() if isinstance(value, str | None) else None
    if not name:
        raise InvalidValue("name", "must not be empty", key="api.problem.value.empty")
    if len(name) > 200:
        raise InvalidValue("name", "longer than 200 characters", key="api.problem.value.too_long", limit=200)
    return name


async def _check(session: AsyncSession, model: type, values: Mapping[str, Any], own_id: int | None) -> None:
    if "name" in values and model in (Department, Reason):
        clash = await session.scalar(select(model.id).where(model.name == values["name"]))
        if clash is not None and clash != own_id:
            raise Conflict(
                f"a {model.__tablename__} named '{values['name']}' exists",
                field="name",
                key="api.problem.catalog.name_taken",
                name=values["name"],
            )
    if values.get("department_id") is not None and await session.get(Department, values["department_id"]) is None:
        raise InvalidValue(
            "department_id",
            f"no department with id {values['department_id']}",
            key="api.problem.value.no_such",
            id=values["department_id"],
        )
    if values.get("parent_id") is not None:
        if values["parent_id"] == own_id:
            raise InvalidValue("parent_id", "a reason cannot be its own group", key="api.problem.catalog.own_group")
        if await session.get(Reason, values["parent_id"]) is None:
            raise InvalidValue(
                "parent_id",
                f"no reason with id {values['parent_id']}",
                key="api.problem.value.no_such",
                id=values["parent_id"],
            )


def _clean(model: type, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(FIELDS[model]))
    if unknown:
        raise InvalidValue(unknown[0], "unknown field", key="api.problem.value.not_editable")
    clean = dict(values)
    if "name" in clean:
        clean["name"] = _name(clean["name"])
    return clean


async def create_entry(session: AsyncSession, model: type[CatalogModel], **values: Any) -> CatalogModel:
    clean = _clean(model, values)
    if "name" not in clean:
        raise InvalidValue("name", "is required", key="api.problem.value.empty")
    await _check(session, model, clean, None)
    entry = model(**clean)
    session.add(entry)
    await session.flush()
    return entry


async def get_entry(session: AsyncSession, model: type[CatalogModel], entry_id: int) -> CatalogModel:
    entry = await session.get(model, entry_id)
    if entry is None:
        raise NotFound(model.__tablename__, entry_id)
    return entry


async def update_entry(
    session: AsyncSession, model: type[CatalogModel], entry_id: int, changes: Mapping[str, Any]
) -> CatalogModel:
    clean = _clean(model, changes)
    entry = await get_entry(session, model, entry_id)
    await _check(session, model, clean, entry_id)
    for field, value in clean.items():
        setattr(entry, field, value)
    await session.flush()
    return entry


async def list_entries(
    session: AsyncSession, model: type[CatalogModel], *, include_inactive: bool = True
) -> Sequence[CatalogModel]:
    query = select(model).order_by(model.name, model.id)
    if not include_inactive:
        query = query.where(model.active.is_(True))
    return (await session.scalars(query)).all()


async def ensure_by_name(
    session: AsyncSession, model: type[CatalogModel], name: str, **extra: Any
) -> tuple[CatalogModel, bool]:
    """The entry with this name, created when missing (imports and demo data name, not number)."""
    clean = _name(name)
    query = select(model).where(model.name == clean)
    if model is Employee and extra.get("department_id") is not None:
        query = query.where(Employee.department_id == extra["department_id"])
    found = await session.scalar(query.order_by(model.id).limit(1))
    if found is not None:
        return found, False
    return await create_entry(session, model, name=clean, **extra), True
