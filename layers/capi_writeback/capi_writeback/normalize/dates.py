"""Date of birth -> `YYYYMMDD` (CAPI-REFERENCE §3.1), from the formats people actually export.

Accepted: `1997-02-16`, `19970216`, `1997/2/16`, `2/16/1997` (month first for US or unknown country,
day first elsewhere; an unambiguous day > 12 wins either way), `16.02.1997`, `16 Feb 1997`,
`February 16, 1997`, ISO date-times and any of these followed by a time of day
(`12/31/1990 00:00`), two-digit years. Years must be 1900..this year.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")),
        start=1,
    )
    for name in names
}
_ISO_DATETIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[t ].*")
# A time of day after the date ("12/31/1990 00:00", "31.12.1990 23:59:59 +01:00", "... 12:00 am"):
# exports of date-time columns; the time is not part of a date of birth.
_TIME = re.compile(
    r"(?:t|,?\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?\s*(?:[ap]\.?m\.?)?"
    r"\s*(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?\Z"
)
_TOKENS = re.compile(r"[0-9]+|[^\W\d_]+")


@lru_cache(maxsize=32768)
def normalize_date_of_birth(value: str, country: str | None = None) -> str | None:
    """`'2/16/1997'` -> `'19970216'`; impossible or ambiguous-beyond-repair dates give None."""
    text = value.strip().lower()
    iso = _ISO_DATETIME.fullmatch(text)
    if iso:
        text = f"{iso[1]}-{iso[2]}-{iso[3]}"
    elif ":" in text:
        text = _TIME.sub("", text, count=1)
    tokens = _TOKENS.findall(text)
    month_first = country in (None, "us")
    if len(tokens) == 1 and _number(tokens[0]) and len(tokens[0]) == 8:
        t = tokens[0]
        candidates = [(t[:4], t[4:6], t[6:])]
        candidates += [(t[4:], t[:2], t[2:4]), (t[4:], t[2:4], t[:2])][:: 1 if month_first else -1]
        return _first_valid(candidates)
    if len(tokens) != 3:
        return None
    words = [t for t in tokens if not _number(t)]
    if words:
        if len(words) != 1 or words[0] not in _MONTHS:
            return None
        month = str(_MONTHS[words[0]])
        day, year = (t for t in tokens if _number(t))
        if len(day) == 4:  # "1997 feb 16"
            day, year = year, day
        return _first_valid([(year, month, day)])
    a, b, c = tokens
    if len(a) == 4:
        return _first_valid([(a, b, c)])
    if month_first:
        return _first_valid([(c, a, b), (c, b, a)])
    return _first_valid([(c, b, a), (c, a, b)])


def _number(token: str) -> bool:
    return token.isascii() and token.isdigit()


def _first_valid(candidates: list[tuple[str, str, str]]) -> str | None:
    today = dt.datetime.now(dt.UTC).date()
    this_year = today.year
    for year_text, month_text, day_text in candidates:
        if len(year_text) not in (2, 4) or len(month_text) > 2 or len(day_text) > 2:
            continue
        year = int(year_text)
        if len(year_text) == 2:
            year += 2000 if year <= this_year % 100 else 1900
        if not 1900 <= year <= this_year:
            continue
        try:
            date = dt.date(year, int(month_text), int(day_text))
        except ValueError:
            continue
        if date > today:  # nobody is born in the future
            continue
        return date.strftime("%Y%m%d")
    return None
