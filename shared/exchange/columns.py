"""The columns of the claims CSV, shared by the import and the export (an export imports again)."""

from __future__ import annotations

COLUMNS: tuple[str, ...] = (
    "number",
    "registered_at",
    "customer_name",
    "customer_phone",
    "customer_telegram_id",
    "channel",
    "subject",
    "description",
    "requirement",
    "reason",
    "culprit_department",
    "culprit_employee",
    "responsible",
    "status",
    "result",
    "resolution",
    "resolved_at",
    "closed_at",
    "amount_claimed",
    "amount_granted",
)
# Columns a file may leave out of its header altogether; every other column must be there
# (its values may still be empty where the rules allow).
OPTIONAL_COLUMNS: frozenset[str] = frozenset({"number", "customer_telegram_id"})
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)
# Free text (customers', staff's or catalog names): protected against formula injection on export
# (`shared.exchange.cells`) and unprotected on import. Codes, numbers, phones, amounts and timestamps
# are not text in this sense and are left as they are.
TEXT_COLUMNS: frozenset[str] = frozenset(
    {
        "number",
        "customer_name",
        "subject",
        "description",
        "requirement",
        "reason",
        "culprit_department",
        "culprit_employee",
        "responsible",
        "resolution",
    }
)
