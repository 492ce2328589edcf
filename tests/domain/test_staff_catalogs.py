"""The texts of staff linking, personal alerts and the profile page exist in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from shared.i18n import LOCALES_DIR


def _keys(language: str, domain: str) -> set[str]:
    with Path(LOCALES_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return {str(m.id) for m in read_po(handle) if m.id and m.string}


@pytest.mark.parametrize("domain", ["staff", "webprofile"])
def test_ru_and_en_have_the_same_keys(domain: str) -> None:
    assert _keys("ru", domain) == _keys("en", domain)
    assert len(_keys("en", domain)) > 5
