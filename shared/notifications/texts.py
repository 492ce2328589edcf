"""Rendering helpers shared by the flows and the delivery worker (no aiogram here)."""

from __future__ import annotations

import html
import re

from shared.formatting import Formats
from shared.i18n import Translator
from shared.settings import Settings, get_settings

_TAGS = re.compile(r"<[^>]*>")


def esc(value: object) -> str:
    """Anything a person typed, made safe for parse_mode=HTML."""
    return html.escape(str(value), quote=False)


def html_to_plain(text: str) -> str:
    return html.unescape(_TAGS.sub("", text))


def formats(t: Translator) -> Formats:
    """Money and dates in the reader's language (the translator's) and the desk's TIMEZONE."""
    return Formats(t.language, get_settings().tz)


def backoffice_url(settings: Settings) -> str:
    if settings.backoffice_public_url:
        return settings.backoffice_public_url
    return f"http://{settings.backoffice_host}:{settings.backoffice_port}"


def claim_link(settings: Settings, claim_id: int) -> str:
    """The claim's card in the staff web UI (after sign-in), at BACKOFFICE_PUBLIC_URL when set."""
    return f"{backoffice_url(settings)}/claims/{claim_id}"
