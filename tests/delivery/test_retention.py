"""ATTACHMENT_RETENTION_DAYS: the worker's sweep deletes the files of claims closed longer ago than
that (from the disk cache, their Telegram ids cleared) and keeps each attachment's row, noted as
expired; unset, files are kept forever."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.clock import utcnow
from shared.enums import AttachmentKind, Direction, InteractionChannel
from shared.interactions.models import Attachment, Interaction
from shared.interactions.service import AttachmentIn, log_interaction
from shared.notifications.sweeper import sweep_once
from shared.settings import get_settings
from tests.factories import make_claim, make_staff


@pytest.fixture
def retention(monkeypatch):
    def set_days(days: int | None) -> None:
        if days is None:
            monkeypatch.delenv("ATTACHMENT_RETENTION_DAYS", raising=False)
        else:
            monkeypatch.setenv("ATTACHMENT_RETENTION_DAYS", str(days))
        get_settings.cache_clear()

    yield set_days
    monkeypatch.delenv("ATTACHMENT_RETENTION_DAYS", raising=False)
    get_settings.cache_clear()


async def _claim_with_file(session, staff: Actor, files: Path, name: str, *, closed_days_ago: int | None) -> Claim:
    claim = await make_claim(session)
    (files / name).write_bytes(b"photo of the damage")
    await log_interaction(
        session,
        actor=Actor.customer(claim.customer_id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text="фото",
        claim_id=claim.id,
        attachments=(
            AttachmentIn(
                kind=AttachmentKind.PHOTO,
                tg_file_id=f"file-{name}",
                tg_file_unique_id=f"u-{name}",
                file_name=f"{name}.jpg",
                storage_path=name,
            ),
        ),
    )
    if closed_days_ago is not None:
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
        await transition(session, claim_id=claim.id, to="resolved", actor=staff, result="rejected", resolution="Нет")
        await transition(session, claim_id=claim.id, to="closed", actor=staff)
        await session.execute(
            update(Claim)
            .where(Claim.id == claim.id)
            .values(closed_at=utcnow() - timedelta(days=closed_days_ago))
            .execution_options(synchronize_session=False)
        )
    return claim


async def test_files_of_claims_closed_past_the_retention_are_deleted(db, tmp_path: Path, retention) -> None:
    async with db() as session:
        staff = Actor.staff((await make_staff(session)).id)
        old = await _claim_with_file(session, staff, tmp_path, "old", closed_days_ago=40)
        recent = await _claim_with_file(session, staff, tmp_path, "recent", closed_days_ago=10)
        still_open = await _claim_with_file(session, staff, tmp_path, "open", closed_days_ago=None)
        await session.commit()

    retention(None)  # unset: kept forever
    assert (await sweep_once(db, files_root=tmp_path)).attachments_expired == 0
    assert (tmp_path / "old").exists()

    retention(30)
    result = await sweep_once(db, files_root=tmp_path)
    assert result.attachments_expired == 1
    assert not (tmp_path / "old").exists() and (tmp_path / "recent").exists() and (tmp_path / "open").exists()
    async with db() as session:
        rows = {
            claim_id: attachment
            for attachment, claim_id in (
                await session.execute(
                    select(Attachment, Interaction.claim_id).join(
                        Interaction, Interaction.id == Attachment.interaction_id
                    )
                )
            ).all()
        }
    expired = rows[old.id]
    assert (expired.removed_reason, expired.tg_file_id, expired.tg_file_unique_id, expired.storage_path) == (
        "expired",
        None,
        None,
        None,
    )
    assert expired.removed_at is not None and expired.file_name == "old.jpg" and expired.kind == "photo"
    for kept in (rows[recent.id], rows[still_open.id]):
        assert kept.removed_at is None and kept.tg_file_id is not None and kept.storage_path is not None
    assert (await sweep_once(db, files_root=tmp_path)).attachments_expired == 0  # once
