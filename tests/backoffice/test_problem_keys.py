"""Every refusal a service names by a catalog key (`key="api.problem..."`) is in both catalogs,
and its placeholders are ones the refusal can fill: staff read it in their language (issue 15)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from shared.i18n import get_translator

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r'key="(api\.problem\.[a-z_.]+)"')
# What the edges fill a refusal's message with: the field, and the parameters services pass.
KNOWN_PARAMS = {"field", "limit", "choices", "id", "number", "name", "numbers", "current", "to", "allowed", "message"}


def keys_used() -> set[str]:
    return {key for path in (ROOT / "shared").rglob("*.py") for key in KEY.findall(path.read_text(encoding="utf-8"))}


def test_services_name_refusals_by_key() -> None:
    assert len(keys_used()) >= 25  # the claims, plans, catalogs and interactions services at least


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_refusal_key_is_in_the_catalog(language: str) -> None:
    t = get_translator(language)
    missing = sorted(key for key in keys_used() if not t.has(key))
    assert missing == []
    for key in keys_used():
        fields = {name for _, name, _, _ in string.Formatter().parse(t(key)) if name}
        assert fields <= KNOWN_PARAMS, (key, fields)
