"""Saved replies: list a language's texts, save a new one, change or retire one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.errors import InvalidValue, NotFound
from shared.replies.models import ReplyTemplate
from shared.settings import LANGUAGES

MAX_BODY = 4096  # one Telegram message


def _clean(language: str, title: str, body: str) -> tuple[str, str, str]:
    if language not in LANGUAGES:
        raise InvalidValue("language", f"must be one of {', '.join(LANGUAGES)}")
    title = (title or "").strip()
    body = (body or "").strip()
    if not title:
        raise InvalidValue("title", "must not be empty")
    if len(title) > 200:
        raise InvalidValue("title", "longer than 200 characters")
    if not body:
        raise InvalidValue("body", "must not be empty")
    if len(body) > MAX_BODY:
        raise InvalidValue("body", f"longer than {MAX_BODY} characters")
    return language, title, body


async def list_reply_templates(
    session: AsyncSession, *, language: str | None = None, include_inactive: bool = False
) -> Sequence[ReplyTemplate]:
    query = select(ReplyTemplate).order_by(ReplyTemplate.language, ReplyTemplate.title, ReplyTemplate.id)
    if language is not None:
        query = query.where(ReplyTemplate.language == language)
    if not include_inactive:
        query = query.where(ReplyTemplate.active.is_(True))
    return (await session.scalars(query)).all()


async def create_reply_template(
    session: AsyncSession, *, actor: Actor, language: str, title: str, body: str
) -> ReplyTemplate:
    language, title, body = _clean(language, title, body)
    row = ReplyTemplate(language=language, title=title, body=body, created_by_id=actor.id if actor.is_staff else None)
    session.add(row)
    await session.flush()
    return row


async def update_reply_template(
    session: AsyncSession,
    *,
    template_id: int,
    language: str,
    title: str,
    body: str,
    active: bool = True,
) -> ReplyTemplate:
    row = await session.get(ReplyTemplate, template_id)
    if row is None:
        raise NotFound("reply_template", template_id)
    row.language, row.title, row.body = _clean(language, title, body)
    row.active = active
    await session.flush()
    return row
