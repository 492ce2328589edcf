"""What the bot keeps between updates: seen update ids and the customers' conversation state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class ProcessedUpdate(Base):
    """An update id recorded in the transaction that handled it: a redelivery is recognised and
    skipped, and an update whose transaction failed is handled again."""

    __tablename__ = "bot_processed_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FsmRecord(Base):
    """aiogram FSM storage in PostgreSQL, so a customer mid-wizard survives a restart."""

    __tablename__ = "bot_fsm_record"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AppMeta(Base):
    """Small key/value facts about this installation (e.g. that the demo data set was loaded)."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
