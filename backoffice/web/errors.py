"""Domain refusals in words for the staff pages, from the web catalog (never a stack trace)."""

from __future__ import annotations

from shared.errors import Conflict, DomainError, InvalidValue, NotFound, StaleVersion, TransitionRefused
from shared.i18n import Translator


def field_label(t: Translator, field: str) -> str:
    key = f"web.field.{field}"
    return t(key) if t.has(key) else field


def error_text(t: Translator, exc: DomainError) -> str:
    if isinstance(exc, NotFound):
        return t("web.error.not_found")
    if isinstance(exc, StaleVersion):
        return t("web.error.stale")
    if isinstance(exc, TransitionRefused):
        return t("web.error.transition_refused")
    if isinstance(exc, InvalidValue):
        key = f"web.error.invalid.{exc.field}"
        return t(key) if t.has(key) else t("web.error.invalid", field=field_label(t, exc.field))
    if exc.code == "forbidden":
        field = exc.details.get("field")
        key = f"web.error.forbidden.{field}"
        return t(key) if field and t.has(key) else t("web.error.forbidden")
    if isinstance(exc, Conflict):
        field = exc.details.get("field")
        key = f"web.error.conflict.{field}"
        return t(key) if field and t.has(key) else t("web.error.conflict")
    return t("web.error.refused")
