"""Translation catalogs (gettext .po files read with Babel) for the bot and the web pages alike.

Messages are keyed (`status.new`, `bot.start.greeting`) and every language has a full catalog,
so no user-facing text lives in code. Each part of the program keeps its own domain file
(`core.po`, `bot.po`, `backoffice.po`, ...) under `locales/<lang>/LC_MESSAGES/`; all domains of a
language are merged into one `Translator`, so keys carry their domain as a prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED = ("ru", "en")
FALLBACK = "en"


class Translator:
    def __init__(self, language: str, messages: Mapping[str, str], fallback: Translator | None = None) -> None:
        self.language = language
        self._messages = dict(messages)
        self._fallback = fallback

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.gettext(key, **params)

    def gettext(self, key: str, /, **params: Any) -> str:
        template = self._messages.get(key)
        if template is None:
            template = self._fallback.gettext(key) if self._fallback is not None else key
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._messages

    def keys(self) -> set[str]:
        return set(self._messages)


def _read_language(language: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                messages[str(message.id)] = str(message.string)
    return messages


@cache
def get_translator(language: str | None) -> Translator:
    lang = normalize_language(language)
    fallback = None if lang == FALLBACK else get_translator(FALLBACK)
    return Translator(lang, _read_language(lang), fallback)


def normalize_language(language: str | None, default: str = "ru") -> str:
    """`ru-RU`, `ru`, `uk` -> a language we speak; Telegram's language_code is a BCP 47 tag."""
    if not language:
        return default if default in SUPPORTED else FALLBACK
    base = language.split("-")[0].split("_")[0].lower()
    if base in SUPPORTED:
        return base
    # Speakers of the neighbouring languages read Russian more often than English.
    if base in ("uk", "be", "kk", "ky", "uz", "tg", "hy", "az", "ka"):
        return "ru"
    return FALLBACK
