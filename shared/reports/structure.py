"""Structure of claims registered in the range: by culprit department, by reason, by culprit
employee, and the department x reason cells, in one scan (GROUPING SETS)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.catalogs.models import Department, Employee
from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.reports.common import (
    RangeParams,
    ReportBody,
    filter_conditions,
    group_names,
    pct,
    prepare_report,
    range_conditions,
)


class StructureParams(RangeParams):
    pass


class DepartmentShare(BaseModel):
    department: str | None
    count: int
    share_pct: float


class ReasonShare(BaseModel):
    reason: str | None
    count: int
    share_pct: float


class EmployeeShare(BaseModel):
    """One culprit employee: two employees of the same name are told apart by their id and their
    department (the employee's own, from the catalog)."""

    employee_id: int | None
    employee: str | None
    department: str | None
    count: int
    share_pct: float


class Cell(BaseModel):
    department: str | None
    reason: str | None
    count: int


class StructureReport(ReportBody):
    total: int
    by_department: list[DepartmentShare]
    by_reason: list[ReasonShare]
    by_employee: list[EmployeeShare]
    cells: list[Cell]


# GROUPING(department, reason, employee): a bit is set for each column NOT in the grouping set.
_BY_DEPARTMENT, _BY_REASON, _BY_EMPLOYEE, _CELLS = 0b011, 0b101, 0b110, 0b001


def structure_query(params: StructureParams, filters: ClaimFilters | None, tz: ZoneInfo):
    dept, reason, emp = Claim.culprit_department_id, Claim.reason_id, Claim.culprit_employee_id
    return (
        select(dept, reason, emp, func.grouping(dept, reason, emp).label("g"), func.count())
        .where(
            and_(
                *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
                *filter_conditions(filters, tz),
            )
        )
        .group_by(func.grouping_sets(tuple_(dept), tuple_(reason), tuple_(emp), tuple_(dept, reason)))
    )


async def _employees(session: AsyncSession, ids: set[int]) -> dict[int, tuple[str, str | None]]:
    """Name and department of each employee behind the rows."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Employee.id, Employee.name, Department.name)
        .outerjoin(Department, Department.id == Employee.department_id)
        .where(Employee.id.in_(ids))
    )
    return {ident: (name, department) for ident, name, department in rows.all()}


def _order(name: str | None, count: int) -> tuple:
    return (-count, name is None, name or "")


async def structure_report(
    session: AsyncSession, *, params: StructureParams, tz: ZoneInfo, filters: ClaimFilters | None = None
) -> StructureReport:
    await prepare_report(session, sorts=True)
    result = (await session.execute(structure_query(params, filters, tz))).all()
    depts = await group_names(session, "department", {r[0] for r in result if r[0] is not None})
    reasons = await group_names(session, "reason", {r[1] for r in result if r[1] is not None})
    emps = await _employees(session, {r[2] for r in result if r[2] is not None})

    total = sum(r[4] for r in result if r[3] == _BY_DEPARTMENT)
    by_department, by_reason, by_employee, cells = [], [], [], []
    for dept_id, reason_id, emp_id, grouping, count in result:
        dept = depts.get(dept_id) if dept_id is not None else None
        reason = reasons.get(reason_id) if reason_id is not None else None
        if grouping == _BY_DEPARTMENT:
            by_department.append(DepartmentShare(department=dept, count=count, share_pct=pct(count, total)))
        elif grouping == _BY_REASON:
            by_reason.append(ReasonShare(reason=reason, count=count, share_pct=pct(count, total)))
        elif grouping == _BY_EMPLOYEE:
            name, department = emps.get(emp_id, (None, None)) if emp_id is not None else (None, None)
            by_employee.append(
                EmployeeShare(
                    employee_id=emp_id,
                    employee=name,
                    department=department,
                    count=count,
                    share_pct=pct(count, total),
                )
            )
        elif grouping == _CELLS:
            cells.append(Cell(department=dept, reason=reason, count=count))
    by_department.sort(key=lambda r: _order(r.department, r.count))
    by_reason.sort(key=lambda r: _order(r.reason, r.count))
    by_employee.sort(key=lambda r: (*_order(r.employee, r.count), r.department or "", r.employee_id or 0))
    cells.sort(key=lambda r: (-r.count, r.department is None, r.department or "", r.reason is None, r.reason or ""))
    return StructureReport(
        date_from=params.date_from,
        date_to=params.date_to,
        total=total,
        by_department=by_department,
        by_reason=by_reason,
        by_employee=by_employee,
        cells=cells,
    )
