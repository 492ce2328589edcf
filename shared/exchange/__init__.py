"""Claims in and out as files: CSV import (checked whole, written with COPY) and CSV/XLSX export
in the same columns."""

from shared.exchange.columns import COLUMNS
from shared.exchange.csvfile import RowError
from shared.exchange.exporter import export_csv, export_csv_chunks, export_xlsx
from shared.exchange.importer import ImportRejected, ImportSummary, import_claims

__all__ = [
    "COLUMNS",
    "ImportRejected",
    "ImportSummary",
    "RowError",
    "export_csv",
    "export_csv_chunks",
    "export_xlsx",
    "import_claims",
]
