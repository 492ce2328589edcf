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
# The columns a file's header must have; any other column may be left out altogether (as if
# every row left it empty). A claim needs its words: `subject` or `description`, at least one.
REQUIRED_COLUMNS: tuple[str, ...] = ("registered_at", "customer_name", "status")
ONE_OF_COLUMNS: tuple[str, ...] = ("subject", "description")
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
