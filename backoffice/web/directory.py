"""Names instead of ids: the catalogs and the staff, read once per page (small tables)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import list_entries
from shared.staff.service import list_users


@dataclass(frozen=True, slots=True)
class Directory:
    reasons: dict[int, Any]
    departments: dict[int, Any]
    employees: dict[int, Any]
    staff: dict[int, Any]

    def name(self, kind: str, ident: int | None) -> str:
        if ident is None:
            return ""
        row = getattr(self, kind).get(ident)
        if row is None:
            return f"#{ident}"
        return getattr(row, "full_name", None) or getattr(row, "login", None) or row.name

    def active(self, kind: str, keep: int | None = None) -> list[Any]:
        """The entries to offer in a select: the active ones, and the one already chosen."""
        rows = getattr(self, kind).values()
        return [r for r in rows if r.active or r.id == keep]


async def load_directory(session: AsyncSession) -> Directory:
    reasons = await list_entries(session, Reason)
    departments = await list_entries(session, Department)
    employees = await list_entries(session, Employee)
    staff = sorted(await list_users(session), key=lambda u: (u.full_name or u.login).lower())
    return Directory(
        reasons={r.id: r for r in reasons},
        departments={d.id: d for d in departments},
        employees={e.id: e for e in employees},
        staff={u.id: u for u in staff},
    )
