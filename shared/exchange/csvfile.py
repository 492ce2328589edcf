"""Reading a CSV file as people produce it: UTF-8 with or without a BOM or cp1251 (Excel on a
Russian Windows), `,` or `;`, quoted fields spanning lines; each record with the line it starts on."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of the file: the line where the record starts (the header is line 1), the
    column (None for the record as a whole), a stable code and its parameters (the reason's text is
    the `reports.import.error.<code>` message)."""

    line: int
    column: str | None
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def reason(self, translate: Any = None) -> str:
        if translate is None:
            from shared.i18n import get_translator

            translate = get_translator("en")
        return translate(f"reports.import.error.{self.code}", **self.params)

    def as_dict(self, translate: Any = None) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "code": self.code, "reason": self.reason(translate)}


class FileRejected(Exception):
    """The file cannot be read at all (encoding, header, broken quoting)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file")
        self.errors = errors


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in: a UTF-8 BOM wins, then strict UTF-8, then cp1251."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise FileRejected([RowError(1, None, "encoding")]) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251"), "cp1251"
    except UnicodeDecodeError:
        raise FileRejected([RowError(1, None, "encoding")]) from None


def detect_delimiter(text: str, known: Iterable[str]) -> str:
    """`,` or `;`: whichever splits the header into more of our column names (then more fields)."""
    known = set(known)
    header_line = text.split("\n", 1)[0]
    best, best_score = ",", (-1, -1)
    for delimiter in (",", ";"):
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        names = [f.strip().lower() for f in fields]
        score = (sum(1 for n in names if n in known), len(names))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its fields); blank lines are skipped.

    `csv` counts physical lines read so far (`line_num`), so a record starts one line after the
    previous record ended, however many newlines its quoted fields hold.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    ended = 0
    while True:
        start = ended + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected([RowError(start, None, "broken_quotes", {"detail": str(exc)})]) from None
        ended = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        yield start, fields
