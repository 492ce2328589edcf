"""One word for one thing: what a customer files is an "обращение" (ru) and a "claim" (en) in
every text a customer reads: the bot's (bot.*) and the messages the desk sends them (delivery.*,
but for the staff chat's delivery.staff.*). "Претензия" stays the staff side's word (1C's)."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from shared.i18n import LOCALES_DIR

# The other two words for the same thing, in every form (жалоба, жалобу, претензии, complaints...).
OTHER_WORDS = {
    "ru": re.compile(r"жалоб|претенз", re.IGNORECASE),
    "en": re.compile(r"complaint|grievance|\bcase\b|\bticket", re.IGNORECASE),
}
OUR_WORD = {"ru": re.compile(r"обращени", re.IGNORECASE), "en": re.compile(r"\bclaims?\b", re.IGNORECASE)}


def customer_texts(language: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for domain in ("bot", "delivery"):
        with (LOCALES_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
            for message in read_po(handle, locale=language):
                key = str(message.id)
                if key and not key.startswith("delivery.staff.") and message.string:
                    texts[key] = str(message.string)
    return texts


@pytest.mark.parametrize("language", ["ru", "en"])
def test_customer_texts_use_one_word_for_a_claim(language: str) -> None:
    texts = customer_texts(language)
    assert len(texts) > 100  # the catalogs were read
    offending = {key: text for key, text in texts.items() if OTHER_WORDS[language].search(text)}
    assert offending == {}
    # The word chosen is the one used: the menu, the wizard's end and the desk's news say it.
    for key in ("bot.menu.new", "bot.intake.registered", "delivery.taken", "delivery.staff_reply"):
        assert OUR_WORD[language].search(texts[key]), key


def test_the_check_sees_the_other_words() -> None:
    """The patterns catch the forms the catalogs used before (a check that cannot fail is none)."""
    assert OTHER_WORDS["ru"].search("Подать жалобу") and OTHER_WORDS["ru"].search("Претензия закрыта")
    assert OTHER_WORDS["en"].search("Your complaint is registered")
    assert not OTHER_WORDS["ru"].search("Обращение зарегистрировано")
