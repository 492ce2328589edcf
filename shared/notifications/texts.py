"""Rendering helpers shared by the flows and the delivery worker (no aiogram here)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from decimal import Decimal

from shared.settings import Settings

_TAGS = re.compile(r"<[^>]*>")


def esc(value: object) -> str:
    """Anything a person typed, made safe for parse_mode=HTML."""
    return html.escape(str(value), quote=False)


def html_to_plain(text: str) -> str:
    return html.unescape(_TAGS.sub("", text))


def local_time(moment: datetime | None, settings: Settings) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(settings.tz).strftime("%d.%m.%Y %H:%M")


def money(amount: Decimal, currency: str) -> str:
    whole = f"{amount:,.2f}".replace(",", "\u00a0")
    return f"{whole} {currency}"


def backoffice_url(settings: Settings) -> str:
    if settings.backoffice_public_url:
        return settings.backoffice_public_url
    return f"http://{settings.backoffice_host}:{settings.backoffice_port}"


def claim_link(settings: Settings, claim_id: int) -> str:
    """The claim's card in the staff web UI (after sign-in), at BACKOFFICE_PUBLIC_URL when set."""
    return f"{backoffice_url(settings)}/claims/{claim_id}"
