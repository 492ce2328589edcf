"""The starter set: common departments and claim reasons a fresh desk can take with one click, so
staff can triage from the first claim. Offered while the catalogs are empty, created once, in the
desk's language (DEFAULT_LANGUAGE; the names live in the `starter.*` catalog keys, ru and en),
audited as one desk event. Staff rename, deactivate or add entries afterwards as usual.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_desk_event
from shared.catalogs.models import Department, Reason
from shared.catalogs.service import create_entry
from shared.errors import Conflict
from shared.i18n import get_translator

# The keys of the names (starter.department.<key>, starter.reason.<key>), in the order shown.
DEPARTMENTS: tuple[str, ...] = ("delivery", "warehouse", "sales", "support", "service", "accounting")
REASONS: tuple[str, ...] = (
    "late_delivery",
    "damaged",
    "defective",
    "wrong_item",
    "price_or_payment",
    "refund_delayed",
    "warranty",
    "staff_behaviour",
    "other",
)
# Serialises two managers pressing the button at once: the second then finds the catalogs filled.
_LOCK_KEY = "claimdesk.catalogs.starter_set"


@dataclass(frozen=True, slots=True)
class StarterSet:
    departments: list[str]
    reasons: list[str]


def starter_set(language: str) -> StarterSet:
    t = get_translator(language)
    return StarterSet(
        departments=[t(f"starter.department.{key}") for key in DEPARTMENTS],
        reasons=[t(f"starter.reason.{key}") for key in REASONS],
    )


async def catalogs_empty(session: AsyncSession) -> bool:
    """No department and no reason at all, active or not: the starter set is on offer."""
    return not await session.scalar(select(exists(select(Department.id)) | exists(select(Reason.id))))


async def add_starter_set(session: AsyncSession, *, actor: Actor, language: str) -> StarterSet:
    """Create the starter departments and reasons in `language`; refused (Conflict) once either
    catalog holds anything, so it happens once and never mixes with a desk's own entries."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_KEY))))
    if not await catalogs_empty(session):
        raise Conflict("the catalogs are not empty: the starter set is only for a fresh desk", field="starter_set")
    chosen = starter_set(language)
    for name in chosen.departments:
        await create_entry(session, Department, name=name)
    for name in chosen.reasons:
        await create_entry(session, Reason, name=name)
    await log_desk_event(
        session,
        actor=actor,
        kind="starter_set_added",
        details={"language": language, "departments": chosen.departments, "reasons": chosen.reasons},
    )
    return chosen
