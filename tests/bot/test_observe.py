"""Every line logged while an update is handled carries its id (the errors handler's too), and the
bot counts the updates it handled by kind and outcome."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.i18n import get_translator
from shared.logs import log_handler
from tests.bot.conftest import running_bot
from tests.bot.test_robustness import FAILING

GROUP = {"id": -100555, "type": "group", "title": "Friends"}


def updates(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("claimdesk_bot_updates_total", {"kind": kind, "outcome": outcome}) or 0.0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = log_handler("json", out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_update_ids_on_log_lines_and_updates_counted_by_kind(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], json_log: io.StringIO, webhook: bool
) -> None:
    t = get_translator("en")
    user = emu.user(7401 + webhook, first_name="Lena", language_code="en")
    kinds = [("message", "handled"), ("message", "failed"), ("callback_query", "handled")]
    before = {key: updates(*key) for key in kinds}
    async with running_bot(emu, db, webhook=webhook, routers=FAILING):
        await user.send_text("/start")
        (greeting,) = await user.wait_for_messages()
        await user.press(greeting, text=t("bot.menu.help"))
        await user.wait_for_messages()
        await user.send_text("/twin")  # a bug in a handler: logged by the errors handler, apologised
        failed_id = emu.world.next_update_id - 1
        await user.wait_for_messages()
        group_id = emu.world.next_update_id
        emu.world.push_update(
            "message", {"message_id": 1, "date": 0, "chat": GROUP, "from": user.profile, "text": "hi"}
        )
        await user.wait_for(lambda _: f"update {group_id} from a non-private chat" in json_log.getvalue(), 5)
    after = {key: updates(*key) - before[key] for key in kinds}
    assert after == {("message", "handled"): 2, ("message", "failed"): 1, ("callback_query", "handled"): 1}
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failed = [r for r in records if r["level"] == "ERROR"]
    assert len(failed) == 1 and failed[0]["update_id"] == failed_id and "IntegrityError" in failed[0]["exc_info"]
    ignored = [r for r in records if "from a non-private chat" in r["message"]]
    assert [r["update_id"] for r in ignored] == [group_id]  # logged inside the update's transaction
