"""A refused form in words: the field-specific sentence of the admin pages' catalog
(`web.admin.refused.<code>.<field>`, e.g. "A department named “Склад” already exists."), else the
general sentence every page uses (backoffice/web/errors.py)."""

from __future__ import annotations

from typing import Any

from backoffice.web.errors import error_text
from shared.errors import DomainError
from shared.i18n import Translator


def refusal_text(t: Translator, exc: DomainError, **params: Any) -> str:
    field = exc.details.get("field")
    key = f"web.admin.refused.{exc.code}.{field}"
    if field and t.has(key):
        return t(key, **params)
    return error_text(t, exc)


def refusal_status(exc: DomainError) -> int:
    return {"not_found": 404, "conflict": 409, "forbidden": 403}.get(exc.code, 422)
