"""How people are shown numbers, money, dates and times: Babel, in the reader's language and the
desk's time zone (TIMEZONE). The staff pages get one `Formats` per request as `fmt`; the bot and
the messages the desk sends customers make one for the customer's language (`3 490,00 ₽`,
`28 ноября, 14:05`)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_date_format,
    get_datetime_format,
    get_time_format,
)
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

# Babel writes an alphabetic currency code right against the digits in English ("RUB3,490.00");
# CLDR's currency spacing asks for a space there.
_CODE_THEN_DIGIT = re.compile(r"^([A-Z]{3})(?=[\d-])")


@functools.cache
def _locale(language: str) -> Locale:
    """The parsed locale, once per language: Babel parses a locale given by name on every call, which
    was half the cost of a date in a 50-row table."""
    return Locale.parse(language)


@functools.cache
def _short_datetime_pattern(language: str) -> str:
    """The locale's "short" date and time as one pattern (`dd.MM.y HH:mm` in Russian), resolved once:
    Babel resolves a named format on every call."""
    locale = _locale(language)
    combined = str(get_datetime_format("short", locale=locale))
    date_part, time_part = str(get_date_format("short", locale=locale)), str(get_time_format("short", locale=locale))
    return combined.replace("{1}", date_part).replace("{0}", time_part).replace(",", "")


# Claims lists cap their totals (shared.claims.queries): beyond it the count is shown as "10 000+".
TOTAL_CAP = 10_000


@dataclass(frozen=True, slots=True)
class Formats:
    language: str
    tz: ZoneInfo

    def number(self, value: int | float | Decimal | None) -> str:
        return "" if value is None else format_decimal(value, locale=_locale(self.language))

    def total(self, value: int, exact: bool = True) -> str:
        """A list's total: "10 000+" when the count stopped at the cap."""
        return self.number(value) if exact else self.number(max(value, TOTAL_CAP)) + "+"

    def fixed(self, value: int | float | Decimal | None, digits: int = 1) -> str:
        """A measure with a fixed number of decimals (hours, averages): `1 234,5` / `1,234.5`."""
        if value is None:
            return ""
        return format_decimal(value, format="#,##0." + "0" * digits, locale=_locale(self.language))

    def percent(self, points: int | float | Decimal | None) -> str:
        """A share given in percent points, one decimal, the locale's sign: `12,3 %` / `12.3%`."""
        if points is None:
            return ""
        pattern = _locale(self.language).percent_formats[None].pattern.replace("#,##0", "#,##0.0", 1)
        return format_percent(Decimal(str(points)) / 100, format=pattern, locale=_locale(self.language))

    def size(self, size: int) -> str:
        """A file's size: `13 B`, `4,2 kB`, `1,5 MB` (Babel's units, in the reader's language)."""
        if size < 1024:
            return format_unit(size, "digital-byte", "short", locale=_locale(self.language))
        if size < 1024 * 1024:
            return format_unit(round(size / 1024, 1), "digital-kilobyte", "short", locale=_locale(self.language))
        return format_unit(round(size / 1024 / 1024, 1), "digital-megabyte", "short", locale=_locale(self.language))

    def money(self, amount: Decimal | int | None, currency: str) -> str:
        if amount is None:
            return ""
        text = format_currency(amount, currency, locale=_locale(self.language))
        return _CODE_THEN_DIGIT.sub("\\1\u00a0", text)

    def amount(self, amount: Decimal | None) -> str:
        """An amount for an input field: plain digits and a dot, as the form sends it back."""
        return "" if amount is None else f"{amount:.2f}"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def datetime(self, moment: datetime | None) -> str:
        """`6 дек. 2026, 14:05` / `Dec 6, 2026, 14:05`, in TIMEZONE."""
        if moment is None:
            return ""
        return format_datetime(moment, "d MMM y, HH:mm", tzinfo=self.tz, locale=_locale(self.language))

    def day_time(self, moment: datetime | None) -> str:
        """What a customer reads: `28 ноября, 14:05` / `November 28, 14:05`, in TIMEZONE; the year
        only when it is not this one."""
        if moment is None:
            return ""
        local = moment.astimezone(self.tz)
        return f"{self.day(local)}, {format_time(local, 'HH:mm', locale=_locale(self.language))}"

    def day(self, moment: date | datetime | None) -> str:
        """`28 ноября` / `November 28` (in TIMEZONE), with the year when it is not this one."""
        if moment is None:
            return ""
        day = moment.astimezone(self.tz).date() if isinstance(moment, datetime) else moment
        this_year = datetime.now(self.tz).year
        skeleton = "MMMMd" if day.year == this_year else "yMMMMd"
        return format_skeleton(skeleton, day, locale=_locale(self.language))

    def short(self, moment: datetime | None) -> str:
        """`06.12.2026 14:05`-like, for dense tables."""
        if moment is None:
            return ""
        return format_datetime(
            moment, _short_datetime_pattern(self.language), tzinfo=self.tz, locale=_locale(self.language)
        )

    def time(self, moment: datetime | None) -> str:
        return "" if moment is None else format_time(moment, "HH:mm", tzinfo=self.tz, locale=_locale(self.language))

    def date(self, day: date | datetime | None) -> str:
        if day is None:
            return ""
        if isinstance(day, datetime):
            day = day.astimezone(self.tz).date()
        return format_date(day, "d MMM y", locale=_locale(self.language))

    def month(self, day: date | None) -> str:
        """A month as a report's period: `январь 2026` / `January 2026`."""
        return "" if day is None else format_date(day, "LLLL y", locale=_locale(self.language))

    def iso_date(self, day: date | datetime | None) -> str:
        """A date for `<input type=date>` (in TIMEZONE)."""
        if day is None:
            return ""
        if isinstance(day, datetime):
            day = day.astimezone(self.tz).date()
        return day.isoformat()

    def iso_local(self, moment: datetime | None) -> str:
        """A moment for `<input type=datetime-local>` (in TIMEZONE, minutes)."""
        return "" if moment is None else moment.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M")


# An amount as people type it: "3490", "3 490,50", "3490.50 ₽", "RUB 3,490.00" (a comma or a dot
# before the kopecks; spaces, or a comma before three digits, between thousands).
_AMOUNT = re.compile(r"^\d{1,3}(?:[ \u00a0\u202f,]\d{3})*(?:[.,]\d{1,2})?$|^\d+(?:[.,]\d{1,2})?$")
_CURRENCY_WORDS = re.compile(r"(?i)руб(?:лей|ля|ль)?\.?|р\.|₽|rub|rubles?|\$|€|usd|eur")
# What Claim.amount_claimed holds (Numeric(14, 2)).
AMOUNT_MAX = Decimal("999999999999.99")


def parse_amount(text: str) -> Decimal | None:
    """The amount a customer typed, or None when it is not one (or not above zero, or too large)."""
    bare = _CURRENCY_WORDS.sub("", text).strip()
    if not _AMOUNT.match(bare):
        return None
    digits = bare.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if "," in digits and "." in digits:
        digits = digits.replace(",", "")  # "3,490.50": the comma groups thousands
    elif re.search(r",\d{3}$", digits):
        digits = digits.replace(",", "")  # "3,490": thousands, not kopecks
    value = Decimal(digits.replace(",", "."))
    if value <= 0 or value > AMOUNT_MAX:
        return None
    return value.quantize(Decimal("0.01"))
