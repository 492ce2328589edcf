"""Readable claim numbers (`2026-000042`), one sequence per year of the organisation's calendar."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The upsert takes the year's row lock until the caller's transaction ends: concurrent
# registrations queue here, and a rollback returns the number, so there are no gaps.
_NEXT = text(
    """
    INSERT INTO claim_number_counter (year, last_value) VALUES (:year, 1)
    ON CONFLICT (year) DO UPDATE SET last_value = claim_number_counter.last_value + 1
    RETURNING last_value
    """
)


def format_number(year: int, value: int) -> str:
    return f"{year}-{value:06d}"


async def next_claim_number(session: AsyncSession, *, year: int) -> str:
    value = (await session.execute(_NEXT, {"year": year})).scalar_one()
    return format_number(year, value)


async def reserve_claim_number(session: AsyncSession, *, number: str) -> None:
    """Keep the counter ahead of a number given from outside (an import carrying its own numbers)."""
    year_part, _, seq_part = number.partition("-")
    if not (year_part.isdigit() and seq_part.isdigit()):
        return
    await session.execute(
        text(
            """
            INSERT INTO claim_number_counter (year, last_value) VALUES (:year, :value)
            ON CONFLICT (year) DO UPDATE
            SET last_value = GREATEST(claim_number_counter.last_value, EXCLUDED.last_value)
            """
        ),
        {"year": int(year_part), "value": int(seq_part)},
    )
