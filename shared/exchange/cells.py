"""Customer text in spreadsheets without formula injection (CSV injection, OWASP).

A cell whose text starts with `= + - @ TAB CR` is taken for a formula by Excel, LibreOffice and
Google Sheets (`=HYPERLINK(...)` phishing, `=cmd|...` DDE). So:

* XLSX: such text is written as an explicit string cell (`data_type = "s"`): the value is kept
  exactly and no spreadsheet evaluates it;
* CSV has no cell types: such text gets one leading `'` (what spreadsheets show as a text marker).
  To keep export -> import byte for byte, the `'` goes before any run of `'` that precedes a
  trigger character (`'=x` is exported as `''=x`), and the import takes exactly one `'` off text
  that is one or more `'` followed by a trigger (`csv_unprotect`), so the two are inverse.

Only text columns are protected: numbers, amounts, dates and phone numbers are left as they are.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell import WriteOnlyCell

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _guarded(text: str) -> bool:
    """True when the text, after any leading `'`, starts with a trigger character."""
    return text.lstrip("'").startswith(FORMULA_TRIGGERS)


def csv_protect(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, with one `'` in front; anything else as is."""
    if isinstance(value, str) and _guarded(value):
        return "'" + value
    return value


def csv_unprotect(text: str) -> str:
    """The inverse of `csv_protect` for text read back from a CSV file."""
    if text.startswith("'") and _guarded(text):
        return text[1:]
    return text


def xlsx_value(sheet: Any, value: Any) -> Any:
    """The value to append to a sheet: text starting with a trigger becomes an explicit string cell
    (openpyxl would otherwise store `=...` as a formula); other values go as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
