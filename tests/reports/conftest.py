from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from tests.reports.dataset import Dataset, build_dataset

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
async def dataset(db) -> Dataset:
    async with db() as session:
        data = await build_dataset(session)
        await session.commit()
    return data
